"""Mission key material for tests, made as an operator makes it (`gridfree keys init`)."""
from __future__ import annotations

from pathlib import Path

from gridfree.ground.keys.material import Material, init
from gridfree.ground.keys.session import GroundSecurity


def make_keys(where: Path, tenants: int = 2) -> Material:
    """Fresh keys under where/keys: .node for the node's [security] keys, .ground and .tenants."""
    return init(Path(where) / "keys", tenants)


def operator(material: Material) -> GroundSecurity:
    return GroundSecurity.load(material.ground)


def tenant(material: Material, n: int) -> GroundSecurity:
    return GroundSecurity.load(material.tenants[n - 1])
