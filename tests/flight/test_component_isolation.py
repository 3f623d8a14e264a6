"""Components know each other only through the values on their ports: a module that defines a
component imports no module that defines another (only the topology and the node assembly do),
so one cannot reach into another's attributes, and a component is tested alone."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSEMBLY = {"gridfree.flight.app.topology", "gridfree.flight.app.node"}


def module_name(path: Path) -> str:
    return "gridfree." + ".".join(path.relative_to(ROOT).with_suffix("").parts)


def component_modules() -> dict[str, ast.Module]:
    out = {}
    for path in (ROOT / "flight").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.ClassDef) and any(getattr(b, "id", getattr(b, "attr", "")) == "Component"
                                                   for b in n.bases) for n in tree.body):
            out[module_name(path)] = tree
    return out


def imported(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_there_are_components_to_check():
    assert {"gridfree.flight.power.manager", "gridfree.flight.thermal.manager", "gridfree.flight.compute.manager",
            "gridfree.flight.hardware.eps", "gridfree.flight.core.dispatch"} <= set(component_modules())


def test_no_component_module_imports_another_component_module():
    modules = component_modules()
    offenders = [f"{name} imports {target}" for name, tree in modules.items() if name not in ASSEMBLY
                 for target in set(imported(tree)) if target in modules and target != name]
    assert not offenders, "\n".join(sorted(offenders))
