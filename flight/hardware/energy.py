"""Energy meters: what the host the flight software runs on really spends, where it can tell.

The compute manager charges tenants the payload's energy by its model; a meter lets it publish,
beside that, what the host's own CPU spent computing the chunks (`compute.HostEnergyJ`), to set
against the model. The manager sees only this interface; which meter a node has, if any, is the
node's choice at assembly (`discover_energy_meter`). Linux RAPL (rapl.py) is one implementation.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class EnergyMeter(ABC):
    """A free-running energy counter read before and after a piece of work.

    A reading is opaque (a counter may be several, each wrapping on its own range); only the
    meter that made two readings can tell the energy between them."""

    @abstractmethod
    def read_J(self) -> Any | None:
        """The counter now, or None if it read badly (a bad read costs one measurement only)."""

    @abstractmethod
    def delta_J(self, before: Any, after: Any) -> float:
        """Joules spent between two readings of this meter, `before` first."""

    def spent_J(self, before: Any | None, after: Any | None) -> float:
        """`delta_J`, or 0 when either reading failed: nothing is made up."""
        return 0.0 if before is None or after is None else self.delta_J(before, after)


def discover_energy_meter() -> EnergyMeter | None:
    """The host's meter, or None if it has none the flight software may read (no RAPL, a
    container, a kernel that lets only root read the counters)."""
    # Imported here, not at the top: the RAPL driver implements this module's interface.
    from gridfree.flight.hardware.rapl import Rapl

    return Rapl.discover()
