"""pytest plugin: the conformance suite as tests, and a fixture for plugin authors.

``pytest -p kimiproxy_conformance.pytest_plugin --conformance-base-url URL`` adds one test per
scenario × SDK × stream mode (named ``conformance::chat-basic[python-stream]``, marked
``conformance``; ``-m conformance`` runs only them). A scenario runs once, when its first test
runs; its tests then report their rows. Without ``--conformance-base-url`` nothing is added, and
the ``conformance`` fixture still lets a test run the suite against a server it started::

    def test_my_plugin_keeps_kimiproxy_compatible(conformance, my_server_url):
        conformance(my_server_url, scenarios=["chat-*"], sdks=["python"]).assert_ok()
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import engine
from .config import SuiteConfig
from .results import FAILED, SKIPPED, RowResult, format_row_details
from .scenario import MODES, SDKS, Scenario
from .suite import make_config, run_conformance, selected_scenarios

MARKER = "conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "kimiproxy conformance suite")
    add = group.addoption
    add("--conformance-base-url", metavar="URL", help="run the suite against this OpenAI base URL")
    add("--conformance-api-key", metavar="KEY", help="default: $OPENAI_API_KEY, else a placeholder")
    add("--conformance-model", metavar="MODEL", default="kimi", help="model for chat scenarios")
    add(
        "--conformance-emulator",
        action="store_true",
        help="also the kimi-models and kimi-emulator scenarios",
    )
    add(
        "--conformance-enable",
        action="append",
        default=[],
        metavar="CAP",
        help="enable a capability",
    )
    add(
        "--conformance-disable",
        action="append",
        default=[],
        metavar="CAP",
        help="disable a capability",
    )
    add(
        "--conformance-tags",
        action="append",
        default=[],
        metavar="TAG",
        help="only scenarios with a tag",
    )
    add(
        "--conformance-skip-tags",
        action="append",
        default=[],
        metavar="TAG",
        help="leave out a tag",
    )
    add(
        "--conformance-scenario", action="append", default=[], metavar="GLOB", help="scenario names"
    )
    add(
        "--conformance-scenarios",
        action="append",
        default=[],
        metavar="DIR",
        help="extra scenario folder",
    )
    add("--conformance-sdk", action="append", default=[], choices=SDKS, help="SDKs (default both)")
    add("--conformance-mode", choices=[*MODES, "both"], default="both")
    add(
        "--conformance-openapi",
        metavar="FILE",
        help="OpenAI OpenAPI description to validate against",
    )
    add("--conformance-node", metavar="PATH", help="the Node.js binary")
    add("--conformance-node-modules", metavar="DIR", help="folder holding the openai npm package")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: a kimiproxy conformance row (scenario x SDK x stream mode)"
    )


class _LazySuite:
    """Runs a scenario on first demand and keeps its rows."""

    def __init__(self, config: SuiteConfig, scenarios: list[Scenario]):
        self.config = config
        self.scenarios = {s.name: s for s in scenarios}
        self.rows: dict[str, RowResult] = {}
        self.done: set[str] = set()

    def row(self, scenario: str, row_id: str) -> RowResult | None:
        if scenario not in self.done:
            self.done.add(scenario)
            for row in engine.run([self.scenarios[scenario]], self.config).rows:
                self.rows[row.row_id] = row
        return self.rows.get(row_id)


class ConformanceFailure(Exception):
    """A row broke rules; ``repr_failure`` prints them."""


class ConformanceCollector(pytest.Collector):
    def collect(self):
        return []


class ConformanceItem(pytest.Item):
    def __init__(
        self, *, suite: _LazySuite, scenario: Scenario, sdk: str, mode: str | None, **kwargs
    ):
        super().__init__(**kwargs)
        self.suite, self.scenario, self.sdk, self.mode = suite, scenario, sdk, mode
        self.add_marker(MARKER)

    def runtest(self) -> None:
        row = self.suite.row(self.scenario.name, self.name)
        if row is None:
            raise ConformanceFailure(f"the run produced no row {self.name}")
        if row.status == SKIPPED:
            pytest.skip(row.skip_reason or "skipped")
        if row.status == FAILED:
            raise ConformanceFailure(format_row_details(row))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ConformanceFailure):
            return f"{self.name} broke the rules:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.scenario.path or Path(self.scenario.name), None, f"conformance {self.name}"


def _config_from(opts: pytest.Config) -> SuiteConfig:
    get = opts.getoption
    mode = get("conformance_mode")
    return make_config(
        get("conformance_base_url"),
        api_key=get("conformance_api_key"),
        model=get("conformance_model"),
        sdks=get("conformance_sdk") or SDKS,
        modes=MODES if mode == "both" else (mode,),
        emulator=get("conformance_emulator"),
        enable=get("conformance_enable"),
        disable=get("conformance_disable"),
        tags=get("conformance_tags"),
        skip_tags=get("conformance_skip_tags"),
        scenarios=get("conformance_scenario"),
        openapi=Path(get("conformance_openapi")) if get("conformance_openapi") else None,
        node=get("conformance_node"),
        node_modules=Path(get("conformance_node_modules"))
        if get("conformance_node_modules")
        else None,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list
) -> None:
    """Add the conformance rows before ``-k``/``-m`` deselect anything."""
    if not config.getoption("conformance_base_url"):
        return
    suite_config = _config_from(config)
    dirs = [Path(d) for d in config.getoption("conformance_scenarios")]
    scenarios = selected_scenarios(suite_config, dirs)
    suite = _LazySuite(suite_config, scenarios)
    parent = ConformanceCollector.from_parent(session, name="conformance", nodeid="conformance")
    for plan in engine.plan(scenarios, suite_config):
        for sdk in (s for s in suite_config.sdks if s in plan.scenario.sdks):
            name = RowResult(plan.scenario.name, sdk, plan.mode, "").row_id
            items.append(
                ConformanceItem.from_parent(
                    parent, name=name, suite=suite, scenario=plan.scenario, sdk=sdk, mode=plan.mode
                )
            )


@pytest.fixture
def conformance():
    """``conformance(base_url, **options) -> SuiteReport``; options as ``suite.make_config``
    (``scenarios``, ``sdks``, ``modes``, ``emulator``, ``tags``, ...). Call ``.assert_ok()``."""
    return run_conformance
