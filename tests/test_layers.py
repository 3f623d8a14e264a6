"""The import direction of ARCHITECTURE.md, checked on the source: native <- protocols <- flight,
ground; flight and ground never import each other."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "native": {"native"},
    "protocols": {"native", "protocols"},
    "flight": {"native", "protocols", "flight"},
    "ground": {"native", "protocols", "ground"},
}


def gridfree_imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "gridfree" and len(parts) > 1:
                yield node.lineno, parts[1]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    offenders = [f"{p.relative_to(ROOT)}:{line} imports gridfree.{target}"
                 for p in (ROOT / layer).rglob("*.py")
                 for line, target in gridfree_imports(p) if target not in ALLOWED[layer]]
    assert not offenders, "\n".join(offenders)


# The rig is ground support equipment with a truth model of its own (ARCHITECTURE.md): a scenario
# tests the node's estimators, predictors and payload datasheet only if the rig does not fly the
# same code. Everything under gridfree.flight is the node's; these protocols modules were, or would
# be, node models in the shared package (the payload datasheet lived in protocols/payload.py).
NODE_MODEL_MODULES = ("gridfree.flight", "gridfree.protocols.payload")
NODE_MODEL_NAMES = {"BOARD", "PayloadModel", "KindModel", "KIND_MODELS", "SocEstimator", "EclipsePredictor"}


def imported_modules(path: Path):
    """(line, dotted module, names) of every absolute import in a file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, ()
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, tuple(a.name for a in node.names)


def test_the_rig_imports_no_node_model():
    offenders = []
    for p in (ROOT / "ground" / "hil").rglob("*.py"):
        for line, module, names in imported_modules(p):
            modules = [module] + [f"{module}.{n}" for n in names]
            if any(m == bad or m.startswith(bad + ".") for m in modules for bad in NODE_MODEL_MODULES):
                offenders.append(f"{p.relative_to(ROOT)}:{line} imports {module}")
            elif NODE_MODEL_NAMES & set(names):
                offenders.append(f"{p.relative_to(ROOT)}:{line} imports {sorted(NODE_MODEL_NAMES & set(names))} "
                                 f"from {module}")
    assert not offenders, "\n".join(offenders)
