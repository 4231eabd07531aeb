"""The package's imports point one way (DESIGN.md): no circles, no import from a lower layer.

Every module's imports are read from its source (type-hint imports included), so a new import
that breaks the layering fails here before it turns into a circle someone has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mitmtape

PACKAGE = Path(mitmtape.__file__).parent

# Each place (a module, or a folder of modules) and the places it may import from, as in
# DESIGN.md's table. `GROUND` is open to everyone: the model and the formatters.
GROUND = {"model", "text", "progress"}
CORE_BELOW_DOORS = {
    "store",
    "capture",
    "shapes",
    "export",
    "importers",
    "codegen",
    "compare",
    "sync",
}
MAY_IMPORT: dict[str, set[str]] = {
    "model": set(),
    "text": set(),
    "progress": set(),
    "store": GROUND,
    "capture": GROUND | {"store"},
    "shapes": GROUND,
    "export": GROUND | {"store", "shapes", "capture"},
    "importers": GROUND | {"store", "capture"},
    "codegen": GROUND,
    "compare": GROUND | {"store", "shapes"},
    "workspace": GROUND | {"store", "shapes"},
    "sync": GROUND | {"store"},
    "addon": GROUND | CORE_BELOW_DOORS | {"workspace", "api", "web"},
    "api": GROUND | CORE_BELOW_DOORS | {"workspace", "web"},
    "web": GROUND | CORE_BELOW_DOORS | {"workspace", "api"},
    # `mitmtape mcp` starts the MCP server, the other door in the top row.
    "cli": GROUND | CORE_BELOW_DOORS | {"workspace", "api", "mcp"},
    "script": GROUND | CORE_BELOW_DOORS | {"workspace", "api", "web", "addon"},
    "mcp": GROUND | CORE_BELOW_DOORS | {"workspace", "api"},
}
# The web page's routes live on the API's server and may use only its base parts, never the
# module that builds the server.
WEB_MAY_USE_FROM_API = {"api.base", "api.context", "api.security"}
# `capture` is allowed to export and import only for mitmproxy's own flow-file format.
CAPTURE_USERS_OUTSIDE = {"export.mitmfile", "importers.mitmfile"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _is_module(dotted: str) -> bool:
    return dotted.removeprefix("mitmtape.") in MODULES


def imports_of(name: str) -> set[str]:
    """Every mitmtape module `name` imports, resolved to the longest module that exists."""
    path = MODULES[name]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["mitmtape", *name.split(".")] if name else ["mitmtape"]
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from package import module` imports the module, not the package's own names.
            targets = [
                f"{module}.{alias.name}" if _is_module(f"{module}.{alias.name}") else module
                for alias in node.names
            ]
        for target in targets:
            if target != "mitmtape" and not target.startswith("mitmtape."):
                continue
            relative = target.removeprefix("mitmtape").removeprefix(".")
            while relative and relative not in MODULES:
                relative = relative.rpartition(".")[0]
            if relative and relative != name:
                found.add(relative)
    return found


def place_of(name: str) -> str:
    return name.split(".")[0]


def test_every_module_has_a_place_in_the_design() -> None:
    unplaced = sorted(n for n in MODULES if n and place_of(n) not in MAY_IMPORT)
    assert unplaced == [], f"modules outside DESIGN.md's table: {unplaced}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n))
def test_imports_follow_the_layers(name: str) -> None:
    place = place_of(name)
    wrong = []
    for target in sorted(imports_of(name)):
        other = place_of(target)
        if other == place:
            continue
        allowed = other in MAY_IMPORT[place]
        if place == "web" and other == "api":
            allowed = target in WEB_MAY_USE_FROM_API
        if other == "capture" and place in {"export", "importers"}:
            allowed = name in CAPTURE_USERS_OUTSIDE
        if not allowed:
            wrong.append(target)
    assert wrong == [], f"{name} imports from a lower layer: {wrong}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if "." in n))
def test_a_part_never_imports_the_package_that_composes_it(name: str) -> None:
    """`addon/exports.py` gets the recorder it needs; it never imports `MitmTape` (not even for
    a type hint), or the package and its parts would import each other."""
    ancestors = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
    assert imports_of(name) & ancestors == set()


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the import circles of the graph (sets of two or more modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            circle = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                circle.append(member)
                if member == node:
                    break
            if len(circle) > 1:
                circles.append(sorted(circle))

    for node in graph:
        if node not in index:
            visit(node)
    return circles


def import_graph() -> dict[str, set[str]]:
    """Modules → what they import; a package's `__init__` re-exporting its children is not a
    circle with them."""
    graph = {}
    for name in MODULES:
        targets = imports_of(name)
        if MODULES[name].name == "__init__.py":
            targets = {t for t in targets if not t.startswith(f"{name}.") or not name}
        graph[name] = targets
    return graph


def test_no_import_circles() -> None:
    assert strongly_connected(import_graph()) == []


def test_the_circle_finder_sees_a_circle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
