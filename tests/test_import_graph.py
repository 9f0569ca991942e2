"""The arrows between costopt's modules point one way (style.md, "The house").

The layers, from the bottom up (:data:`LAYERS`): the foundation (``core``, ``errors``,
``files``, the YAML reader and the AWS edge ``aws``/``awserrors``), then ``pricing`` ->
``workload`` (with its checks, the trace reader and the owned servers' ``costs``) ->
``plan`` (with the plan file and ``buy``, which prices servers with the same costs) ->
``orchestrate`` -> ``simulate`` and ``report`` side by side -> ``risk`` (replays plans
through ``simulate``, renders with ``report``) -> ``cli`` on top. A module belongs to the
layer of the longest prefix naming it (``costopt.plan.pools`` to ``costopt.plan``). A
module may import its own layer and the layers below it, never one above; within a layer,
the cycle test keeps the arrows one way.

The graph is read from the source, not from a running interpreter: every ``import`` and
``from ... import`` of every module, including those inside functions (an import deferred
into a function is still an arrow), except those under ``if TYPE_CHECKING:`` (never run).
``from costopt.cli import plan`` is an arrow to the module ``costopt.cli.plan`` when that
is a module, else to the package.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "costopt"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("costopt", "costopt.core", "costopt.errors", "costopt.files", "costopt.boundedyaml",
     "costopt.aws", "costopt.awserrors"),
    ("costopt.pricing",),
    ("costopt.workload", "costopt.workload_checks", "costopt.traces", "costopt.costs"),
    ("costopt.plan", "costopt.planfile", "costopt.buy"),
    ("costopt.orchestrate",),
    ("costopt.simulate", "costopt.report"),
    ("costopt.risk",),
    ("costopt.cli",),
)
"""The layers from the bottom up, each a tuple of package or module names."""

CORE_MAY_NOT_IMPORT = ("costopt.cli", "typer", "rich")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for part in child.orelse for n in _import_nodes_of(part))
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


@functools.cache
def imports_of(module: str) -> set[str]:
    """Every name ``module`` imports: costopt modules resolved, others by top-level name."""
    names: set[str] = set()
    for node in _import_nodes(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            package = _package_of(module)
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return names


@functools.cache
def graph() -> dict[str, set[str]]:
    """Each costopt module -> the costopt modules it imports. Read on first use, not at
    import: every xdist worker collects this file, one runs its tests."""
    return {module: {name for name in imports_of(module) if name in MODULES} - {module}
            for module in MODULES}


@functools.cache
def external() -> dict[str, set[str]]:
    """Each costopt module -> the top-level names of the other packages it imports."""
    return {module: {name.split(".")[0] for name in imports_of(module) if name not in MODULES}
            for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> int | None:
    """The index of the layer whose longest prefix names ``module`` (0 at the bottom);
    ``None`` for a module no layer names. ``costopt`` names only the package's
    ``__init__``, not every module under it."""
    best: tuple[int, int] | None = None  # (length of the prefix, layer)
    for index, names in enumerate(layers):
        for name in names:
            matches = module == name if name == "costopt" else _within(module, (name,))
            if matches and (best is None or len(name) > best[0]):
                best = (len(name), index)
    return None if best is None else best[1]


def arrows_up(graph: dict[str, set[str]],
              layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[tuple[str, str]]:
    """Every arrow ``(importer, imported)`` from a layer to a higher one, sorted."""
    return sorted((source, target) for source, targets in graph.items() for target in targets
                  if (layer_of(source, layers) or 0) < (layer_of(target, layers) or 0))


def test_the_graph_is_read_from_every_module() -> None:
    """A sanity check of the reader on arrows known to exist, deferred and top level."""
    assert "costopt.cli.main" in graph()["costopt.cli.entry"]  # inside run()
    assert "costopt.report.render" in graph()["costopt.cli.report"]  # from costopt.report import X
    assert "costopt.pricing.catalog" in graph()["costopt.plan.pools"]
    assert "typer" in external()["costopt.cli.main"]
    assert len(MODULES) > 60


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """a -> b -> c -> a is one cycle; d -> a hangs off it and is not part of it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _within(m, ("costopt.cli",))))
def test_the_core_imports_no_cli_typer_or_rich(module: str) -> None:
    named = graph()[module] | external()[module]
    assert sorted(n for n in named if _within(n, CORE_MAY_NOT_IMPORT)) == []


def test_every_module_has_a_layer() -> None:
    """A new package must be given its place in :data:`LAYERS` (else its arrows go unchecked)."""
    assert sorted(m for m in MODULES if layer_of(m) is None) == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert arrows_up(graph()) == []


def test_the_layer_check_finds_an_arrow_up() -> None:
    """Layers (a) < (a.b, c) < (d): ``a.b`` takes the longer prefix (layer 1), ``a.x`` the
    prefix ``a`` (layer 0). d -> c and a.b -> a point down, c -> a.b stays in its layer;
    a -> d (0 -> 2) and a.x -> c (0 -> 1) point up."""
    layers = (("a",), ("a.b", "c"), ("d",))
    graph = {"a": {"d"}, "a.b": {"a"}, "c": {"a.b"}, "d": {"c"}, "a.x": {"c"}}
    assert layer_of("a.b", layers) == 1 and layer_of("a.x", layers) == 0
    assert arrows_up(graph, layers) == [("a", "d"), ("a.x", "c")]
