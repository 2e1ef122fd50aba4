"""The layout holds: no import cycles between modules or between layers, a docstring on every
module, no module over 300 lines.

The import graph is read statically from the source of kimiproxy, kimiproxy_plugins
(``plugins/``) and kimiproxy_conformance (``conformance/``): every ``import`` and ``from ...
import``, at module level or inside a function, except those under ``if TYPE_CHECKING:``, which
never run. ``from package import name`` counts as importing the module ``package.name`` when
there is one, otherwise the package itself. A layer is a subpackage or top-level module of
kimiproxy (``kimiproxy.chat``, ``kimiproxy.errors``), or all of kimiproxy_plugins or
kimiproxy_conformance.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "kimiproxy": ROOT / "kimiproxy",
    "kimiproxy_plugins": ROOT / "plugins",
    "kimiproxy_conformance": ROOT / "conformance",
}
MAX_LINES = 300
LONG_MODULES: set[str] = set()

Graph = dict[str, dict[str, str]]  # module -> imported module -> "path:line" of the first import


def package_modules() -> dict[str, Path]:
    """Every module of the three packages by its dotted name."""
    modules: dict[str, Path] = {}
    for package, directory in PACKAGES.items():
        for path in sorted(directory.rglob("*.py")):
            parts = path.relative_to(directory).with_suffix("").parts
            if "node_modules" in parts or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """All import statements that can run: anywhere but the body of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def import_targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> set[str]:
    """The modules of ours that ``node``, found in ``module``, loads."""
    if isinstance(node, ast.Import):
        return {t for t in (resolve(alias.name, modules) for alias in node.names) if t}
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    targets = set()
    for alias in node.names:
        target = f"{source}.{alias.name}"
        targets.add(target if target in modules else resolve(source, modules))
    return targets - {None}


def resolve(name: str, modules: set[str]) -> str | None:
    """The module of ours that importing ``name`` loads: itself or its nearest parent."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> Graph:
    modules = package_modules()
    names = set(modules)
    graph: Graph = {name: {} for name in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in runtime_imports(tree):
            for target in import_targets(node, module, is_package, names) - {module}:
                graph[module].setdefault(target, f"{path.relative_to(ROOT)}:{node.lineno}")
    return graph


def layer_of(module: str) -> str:
    """``kimiproxy.upstream.connect.client`` is in the layer ``kimiproxy.upstream``; a plugin or
    conformance module is in its package's one layer."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "kimiproxy" else parts[0]


def layer_graph(graph: Graph) -> Graph:
    """The imports between layers, each with one import between their modules that makes it."""
    layers: Graph = {}
    for module, targets in sorted(graph.items()):
        edges = layers.setdefault(layer_of(module), {})
        for target, where in sorted(targets.items()):
            if layer_of(target) != layer_of(module):
                edges.setdefault(layer_of(target), f"{module} -> {target} at {where}")
    return layers


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) for every strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, {}):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_within(graph, group) for group in groups]


def cycle_within(graph: Graph, group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, staying in the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, {})):
                if target == start:
                    return [*paths[node], start]
                if target in group and target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def cycles_report(graph: Graph) -> str:
    """Each cycle of ``graph`` and, under it, where each of its imports is; empty when none."""
    lines = []
    for cycle in find_cycles(graph):
        lines.append("cycle: " + " -> ".join(cycle))
        lines += [f"  {a} -> {b}: {graph[a][b]}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "\n".join(lines)


def test_a_cycle_in_a_synthetic_graph_is_found_and_printed():
    graph: Graph = {
        "app": {"core": "app.py:1"},
        "core": {"client": "core.py:3"},
        "client": {"base": "client.py:2"},
        "base": {"core": "base.py:7", "events": "base.py:8"},
        "events": {},
        "alone": {"alone": "alone.py:1"},
    }
    assert sorted(find_cycles(graph)) == [["alone", "alone"], ["base", "core", "client", "base"]]
    report = cycles_report(graph)
    assert "cycle: base -> core -> client -> base" in report
    assert "base -> core: base.py:7" in report and "client -> base: client.py:2" in report
    del graph["base"]["core"], graph["alone"]["alone"]
    assert find_cycles(graph) == [] and cycles_report(graph) == ""


def test_the_graph_sees_function_level_imports_but_not_type_checking_ones():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import kimiproxy.chat\nelse:\n    import kimiproxy.wire\n"
        "def late():\n    from .events import Event\n    from . import tokens\n"
    )
    modules = {
        "kimiproxy.chat",
        "kimiproxy.wire",
        "kimiproxy.upstream",
        "kimiproxy.upstream.events",
        "kimiproxy.upstream.tokens",
    }
    targets = set()
    for node in runtime_imports(tree):
        targets |= import_targets(node, "kimiproxy.upstream.base", False, modules)
    assert targets == {"kimiproxy.wire", "kimiproxy.upstream.events", "kimiproxy.upstream.tokens"}


def test_no_import_cycles():
    graph = import_graph()
    assert "kimiproxy.upstream.connect.client" in graph["kimiproxy.upstream.factory"]
    assert "kimiproxy_conformance.results" in graph["kimiproxy_conformance.report"]
    report = cycles_report(graph)
    assert report == "", "import cycles:\n" + report


def test_no_import_cycles_between_layers():
    layers = layer_graph(import_graph())
    assert "kimiproxy.upstream" in layers["kimiproxy.chat"]
    report = cycles_report(layers)
    assert report == "", "layers that import each other:\n" + report


def test_every_module_has_a_docstring():
    missing = [
        str(path.relative_to(ROOT))
        for path in package_modules().values()
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == [], f"modules without a docstring: {missing}"


def test_no_module_is_over_300_lines():
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in package_modules().values()
    }
    too_long = {
        name: n for name, n in lengths.items() if n > MAX_LINES and name not in LONG_MODULES
    }
    assert too_long == {}, f"modules over {MAX_LINES} lines: {too_long}"
    no_longer_long = sorted(name for name in LONG_MODULES if lengths.get(name, 0) <= MAX_LINES)
    assert no_longer_long == [], f"allowed to be long but no longer are: {no_longer_long}"
