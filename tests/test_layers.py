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
