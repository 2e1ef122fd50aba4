"""docs/emulator.md kept in step with the code: every option, fault and route is documented,
and the two protocols go by their names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kimiproxy.emulator import create_emulator_app
from kimiproxy.emulator.faults import ALL_FAULTS
from kimiproxy.emulator.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_option_is_documented_with_its_default(name):
    default = OPTIONS[name].default
    shown = str(default).lower() if isinstance(default, bool) else str(default)
    assert re.search(rf"- `{name}` \({re.escape(shown)}[,)]", DOC), name


@pytest.mark.parametrize("name", sorted(ALL_FAULTS))
def test_every_fault_is_documented(name):
    assert f"- `{name}`:" in DOC, name


def _routes() -> list[str]:
    rules = create_emulator_app().url_map.iter_rules()
    return sorted({rule.rule for rule in rules if rule.endpoint != "static"})


@pytest.mark.parametrize("route", _routes())
def test_every_route_is_documented(route):
    pattern = re.escape(route)
    # A path parameter may be named differently in the text (<chat_id> vs <id>).
    pattern = re.sub(r"<[^>]*>", "<[a-z_]+>", pattern.replace(r"\<", "<").replace(r"\>", ">"))
    assert re.search(pattern, DOC), route


def test_the_protocols_go_by_their_names():
    old_names = re.compile(r"\bgeneration[ _][ab]\b|\bgeneration[ _]?s\b", re.IGNORECASE)
    files = [ROOT / "docs" / "emulator.md"]
    files += sorted((ROOT / "kimiproxy" / "emulator").rglob("*.py"))
    files += sorted((ROOT / "tests" / "emulator").glob("*.py"))
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if old_names.search(line)
    ]
    assert found == []
