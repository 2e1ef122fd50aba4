"""Scenarios are data: one JSON (or YAML) file each, read and checked here.

A scenario names an operation (``chat``, ``models.list``, ``models.retrieve``), the request, the
stream modes and SDKs it runs in, the capabilities it needs from the server, and what is
expected. ``conformance/README.md`` documents every field.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SCENARIO_DIR = Path(__file__).with_name("scenarios")
OPERATIONS = ("chat", "models.list", "models.retrieve")
MODES = ("non-stream", "stream")
SDKS = ("python", "node")
AUTH = ("valid", "missing", "invalid")
CALLS = ("create", "post")
EXPECT_KEYS = {
    "status",
    "error_class",
    "mid_stream_error",
    "content",
    "content_contains",
    "content_regex",
    "content_excludes",
    "nonempty_content",
    "reasoning",
    "reasoning_contains",
    "finish_reason",
    "tool_calls",
    "deterministic",
    "attempts",
    "model_ids_include",
    "min_models",
}
LIST_KEYS = {"content_contains", "content_excludes", "reasoning_contains", "model_ids_include"}
TOP_KEYS = {
    "name",
    "description",
    "operation",
    "request",
    "model_id",
    "call",
    "raw_body",
    "auth",
    "modes",
    "sdks",
    "tags",
    "requires",
    "client",
    "concurrency",
    "raw_capture",
    "expect",
    "expect_by_mode",
    "expect_if",
}


class ScenarioError(ValueError):
    """A scenario file that does not follow the format."""


@dataclass
class Scenario:
    """One recorded case; see the README for the meaning of each field."""

    name: str
    description: str
    operation: str = "chat"
    request: dict = field(default_factory=dict)
    model_id: str | None = None
    call: str = "create"
    raw_body: str | None = None
    auth: str = "valid"
    modes: tuple[str, ...] = MODES
    sdks: tuple[str, ...] = SDKS
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    client: dict = field(default_factory=dict)
    concurrency: int = 1
    raw_capture: bool = True
    expect: dict = field(default_factory=dict)
    expect_by_mode: dict = field(default_factory=dict)
    expect_if: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def include_usage(self) -> bool:
        options = self.request.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))

    def run_modes(self) -> tuple[str, ...]:
        """Model operations have no stream mode: they run once, shown as ``-``."""
        return self.modes if self.operation == "chat" else ("non-stream",)

    def expectation(self, mode: str, capabilities: Iterable[str]) -> dict:
        """``expect``, then ``expect_by_mode[mode]``, then ``expect_if[cap]`` for enabled caps.

        Later layers override earlier ones, except that list-valued keys add up.
        """
        merged: dict = {}
        layers = [self.expect, self.expect_by_mode.get(mode, {})]
        layers += [
            self.expect_if[cap] for cap in sorted(set(capabilities)) if cap in self.expect_if
        ]
        for layer in layers:
            for key, value in layer.items():
                if key in LIST_KEYS:
                    merged[key] = [*merged.get(key, []), *value]
                else:
                    merged[key] = copy.deepcopy(value)
        merged.setdefault("status", 200)
        return merged


def from_dict(data: dict, *, name: str | None = None, path: Path | None = None) -> Scenario:
    """Build and check a scenario; raises :class:`ScenarioError` naming the bad field."""
    where = str(path or name or "scenario")
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a scenario is a JSON object")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown field(s) {sorted(unknown)}")
    scenario = Scenario(
        name=str(data.get("name") or name or ""),
        description=str(data.get("description", "")),
        operation=data.get("operation", "chat"),
        request=dict(data.get("request", {})),
        model_id=data.get("model_id"),
        call=data.get("call", "create"),
        raw_body=data.get("raw_body"),
        auth=data.get("auth", "valid"),
        modes=tuple(data.get("modes", MODES)),
        sdks=tuple(data.get("sdks", SDKS)),
        tags=tuple(data.get("tags", ())),
        requires=tuple(data.get("requires", ())),
        client=dict(data.get("client", {})),
        concurrency=int(data.get("concurrency", 1)),
        raw_capture=bool(data.get("raw_capture", True)),
        expect=dict(data.get("expect", {})),
        expect_by_mode=dict(data.get("expect_by_mode", {})),
        expect_if=dict(data.get("expect_if", {})),
        path=path,
    )
    _check(scenario, where)
    return scenario


def _check(s: Scenario, where: str) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ScenarioError(f"{where}: {message}")

    need(bool(s.name), "no name")
    need(s.operation in OPERATIONS, f"operation must be one of {OPERATIONS}")
    need(s.call in CALLS, f"call must be one of {CALLS}")
    need(s.auth in AUTH, f"auth must be one of {AUTH}")
    need(
        bool(s.modes) and set(s.modes) <= set(MODES), f"modes must be a non-empty subset of {MODES}"
    )
    need(bool(s.sdks) and set(s.sdks) <= set(SDKS), f"sdks must be a non-empty subset of {SDKS}")
    need(s.concurrency >= 1, "concurrency must be at least 1")
    need(
        s.operation != "models.retrieve" or isinstance(s.model_id, str),
        "models.retrieve needs model_id",
    )
    need(s.raw_body is None or isinstance(s.raw_body, str), "raw_body must be a string")
    need(set(s.client) <= {"timeout", "max_retries"}, "client takes only timeout and max_retries")
    need(set(s.expect_by_mode) <= set(MODES), f"expect_by_mode keys must be among {MODES}")
    for label, layer in [
        ("expect", s.expect),
        *[(f"expect_by_mode.{k}", v) for k, v in s.expect_by_mode.items()],
    ]:
        _check_expect(layer, f"{where}: {label}")
    for cap, layer in s.expect_if.items():
        _check_expect(layer, f"{where}: expect_if.{cap}")


def _check_expect(layer: object, where: str) -> None:
    if not isinstance(layer, dict):
        raise ScenarioError(f"{where} must be an object")
    unknown = set(layer) - EXPECT_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown expectation(s) {sorted(unknown)}")
    for key in LIST_KEYS & set(layer):
        if not isinstance(layer[key], list):
            raise ScenarioError(f"{where}: {key} must be a list")
    if "tool_calls" in layer:
        _check_tool_calls(layer["tool_calls"], where)
    status = layer.get("status", 200)
    if not (status is None or isinstance(status, int) or status in ("4xx", "5xx")):
        raise ScenarioError(f'{where}: status must be an integer, "4xx", "5xx" or null')


def _check_tool_calls(calls: object, where: str) -> None:
    """``tool_calls``: a list of ``{"name": str, "arguments": <any JSON>}`` (arguments optional)."""
    ok = isinstance(calls, list) and all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and set(c) <= {"name", "arguments"}
        for c in calls
    )
    if not ok:
        raise ScenarioError(
            f'{where}: tool_calls must be a list of {{"name": ..., "arguments": ...}} objects'
        )


def load_file(path: Path) -> Scenario:
    """Read one ``.json`` (or, with PyYAML installed, ``.yaml``/``.yml``) scenario file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ScenarioError(f"{path}: reading YAML scenarios needs PyYAML") from exc
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ScenarioError(f"{path}: not valid JSON: {exc}") from exc
    return from_dict(data, name=path.stem, path=path)


def load_dir(directory: Path) -> list[Scenario]:
    """Every scenario file of a folder, sorted by file name."""
    files = sorted(p for p in directory.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
    return [load_file(p) for p in files]


def load_scenarios(extra_dirs: Iterable[Path] = (), *, builtin: bool = True) -> list[Scenario]:
    """The shipped scenarios plus those of ``extra_dirs``; names must be unique."""
    scenarios = load_dir(SCENARIO_DIR) if builtin else []
    for directory in extra_dirs:
        scenarios += load_dir(Path(directory))
    seen: dict[str, Path | None] = {}
    for s in scenarios:
        if s.name in seen:
            raise ScenarioError(f"scenario name {s.name!r} is used by {seen[s.name]} and {s.path}")
        seen[s.name] = s.path
    return scenarios
