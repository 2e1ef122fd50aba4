"""The suite's README kept in step with the code: every rule, scenario and option is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import kimiproxy_conformance
from kimiproxy_conformance.cli import build_parser
from kimiproxy_conformance.scenario import SCENARIO_DIR

PACKAGE = Path(kimiproxy_conformance.__file__).parent
README = (PACKAGE / "README.md").read_text(encoding="utf-8")
RULE = re.compile(r"^(stream|completion|error|models|http|sdk|expect|runner)\.[a-z0-9-]+$")


def rule_names() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and RULE.match(node.value)
            ):
                names.add(node.value)
    return names - {"runner.mjs"}


def test_every_rule_is_documented():
    names = rule_names()
    assert len(names) > 40
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert not missing


def test_every_scenario_is_in_the_table():
    for path in SCENARIO_DIR.glob("*.json"):
        assert f"| `{path.stem}` |" in README, path.stem


def test_every_option_is_documented():
    for action in build_parser()._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in README, option
