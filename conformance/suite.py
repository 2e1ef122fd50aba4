"""The suite as a function call: :func:`run_conformance` for tests and plugin authors.

from kimiproxy_conformance.suite import run_conformance
run_conformance("http://127.0.0.1:8000/v1", scenarios=["chat-*"], sdks=["python"]).assert_ok()
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from . import engine, schema
from .config import DEFAULT_MODEL, DEFAULT_TIMEOUT, SuiteConfig, default_api_key
from .results import SuiteReport
from .scenario import MODES, SDKS, Scenario, load_scenarios
from .selection import Selection, capabilities_from, select


def make_config(
    base_url: str,
    *,
    api_key: str | None = None,
    model: str = DEFAULT_MODEL,
    sdks: Iterable[str] = SDKS,
    modes: Iterable[str] = MODES,
    emulator: bool = False,
    enable: Iterable[str] = (),
    disable: Iterable[str] = (),
    tags: Iterable[str] = (),
    skip_tags: Iterable[str] = (),
    scenarios: Iterable[str] = (),
    openapi: Path | None = None,
    schema_checks: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    node: str | None = None,
    node_modules: Path | None = None,
) -> SuiteConfig:
    """A :class:`SuiteConfig` from keyword options named like the CLI's."""
    selection = Selection(
        capabilities=capabilities_from(emulator=emulator, enable=enable, disable=disable),
        tags=frozenset(tags),
        skip_tags=frozenset(skip_tags),
        names=tuple(scenarios),
    )
    schemas = (
        schema.load_schemas(openapi or schema.default_openapi_path()) if schema_checks else None
    )
    return SuiteConfig(
        base_url=base_url,
        api_key=api_key or default_api_key(),
        model=model,
        sdks=tuple(sdks),
        modes=tuple(modes),
        selection=selection,
        timeout=timeout,
        schemas=schemas,
        node=node,
        node_modules=node_modules,
    )


def selected_scenarios(
    config: SuiteConfig, scenario_dirs: Iterable[Path] = (), builtin: bool = True
) -> list[Scenario]:
    """The scenarios ``config.selection`` lets through."""
    chosen, _ = select(load_scenarios(scenario_dirs, builtin=builtin), config.selection)
    return chosen


def run_conformance(
    base_url: str, *, scenario_dirs: Iterable[Path] = (), builtin: bool = True, **options
) -> SuiteReport:
    """Run the selected scenarios against ``base_url``; ``options`` are :func:`make_config`'s."""
    config = make_config(base_url, **options)
    return engine.run(selected_scenarios(config, scenario_dirs, builtin), config)
