"""The layout promised in the README holds: no import circle between the
project's modules (an import inside a function counts too: it is still a
dependency), each layer imports only from the layers below it, and no
module is so large that it holds more than one idea."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from tests.helpers import parse_sources

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "activities",
    "bench",
    "client",
    "console",
    "dryrun",
    "engine",
    "infra",
    "models",
    "packtools",
    "sandbox",
    "starter",
    "workflows",
]
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    mods = {"worker": ROOT / "worker.py"}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = path
    return mods


def _imports(tree: ast.Module, path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules that `name` (parsed: `tree`) imports, anywhere in the file."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@functools.cache
def _parsed_graph() -> dict[str, frozenset[str]]:
    mods = _modules()
    trees = parse_sources(mods.values())
    return {
        name: frozenset(_imports(trees[path], path, name, set(mods))) for name, path in mods.items()
    }


def _graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (the tree is parsed once a run)."""
    return {name: set(deps) for name, deps in _parsed_graph().items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, if it has any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.slow
def test_no_import_cycle_between_modules():
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a circle.
    graph = {
        m: {d for d in deps if not (m.startswith(d + ".") and d in graph)}
        for m, deps in graph.items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


# What each layer may import from the project. The bottom is pure (models,
# then the engine); workflows add only activity references; the front doors
# (client, console, dry-run tools) never reach up into starter, whose CLI
# sits on top and runs them all. The console shows the dry-run tools' what-if
# report (console/whatif.py); the dry-run tools never import the console.
MAY_IMPORT = {
    "models": set(),
    "engine": {"models"},
    "workflows": {"models", "engine", "activities"},
    "client": {"models", "engine", "infra", "workflows"},
    "console": {
        "models",
        "engine",
        "infra",
        "workflows",
        "client",
        "dryrun",
    },  # dryrun: the what-if page
    "packtools": {"models", "engine"},
    "dryrun": {"models", "engine", "infra", "workflows", "activities", "client", "sandbox"},
}


@pytest.mark.slow
def test_each_layer_imports_only_from_below():
    wrong = {
        f"{mod} -> {dep}"
        for mod, deps in _graph().items()
        for dep in deps
        if (top := mod.split(".")[0]) in MAY_IMPORT
        and dep.split(".")[0] not in MAY_IMPORT[top] | {top}
    }
    assert not wrong, sorted(wrong)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_over_the_size_of_one_idea():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules: {long}"
