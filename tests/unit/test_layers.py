"""glanc's packages follow its flow: a module imports only from the floors below
its own (or from its own package), and no modules import each other in a loop.
docs/phases.md says what each floor may do; this test keeps the imports honest."""

import ast
from pathlib import Path

GLANC = Path(__file__).parents[2] / "glanc"

# lowest first; packages on one floor may not import each other
FLOORS = (
    {"errors", "keys", "faults", "version", "text"},
    {"trust"},
    {"specs"},
    {"store", "lm"},
    {"recipe"},
    {"plan"},
    {"options"},
    {"execute"},
    {"quality"},
    {"artifact"},
    {"tasks"},
    {"cli"},
    {"__init__", "__main__"},
)
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}


def modules() -> dict[str, Path]:
    out = {}
    for path in GLANC.rglob("*.py"):
        parts = path.relative_to(GLANC.parent).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The glanc modules ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def part(module: str) -> str:
    """The floor name of a module: its package under glanc, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_package_has_a_floor():
    assert {part(m) for m in modules()} <= set(FLOOR)


def test_imports_only_run_down_the_flow():
    wrong = []
    for module, targets in graph().items():
        here = part(module)
        for target in targets:
            there = part(target)
            if there == here or target == "glanc":
                continue
            if FLOOR[there] >= FLOOR[here]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that run up or across the flow: " + ", ".join(sorted(wrong))


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if target == "glanc" or target not in edges:
                continue
            if state.get(target) == 1:
                raise AssertionError("import circle: " + " -> ".join(trail + [node, target]))
            if target not in state:
                visit(target, trail + [node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
