"""The plugin author's contract, kept true: ``docs/plugins.md`` documents every hook with the
spec's exact signature and call semantics and its examples run; every hook has a test through
``kimiproxy.testing.make_app``; plugins import only the documented public API and are typed."""

from __future__ import annotations

import ast
import inspect
import re
import types
from pathlib import Path

import pytest

from kimiproxy import testing
from kimiproxy.hooks import specs as hookspecs

ROOT = Path(__file__).resolve().parents[2]
GUIDE_PATH = ROOT / "docs" / "plugins.md"
GUIDE = GUIDE_PATH.read_text(encoding="utf-8")
HOOKS = {name: spec for name, spec in vars(hookspecs).items() if name.startswith("kimiproxy_")}
PLUGIN_FILES = sorted((ROOT / "plugins").glob("*.py")) + sorted((ROOT / "examples").glob("*/*.py"))
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def hook_sections() -> dict[str, str]:
    """The guide's ``### `kimiproxy_…``` sections, by hook name."""
    found = re.finditer(r"^### `(kimiproxy_\w+)`\n(.*?)(?=^##|\Z)", GUIDE, re.M | re.S)
    return {match[1]: match[2] for match in found}


def spec_signature(name: str) -> str:
    signature = inspect.signature(HOOKS[name])
    parameters = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"def {name}({parameters}) -> {signature.return_annotation}: ..."


def test_every_hook_is_documented_with_the_specs_exact_signature():
    assert len(HOOKS) >= 7
    sections = hook_sections()
    for name in HOOKS:
        assert name in sections, f"docs/plugins.md has no '### `{name}`' section"
        first_block = PYTHON_BLOCK.search(sections[name])
        assert first_block, f"the {name} section has no signature block"
        # Compared as parsed code: ruff formats the guide's blocks, line breaks included.
        documented = ast.unparse(ast.parse(first_block[1]))
        assert documented == ast.unparse(ast.parse(spec_signature(name))), name


def test_the_guide_documents_only_hooks_that_exist():
    assert set(hook_sections()) == set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_spec_and_the_guide_state_the_same_call_semantics(name):
    first_result = HOOKS[name].kimiproxy_spec["firstresult"]
    semantics = (
        "Stops at the first non-None result" if first_result else "Every implementation runs"
    )
    assert semantics.lower() in " ".join(inspect.getdoc(HOOKS[name]).lower().split())
    assert hook_sections()[name].lstrip().split("\n\n")[1].startswith(semantics)


def guide_examples() -> list[str]:
    return [block for block in PYTHON_BLOCK.findall(GUIDE) if "@hookimpl" in block]


def test_the_guide_has_an_example_per_hook():
    for name, section in hook_sections().items():
        examples = [block for block in PYTHON_BLOCK.findall(section) if "@hookimpl" in block]
        assert any(f"def {name}(" in block for block in examples), name


@pytest.mark.parametrize("index", range(len(guide_examples())))
def test_the_guides_examples_run(index):
    """Each example is a plugin module: registered with make_app it answers a whole and a
    streamed request; an example with test functions is run as tests."""
    module = types.ModuleType(f"guide_example_{index}")
    code = compile(guide_examples()[index], f"docs/plugins.md example {index}", "exec")
    exec(code, module.__dict__)
    tests = [f for name, f in vars(module).items() if name.startswith("test_")]
    if tests:
        for test in tests:
            test()
        return
    app = testing.make_app(plugins=[module])
    body = testing.chat(app, "hi")
    assert body["choices"][0]["message"]["content"].startswith("Hello there"), body
    chunks = testing.stream(app, "hi")
    assert "error" not in chunks[-1] and testing.streamed_content(chunks) == "Hello there"


# -- every hook has a test ------------------------------------------------------------------


def _is_hookimpl(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "hookimpl") or (
        isinstance(target, ast.Attribute) and target.attr == "hookimpl"
    )


def _calls_make_app(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and (getattr(n.func, "attr", None) or getattr(n.func, "id", None)) == "make_app"
        for n in ast.walk(node)
    )


def hook_tests(source: str) -> dict[str, list[str]]:
    """Hook name → the ``test_hook_<hook>…`` functions in ``source`` that implement that hook in
    a plugin of their own and build the app with ``make_app``."""
    found: dict[str, list[str]] = {}
    for test in ast.walk(ast.parse(source)):
        if not (isinstance(test, ast.FunctionDef) and test.name.startswith("test_hook_")):
            continue
        for node in ast.walk(test):
            if (
                isinstance(node, ast.FunctionDef)
                and node.name in HOOKS
                and any(_is_hookimpl(d) for d in node.decorator_list)
                and re.match(rf"test_hook_{node.name.removeprefix('kimiproxy_')}(_|$)", test.name)
                and _calls_make_app(test)
            ):
                found.setdefault(node.name, []).append(test.name)
    return found


def test_every_hook_has_a_test_through_make_app():
    found: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        for hook, tests in hook_tests(path.read_text(encoding="utf-8")).items():
            found.setdefault(hook, []).extend(tests)
    missing = sorted(set(HOOKS) - set(found))
    assert not missing, f"hooks without a test_hook_<hook>… test using make_app: {missing}"


def test_a_test_named_for_a_hook_must_implement_it():
    named_only = (
        "def test_hook_cleanup_runs():\n"
        "    class P:\n"
        "        @hookimpl\n"
        "        def kimiproxy_process_delta(self, delta): ...\n"
        "    make_app(plugins=[P()])\n"
    )
    assert hook_tests(named_only) == {}
    assert hook_tests(named_only.replace("process_delta", "cleanup")) == {
        "kimiproxy_cleanup": ["test_hook_cleanup_runs"]
    }


# -- plugins use the public API and are typed --------------------------------------------------


def public_api() -> dict[str, set[str] | None]:
    """The guide's table: module → the names plugins may import (``None``: any public name)."""
    section = GUIDE.split("## Public API for plugins", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str] | None] = {}
    for module, cell in re.findall(r"^\| `([\w.]+)` \| (.+) \|$", section, re.M):
        table[module] = (
            None if cell.startswith("every public name") else set(re.findall(r"`(\w+)`", cell))
        )
    return table


def api_violations(source: str, api: dict[str, set[str] | None]) -> list[str]:
    """Imports of kimiproxy (or of another plugin) that are not in ``api``."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kimiproxy") and alias.name not in api:
                    problems.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module.startswith("kimiproxy_"):
                problems.append(f"from {'.' * node.level}{module} import …: another plugin")
            elif module == "kimiproxy" or module.startswith("kimiproxy."):
                allowed = api.get(module, set())
                for alias in node.names:
                    public = not alias.name.startswith("_")
                    if module not in api or not (
                        alias.name in allowed if allowed is not None else public
                    ):
                        problems.append(f"from {module} import {alias.name}")
    return problems


def test_the_public_api_table_is_read():
    api = public_api()
    assert api["kimiproxy"] == {"hookimpl", "create_app"} and api["kimiproxy.errors"] is None
    assert api_violations("from kimiproxy.chat.core import ChatCore", api)
    assert api_violations("from kimiproxy.chat.context import ChatAnswer", api)
    assert api_violations("import kimiproxy.hooks.manager", api)
    assert api_violations("from . import citations", api)
    assert not api_violations("from kimiproxy.errors import UpstreamError\nimport flask", api)


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path):
    assert not api_violations(path.read_text(encoding="utf-8"), public_api())


def untyped(source: str) -> list[str]:
    """Functions (nested ones too) with a parameter or the return left unannotated."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = node.args
        parameters = [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *(a for a in (arguments.vararg, arguments.kwarg) if a),
        ]
        for parameter in parameters:
            if parameter.annotation is None and parameter.arg not in ("self", "cls"):
                problems.append(f"{node.name}({parameter.arg})")
        if node.returns is None:
            problems.append(f"{node.name} -> ?")
    return problems


def test_untyped_finds_what_is_missing():
    assert untyped("def f(self, a, b: int): ...\ndef g(x: int) -> int: ...") == ["f(a)", "f -> ?"]


@pytest.mark.parametrize(
    "path",
    [*PLUGIN_FILES, ROOT / "kimiproxy" / "testing.py"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_plugins_and_their_testing_kit_are_fully_typed(path):
    assert not untyped(path.read_text(encoding="utf-8"))


def test_the_plugin_files_are_the_built_ins_and_the_example():
    names = {path.stem for path in PLUGIN_FILES}
    assert {"random_credential", "citations", "kimiproxy_request_id"} <= names


@pytest.mark.parametrize(
    "document", ["README.md", "docs/plugins.md", "examples/kimiproxy-request-id/README.md"]
)
def test_relative_links_resolve(document):
    path = ROOT / document
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", path.read_text(encoding="utf-8"), flags=re.S)
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose)
    local = [link for link in links if "://" not in link]
    assert local or document != "README.md"
    missing = [link for link in local if not (path.parent / link).exists()]
    assert not missing, f"{document} links to missing files: {missing}"
