"""The project's import graph: no cycles, and dependencies that run one way.

Every module under bot/, dispatch/, storage/, sandbox/ and bench/ is parsed with `ast` (nothing is
imported), and every import in it is taken: at module level, inside functions and methods (a
deferred import still runs, only later) and under `if TYPE_CHECKING:`.

Which imports count where:

- Cycles are checked over the *runtime* graph: every import except those under
  `if TYPE_CHECKING:`. An annotation-only import never runs, so it cannot make a module half
  initialised; it is how a facade's parts name the facade's type (`dispatch.offers` annotates
  with `dispatch.dispatcher.Dispatch`, which builds it), and that is not a cycle.
- The layer rules are checked over *every* import, `TYPE_CHECKING` included: they are about the
  design ("dependencies run one way"), and a lower layer that even names a higher layer's type
  knows about it.

The layers: storage imports nothing of dispatch, bot, sandbox or bench; dispatch nothing of bot,
sandbox or bench; bot nothing of bench, and sandbox only from `bot.cli` (the `storerun sandbox`
command, which builds the bot and hands it to the sandbox); sandbox talks to the bot over HTTP, as
Telegram does, and imports nothing of it except the pairs in SANDBOX_MAY_IMPORT_BOT; nothing but
bench imports bench; nothing imports `bot.cli`, the entry point.

Ancestor packages a dotted import runs first (`bot/__init__.py` for `bot.texts`) are not edges of
their own; their `__init__` modules are parsed like any other, so an `__init__` that imports
something shows up with its own edges.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dispatch", "storage", "sandbox", "bench")

# What each layer must never import (any import, TYPE_CHECKING included).
FORBIDDEN: dict[str, frozenset[str]] = {
    "storage": frozenset({"dispatch", "bot", "sandbox", "bench"}),
    "dispatch": frozenset({"bot", "sandbox", "bench"}),
    "bot": frozenset({"sandbox", "bench"}),
    "sandbox": frozenset({"bot", "bench"}),
    "bench": frozenset(),
}
# The CLI's `sandbox` command is the one place the bot reaches into the sandbox.
BOT_MAY_IMPORT_SANDBOX = frozenset({"bot.cli"})
# A simulated pilot day (sandbox.simulation.PilotDay) runs the real bot in-process, on the
# simulated clock: it builds the bot, settles it before each move of the clock (its timers, inbox
# and outbox), stops it, and draws the day's chart with the bot's own drawing. Tests and hooks
# reach into `PilotDay.bot` as well, so handing it in from outside would only move the import.
# Its simulated people read the bot's words as people do: they find buttons and messages by the
# catalog's text (bot.texts, bot.keyboards, in English through bot.i18n), never by copied English.
# These are the only sandbox -> bot imports; the sandbox never imports the CLI (no cycle).
SANDBOX_MAY_IMPORT_BOT = frozenset(
    {
        ("sandbox.simulation", "bot.app"),
        ("sandbox.simulation", "bot.config"),
        ("sandbox.simulation", "bot.charts"),
        ("sandbox.simulation", "bot.i18n"),
        ("sandbox.simulation", "bot.texts"),
        ("sandbox.simulation", "bot.keyboards"),
    }
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    type_checking: bool

    def __str__(self) -> str:
        only = " (TYPE_CHECKING)" if self.type_checking else ""
        return f"{self.importer} -> {self.imported} (line {self.line}){only}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _raw_imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement anywhere in the tree, with whether it only runs for type checkers."""

    def walk(node: ast.AST, type_checking: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_checking
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                yield from walk(statement, True)
            for statement in node.orelse:
                yield from walk(statement, type_checking)
            return
        for child in ast.iter_child_nodes(node):
            yield from walk(child, type_checking)

    yield from walk(tree, False)


def _ours(name: str, modules: Iterable[str]) -> str | None:
    """The project module `name` refers to: itself, or the nearest enclosing module we have."""
    known = set(modules)
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, source: str, modules: Iterable[str], is_package: bool = False) -> list[Import]:
    """The project modules `name` imports, parsed from its source."""
    known = set(modules) | {name}
    found: list[Import] = []
    for node, type_checking in _raw_imports(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            for alias in node.names:
                # `from bot import texts` imports the module bot.texts; `from bot.texts import X` bot.texts.
                submodule = f"{stem}.{alias.name}"
                targets.append(submodule if submodule in known else stem)
        for target in targets:
            ours = _ours(target, known)
            if ours is not None and ours != name:
                found.append(Import(name, ours, node.lineno, type_checking))
    return found


def project_imports(root: Path = ROOT) -> list[Import]:
    modules = project_modules(root)
    found: list[Import] = []
    for name, path in modules.items():
        found += imports_of(name, path.read_text(encoding="utf-8"), modules, path.name == "__init__.py")
    return found


@dataclass(frozen=True)
class Cycle:
    """A strongly connected group of modules, and one way round it (the imports along it)."""

    modules: tuple[str, ...]
    path: tuple[Import, ...]

    def __str__(self) -> str:
        way = " -> ".join(
            [self.path[0].importer] + [f"{edge.imported} (line {edge.line})" for edge in self.path]
        )
        others = sorted(set(self.modules) - {edge.importer for edge in self.path})
        return way + (f"   [also in this cycle: {', '.join(others)}]" if others else "")


def find_cycles(edges: Iterable[Import]) -> list[Cycle]:
    """One cycle for each strongly connected group of modules."""
    graph: dict[str, dict[str, Import]] = defaultdict(dict)
    for edge in edges:
        graph[edge.importer].setdefault(edge.imported, edge)
    nodes = sorted(set(graph) | {target for targets in graph.values() for target in targets})

    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    cycles: list[Cycle] = []
    for group in groups:
        members = set(group)
        first = group[0]
        # Shortest way from the group's first module back to itself, within the group.
        came_from: dict[str, Import] = {}
        frontier = [first]
        while frontier and first not in came_from:
            following: list[str] = []
            for node in frontier:
                for target, edge in sorted(graph[node].items()):
                    if target in members and target not in came_from:
                        came_from[target] = edge
                        following.append(target)
            frontier = following
        path: list[Import] = []
        node = first
        while True:
            edge = came_from[node]
            path.append(edge)
            node = edge.importer
            if node == first:
                break
        cycles.append(Cycle(tuple(group), tuple(path[::-1])))
    return cycles


def layer_violations(edges: Iterable[Import]) -> list[Import]:
    wrong: list[Import] = []
    for edge in edges:
        source, target = edge.importer.split(".")[0], edge.imported.split(".")[0]
        if target == source or target not in FORBIDDEN[source]:
            continue
        if source == "bot" and target == "sandbox" and edge.importer in BOT_MAY_IMPORT_SANDBOX:
            continue
        if (edge.importer, edge.imported) in SANDBOX_MAY_IMPORT_BOT:
            continue
        wrong.append(edge)
    return wrong


# --- the project ---


def test_the_graph_is_parsed() -> None:
    modules = project_modules()
    edges = project_imports()
    assert {"bot.cli", "dispatch.dispatcher", "storage.db", "sandbox.emulator"} <= set(modules)
    assert any(edge.importer == "bot.cli" and edge.imported.startswith("sandbox.") for edge in edges)


def test_no_import_cycle() -> None:
    runtime = [edge for edge in project_imports() if not edge.type_checking]
    cycles = find_cycles(runtime)
    assert not cycles, "import cycles (runtime imports):\n" + "\n".join(map(str, cycles))


def test_dependencies_run_one_way() -> None:
    wrong = layer_violations(project_imports())
    assert not wrong, "imports against the layers (bot -> dispatch -> storage; sandbox over HTTP):\n" + (
        "\n".join(str(edge) for edge in wrong)
    )


def test_nothing_imports_the_cli() -> None:
    importers = [edge for edge in project_imports() if edge.imported == "bot.cli"]
    assert not importers, "bot.cli is the entry point; imported by:\n" + "\n".join(map(str, importers))


def test_the_allowed_exceptions_are_still_needed() -> None:
    """An allowance that no import uses any more should go, so the rules stay as tight as the code."""
    edges = {(edge.importer, edge.imported) for edge in project_imports()}
    assert edges >= SANDBOX_MAY_IMPORT_BOT, sorted(SANDBOX_MAY_IMPORT_BOT - edges)


# --- the checker itself ---

SAMPLE = """
from __future__ import annotations
import os
from typing import TYPE_CHECKING
import bot.texts
from bot import keyboards, Nothing
from . import sibling
from .sibling import thing

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatch
else:
    from storage import db


def later() -> None:
    from sandbox.run import run_once
"""


def test_the_parser_sees_every_kind_of_import() -> None:
    modules = ["bot", "bot.texts", "bot.keyboards", "bot.sibling", "bot.here", "dispatch.dispatcher"]
    modules += ["storage", "storage.db", "sandbox", "sandbox.run"]
    found = {(edge.imported, edge.type_checking) for edge in imports_of("bot.here", SAMPLE, modules)}
    assert found == {
        ("bot.texts", False),
        ("bot.keyboards", False),
        ("bot", False),  # `Nothing` is a name in bot/__init__.py, not a module
        ("bot.sibling", False),
        ("dispatch.dispatcher", True),
        ("storage.db", False),
        ("sandbox.run", False),
    }


def test_a_cycle_is_reported_with_its_path() -> None:
    edges = [
        Import("a.x", "a.y", 1, False),
        Import("a.y", "a.z", 2, False),
        Import("a.z", "a.x", 3, False),
        Import("a.z", "a.w", 4, False),
    ]
    (cycle,) = find_cycles(edges)
    assert str(cycle) == "a.x -> a.y (line 1) -> a.z (line 2) -> a.x (line 3)"
    assert cycle.modules == ("a.x", "a.y", "a.z")
    assert find_cycles(edges[:2]) == []
    (bigger,) = find_cycles([*edges, Import("a.w", "a.y", 5, False)])
    assert str(bigger) == "a.w -> a.y (line 5) -> a.z (line 2) -> a.w (line 4)   [also in this cycle: a.x]"
