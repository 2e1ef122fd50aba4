"""Which scenarios run: capabilities the server has, tags to include or leave out, name patterns.

A scenario runs only when every capability it ``requires`` is enabled. By default only ``auth``
is (the server rejects missing and invalid keys): the portable set. ``--emulator`` enables
``kimi-models`` and ``kimi-emulator`` as well, for kimiproxy in front of the bundled emulator.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from .scenario import Scenario

CAPABILITIES = {
    "auth": "the server rejects a missing or invalid API key with 401",
    "kimi-models": "the server knows kimiproxy's model names (kimi-thinking, kimi-search, ...)",
    "kimi-emulator": "answers come from the bundled Kimi emulator "
    "([[reply:...]]/[[fault:...]] markers, deterministic text)",
}
DEFAULT_CAPABILITIES = frozenset({"auth"})
EMULATOR_CAPABILITIES = frozenset({"kimi-models", "kimi-emulator"})


@dataclass(frozen=True)
class Selection:
    """The filters; an empty ``tags`` means every tag, an empty ``names`` every name."""

    capabilities: frozenset[str] = DEFAULT_CAPABILITIES
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    names: tuple[str, ...] = ()

    def reason_to_skip(self, scenario: Scenario) -> str | None:
        """Why ``scenario`` is left out, or ``None`` when it runs."""
        missing = [cap for cap in scenario.requires if cap not in self.capabilities]
        if missing:
            return f"needs capability {', '.join(missing)}"
        labels = labels_of(scenario)
        if self.tags and not (labels & self.tags):
            return "no selected tag"
        if labels & self.skip_tags:
            return f"tag {', '.join(sorted(labels & self.skip_tags))} skipped"
        if self.names and not any(fnmatch.fnmatchcase(scenario.name, p) for p in self.names):
            return "name not selected"
        return None


def labels_of(scenario: Scenario) -> set[str]:
    """The words ``--tags``/``--skip-tags`` match: tags, required capabilities, the operation."""
    return {*scenario.tags, *scenario.requires, scenario.operation}


def capabilities_from(
    *, emulator: bool, enable: Iterable[str] = (), disable: Iterable[str] = ()
) -> frozenset[str]:
    """The enabled capabilities for the CLI and pytest options (scenario authors may add their
    own capability names: any name can be enabled)."""
    caps = set(DEFAULT_CAPABILITIES)
    if emulator:
        caps |= EMULATOR_CAPABILITIES
    caps |= set(enable)
    caps -= set(disable)
    return frozenset(caps)


def select(
    scenarios: list[Scenario], selection: Selection
) -> tuple[list[Scenario], list[tuple[Scenario, str]]]:
    """Split scenarios into those that run and those left out (with the reason)."""
    chosen: list[Scenario] = []
    left: list[tuple[Scenario, str]] = []
    for scenario in scenarios:
        reason = selection.reason_to_skip(scenario)
        if reason is None:
            chosen.append(scenario)
        else:
            left.append((scenario, reason))
    return chosen, left
