"""Docs and code kept in step: the README's commands, the hook contracts, the settings table, the
protocol notes the code cites."""

import inspect
import re
from pathlib import Path

from kimiproxy.hooks import specs as hookspecs
from kimiproxy.settings import setting_names

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    first_screen = README.split("---", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", first_screen)


def test_readme_first_screen_has_the_two_commands():
    demo, tests = readme_commands()
    assert "kimiproxy demo" in demo and "pip install" in demo
    assert "pytest" in tests and "pip install" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1] == readme_commands()[1]


def test_every_hook_is_documented_with_typed_parameters():
    hooks = [f for name, f in vars(hookspecs).items() if name.startswith("kimiproxy_")]
    assert len(hooks) >= 5
    for hook in hooks:
        assert inspect.getdoc(hook), hook.__name__
        signature = inspect.signature(hook)
        assert all(
            p.annotation is not inspect.Parameter.empty for p in signature.parameters.values()
        ), hook.__name__
        assert hook.__name__ in README, f"{hook.__name__} is not in the README"


def test_every_setting_is_documented():
    missing = [name for name in setting_names() if name not in README]
    assert not missing, f"settings missing from the README: {missing}"


PROTOCOL_NOTES = ROOT / "docs" / "kimi-protocol.md"
# ``docs/kimi-protocol.md``, "Section" (more sections joined by commas or "and")
CITATION = re.compile(r'(\S*)kimi-protocol\.md`*((?:\s*,?\s*(?:and\s+)?"[^"]+")*)')


def test_the_protocol_sections_the_code_cites_exist():
    text = PROTOCOL_NOTES.read_text(encoding="utf-8")
    headings = {re.sub(r"[`*]", "", h).strip() for h in re.findall(r"^#+ (.+)$", text, re.M)}
    cited = 0
    for directory in ("kimiproxy", "plugins", "conformance"):
        for path in (ROOT / directory).rglob("*.py"):
            where = path.relative_to(ROOT)
            if "node_modules" in where.parts:
                continue
            for prefix, sections in CITATION.findall(path.read_text(encoding="utf-8")):
                assert prefix.lstrip("(`") == "docs/", f"{where} cites {prefix}kimi-protocol.md"
                for section in re.findall(r'"([^"]+)"', sections):
                    cited += 1
                    assert section in headings, f'{where} cites "{section}", not a section'
    assert cited >= 10


def test_the_readme_plugins_section_links_the_plugin_guide():
    section = README.split("## Plugins\n", 1)[1].split("\n## ", 1)[0]
    assert "](docs/plugins.md)" in section and (ROOT / "docs" / "plugins.md").is_file()
