"""Run scenarios: the raw capture and its checks, then each SDK, then one row per combination."""

from __future__ import annotations

import time

from . import node_runner, python_runner
from .answers import comparable_tool_calls, describe_tool_calls
from .config import SuiteConfig
from .expectations import check_outcome
from .jobs import build_job, fill
from .raw_capture import send_all
from .raw_checks import RawVerdict, check_exchange
from .results import FAILED, PASSED, SKIPPED, RowResult, SuiteReport
from .scenario import MODES, SDKS, Scenario
from .violations import Violation, evidence


class _Planned:
    """One scenario in one mode: its job, expectation and raw verdicts."""

    def __init__(self, scenario: Scenario, mode: str | None, config: SuiteConfig):
        self.scenario = scenario
        self.mode = mode
        self.job = build_job(scenario, mode or "non-stream", config)
        self.expect = scenario.expectation(mode or "non-stream", config.selection.capabilities)
        self.raw: list[RawVerdict] | None = None
        self.raw_violations: list[Violation] = []
        self.raw_seconds = 0.0


def plan(scenarios: list[Scenario], config: SuiteConfig) -> list[_Planned]:
    """Scenario × mode combinations to run; model endpoints run once with mode ``None``."""
    planned: list[_Planned] = []
    for scenario in scenarios:
        if scenario.operation != "chat":
            planned.append(_Planned(scenario, None, config))
            continue
        for mode in scenario.run_modes():
            if mode in config.modes:
                planned.append(_Planned(scenario, mode, config))
    return planned


def _capture(item: _Planned, config: SuiteConfig) -> None:
    scenario = item.scenario
    if not scenario.raw_capture:
        return
    started = time.monotonic()
    exchanges = send_all(item.job, timeout=config.timeout)
    item.raw_seconds = time.monotonic() - started
    item.raw = [
        check_exchange(
            exchange,
            operation=scenario.operation,
            stream=item.job["stream"],
            expect=fill(item.expect, {"i": str(index), "model": config.model}),
            include_usage=scenario.include_usage,
            schemas=config.schemas,
        )
        for index, exchange in enumerate(exchanges)
    ]
    for index, verdict in enumerate(item.raw):
        prefix = f"request #{index}: " if len(item.raw) > 1 else ""
        item.raw_violations += [v.with_prefix(prefix) if prefix else v for v in verdict.violations]


def _compare_modes(planned: list[_Planned]) -> None:
    """Deterministic scenarios: the joined deltas must equal the non-streamed answer (content,
    reasoning, and tool calls by name and parsed arguments, not by id)."""
    by_key = {(p.scenario.name, p.mode): p for p in planned}
    for item in planned:
        if item.mode != "stream" or not item.expect.get("deterministic"):
            continue
        other = by_key.get((item.scenario.name, "non-stream"))
        if not (item.raw and other and other.raw):
            continue
        streamed, whole = item.raw[0].answer, other.raw[0].answer
        if streamed is None or whole is None:
            continue
        for label, a, b in (
            ("content", streamed.content, whole.content),
            ("reasoning", streamed.reasoning, whole.reasoning),
        ):
            if (a or "") != (b or ""):
                message = f"the joined {label} deltas differ from the non-streamed answer"
                shown = f"stream: {evidence(a or '')}\nnon-stream: {evidence(b or '')}"
                item.raw_violations.append(
                    Violation("stream.joined-equals-non-stream", message, shown)
                )
        if comparable_tool_calls(streamed.tool_calls) != comparable_tool_calls(whole.tool_calls):
            message = "the joined tool_calls deltas differ from the non-streamed answer"
            shown = (
                f"stream: {describe_tool_calls(streamed.tool_calls)}\n"
                f"non-stream: {describe_tool_calls(whole.tool_calls)}"
            )
            item.raw_violations.append(Violation("stream.joined-equals-non-stream", message, shown))


def _row(item: _Planned, sdk: str, outcome: dict | None, skip: str | None, model: str) -> RowResult:
    row = RowResult(
        item.scenario.name, sdk, item.mode, PASSED, description=item.scenario.description
    )
    row.duration = item.raw_seconds + float((outcome or {}).get("elapsed", 0.0))
    if skip:
        row.status, row.skip_reason = SKIPPED, skip
        return row
    found = list(item.raw_violations)
    found += [
        v.with_source(sdk)
        for v in check_outcome(
            outcome or {}, item.expect, operation=item.scenario.operation, model=model, raw=item.raw
        )
    ]
    row.violations = found
    row.status = FAILED if found else PASSED
    return row


def run(scenarios: list[Scenario], config: SuiteConfig) -> SuiteReport:
    """Run every selected combination and return the report (rows in scenario order)."""
    started = time.monotonic()
    planned = plan(scenarios, config)
    for item in planned:
        _capture(item, config)
    _compare_modes(planned)
    rows: list[RowResult] = []
    versions: dict[str, str | None] = {}
    if "python" in config.sdks:
        versions["python"] = python_runner.sdk_version()
        rows += _python_rows(planned, config, installed=versions["python"] is not None)
    if "node" in config.sdks:
        node_rows, versions["node"] = _node_rows(planned, config)
        rows += node_rows
    order = {s.name: n for n, s in enumerate(scenarios)}
    rows.sort(key=lambda r: (order[r.scenario], SDKS.index(r.sdk), MODES.index(r.mode or MODES[0])))
    return SuiteReport(rows, config.base_url, time.monotonic() - started, versions)


def _python_rows(
    planned: list[_Planned], config: SuiteConfig, *, installed: bool
) -> list[RowResult]:
    skip = None if installed else "the openai Python package is not installed"
    return [
        _row(item, "python", None if skip else _run_python(item.job), skip, config.model)
        for item in planned
        if "python" in item.scenario.sdks
    ]


def _node_rows(planned: list[_Planned], config: SuiteConfig) -> tuple[list[RowResult], str | None]:
    """All Node jobs go to one ``node`` process."""
    items = [p for p in planned if "node" in p.scenario.sdks]
    batch = node_runner.run_batch(
        [p.job for p in items], node=config.node, node_modules=config.node_modules
    )
    rows = []
    for item in items:
        if batch.failure:
            outcome: dict = {"crash": batch.failure}
        else:
            outcome = batch.results.get(item.job["id"], {"crash": "no result for this job"})
        rows.append(_row(item, "node", outcome, batch.skip_reason, config.model))
    return rows, batch.sdk_version


def _run_python(job: dict) -> dict:
    try:
        return python_runner.run_job(job)
    except Exception as exc:  # a bug in the runner must show as a failure, not stop the run
        return {"crash": f"{type(exc).__name__}: {exc}"}
