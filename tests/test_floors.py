"""The house's floors: no module imports from a floor above its own, and no import circle.

Every import of the package's own modules is read from the source, lazy ones inside
functions and those under `if TYPE_CHECKING:` included: a lazy import that climbs back up
is still a climb, and it hides a circle until the day it runs first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bilstm_hooks"

# Lowest first. A module may import from its own floor or any floor below it.
FLOORS = (
    "_base",  # errors, argument checks, packed lengths, Dynamo's skip list
    "_names",  # named dims as data: layouts, axes, derived views, notes
    "_core",  # the registry, AnnotatedTensor, the lookup, the providers table
    "_helpers",  # plain-tensor helpers
    "_follow",  # names carried through torch ops; layout bugs caught
    "_replay",  # a recorded call replayed step by step, read through `RecordedCall`
    "_recording",  # hooks, Recorder, Record
    "_display",  # text, HTML, diagrams, plots, summary, debugger
    "_cli",  # the command line
    "",  # the package itself: __init__, __main__
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    """The floor of a dotted module name of the package."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in FLOORS:
        return FLOORS.index(parts[1])
    return FLOORS.index("")


def imports_of(path: Path, module: str | None = None) -> set[str]:
    """The package's modules that `path` (the module `module`) imports, anywhere in it."""
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("bilstm_hooks"):
                continue
            for alias in node.names:  # `from . import registry` imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if resolves(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bilstm_hooks")}
    found.discard(module)
    return found


def resolves(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (
        PACKAGE / relative / "__init__.py"
    ).is_file()


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_subpackage_has_a_floor() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(FLOORS) - {""}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_climbs_to_a_higher_floor(module: str) -> None:
    up = sorted(t for t in GRAPH[module] if floor(t) > floor(module))
    assert not up, f"{module} (floor {FLOORS[floor(module)]!r}) imports from above: {up}"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
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
    return found


def test_no_import_circle() -> None:
    assert circles(GRAPH) == []


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_walk_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..names import layout\n"
        "if TYPE_CHECKING:\n"
        "    from ..recording.record import Record\n"
        "def f():\n"
        "    from .._display import text\n"
        "    import bilstm_hooks._cli.main\n"
    )
    assert imports_of(source, "bilstm_hooks._core.probe") == {
        "bilstm_hooks.names",  # not a module of the package: kept as written
        "bilstm_hooks.recording.record",
        "bilstm_hooks._display.text",
        "bilstm_hooks._cli.main",
    }


def test_no_module_is_over_300_lines() -> None:
    long = {
        module_name(path): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert long == {}
