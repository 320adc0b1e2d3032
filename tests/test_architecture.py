"""The import graph of the four packages: no cycle, and every import goes down.

The graph is built from the source of every module of ``journal``, ``projections``,
``hooks`` and ``cli`` (the repository's tree, what a change edits), with every
``import`` statement wherever it is: at module level, inside a function (a lazy
import is still a dependency), under ``if TYPE_CHECKING:`` (a type is one too), and
``importlib.import_module("literal")``. An edge goes to the module named, never to
the packages Python imports on the way (``import journal.storage.codec`` runs
``journal/__init__.py``, but does not use the facade).

The layers, from the bottom:

* packages: ``journal`` < ``projections`` < ``hooks`` < ``cli`` (`PACKAGES`);
* inside ``journal`` (`JOURNAL_LAYERS`): the base modules (errors, paths and safe
  files, config, the event to append, the fault-injection seam), then ``privacy``
  (redaction, the sanitiser every append goes through), then ``storage`` (the log,
  its archives, reading, checking, repair, with the redacted ``errors.log`` and the
  user-level registry of journals, which stamp time as records do), then ``compaction``, then ``shipping``, and last the facade (``journal.store`` and the
  package's ``__init__``), which no subpackage imports;
* inside ``projections`` (`PROJECTION_LAYERS`): the fold kernel (what a projection is,
  its state, the snapshot restore, payload views, ids, text, time references), then
  ``folds``, then the cache and runner, then ``search`` (its own index), then ``read``
  (queries and the recovery context, which rank by search), then ``compaction`` (which
  plans with all of them), and last the package's ``__init__``.

A module may import modules of its own layer and of layers below it. A new module
must be given a layer here (the test says so), so placing it is a decision.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("journal", "projections", "hooks", "cli")

JOURNAL_LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("journal.errors", "journal.location", "journal.layout", "journal.config", "journal.new_event",
              "journal.cjson", "journal._faults", "journal.procstat", "journal.durations")),
    ("privacy", ("journal.privacy",)),
    ("storage", ("journal.storage", "journal.errorlog", "journal.registry")),
    ("compaction", ("journal.compaction",)),
    ("shipping", ("journal.shipping",)),
    ("facade", ("journal.store", "journal")),
)

PROJECTION_LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kernel", ("projections.errors", "projections.ids", "projections.text", "projections.timeref",
                "projections.views", "projections.state", "projections.snapshot", "projections.base")),
    ("folds", ("projections.folds",)),
    ("runner", ("projections.cache", "projections.runner")),
    ("search", ("projections.search",)),
    ("read", ("projections.read",)),
    ("compaction", ("projections.compaction",)),
    ("facade", ("projections",)),
)

Graph = Mapping[str, Mapping[str, str]]  # module -> {imported module: where (file:line)}


def find_modules(root: Path) -> dict[str, Path]:
    """Every module of `PACKAGES` under *root*, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: Iterable[str]) -> dict[str, str]:
    """The modules of `PACKAGES` that *module* imports, each with the first line that does."""
    known = set(modules)
    out: dict[str, str] = {}

    def add(target: str, node: ast.AST) -> None:
        if target.split(".")[0] in PACKAGES:
            out.setdefault(target, f"{path.relative_to(REPO_ROOT)}:{getattr(node, 'lineno', 0)}")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path.name == "__init__.py", node)
            for alias in node.names:
                full = f"{source}.{alias.name}"
                add(full if full in known else source, node)
        elif (isinstance(node, ast.Call) and ast.unparse(node.func) in ("importlib.import_module", "import_module")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            add(node.args[0].value, node)
    return out


def build_graph(root: Path = REPO_ROOT) -> dict[str, dict[str, str]]:
    """The import graph of the source tree at *root*."""
    modules = find_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of *graph* that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan, iteratively: no recursion limit to hit
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, targets = work[-1]
            for w in targets:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_a_cycle(graph, set(c), c[0]) for c in components]


def _a_cycle(graph: Graph, members: set[str], start: str) -> list[str]:
    """A shortest path from *start* back to itself inside *members* (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for w in sorted(graph[node]):
                if w == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if w in members and w not in came_from:
                    came_from[w] = node
                    following.append(w)
        frontier = following
    raise AssertionError(f"{start} is in no cycle")  # pragma: no cover - cycles() found one


def layer_of(module: str, layers: tuple[tuple[str, tuple[str, ...]], ...]) -> int | None:
    """The index of *module*'s layer: the one with the longest prefix naming it (a bare
    package name, such as ``journal``, names only the package's ``__init__``)."""
    best: tuple[int, int] | None = None
    for i, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or ("." in prefix and module.startswith(prefix + "."))) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, str]]:
    return build_graph()


def _describe(found: list[list[str]]) -> str:
    return "\n".join(" -> ".join(c) for c in found)


def test_the_graph_is_the_real_one(graph: Graph) -> None:
    """The parser sees every kind of import (else the tests below could not fail)."""
    assert len(graph) > 100
    assert "journal.storage.writer" in graph["journal.store"]  # module level
    assert "journal.storage.verify" in graph["journal.store"]  # inside a method
    assert "projections.search.query" in graph["projections.read.related"]  # inside a function
    assert "cli.commands.log" in graph["cli.group"]  # the command table


def test_the_cycle_finder_reports_a_cycle() -> None:
    assert cycles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"a": ""}}) == [["a", "a"]]
    assert cycles({"a": {"b": ""}, "b": {}}) == []


def test_no_import_cycle(graph: Graph) -> None:
    found = cycles(graph)
    assert not found, "import cycles (break them: inject the dependency, move code down, split the module):\n" + (
        _describe(found))


def test_packages_import_only_packages_below_them(graph: Graph) -> None:
    rank = {p: i for i, p in enumerate(PACKAGES)}
    upward = [f"{where}: {mod} imports {target}" for mod, targets in sorted(graph.items())
              for target, where in sorted(targets.items())
              if rank[target.split(".")[0]] > rank[mod.split(".")[0]]]
    assert not upward, "imports that go up (journal < projections < hooks < cli):\n" + "\n".join(upward)


def test_journal_subsystems_never_import_the_facade(graph: Graph) -> None:
    facade = {"journal", "journal.store"}
    found = [f"{where}: {mod} imports {target}" for mod, targets in sorted(graph.items())
             if mod.startswith("journal.") and mod.count(".") >= 2
             for target, where in sorted(targets.items()) if target in facade]
    assert not found, "a journal subsystem imports the facade (take what it needs as an argument):\n" + "\n".join(found)


@pytest.mark.parametrize("package,layers", [("journal", JOURNAL_LAYERS), ("projections", PROJECTION_LAYERS)])
def test_layers_inside_a_package_go_down(graph: Graph, package: str,
                                         layers: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    mine = [m for m in graph if m == package or m.startswith(package + ".")]
    unplaced = [m for m in mine if layer_of(m, layers) is None]
    assert not unplaced, f"modules with no layer (add them to the {package} layers in this test): {unplaced}"
    names = [name for name, _ in layers]
    upward = []
    for mod in sorted(mine):
        here = layer_of(mod, layers)
        for target, where in sorted(graph[mod].items()):
            there = layer_of(target, layers) if target.split(".")[0] == package else None
            if here is not None and there is not None and there > here:
                upward.append(f"{where}: {mod} ({names[here]}) imports {target} ({names[there]})")
    assert not upward, f"imports that go up the {package} layers {' < '.join(names)}:\n" + "\n".join(upward)


if __name__ == "__main__":  # print the graph: `python3 tests/test_architecture.py`
    for name, targets in sorted(build_graph().items()):
        print(name, "->", " ".join(sorted(targets)))
