"""What the EPS component offers the rest of the node, and what it takes from it.

The EPS component is the only one that talks to the board's driver. Others see the board through
these frozen values: a snapshot of the readings (with what the board last confirmed switched) and
requests to switch a load or set the payload's clock, answered with whether the board confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from gridfree.flight.hardware.interfaces import ItemRegisters, Quantity, Switch

_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class EpsReadings:
    """The latest reading of every quantity the board answered for (an absent one is missing, never
    a stale number), and the switch states the board last confirmed."""

    t: float
    values: Mapping[Quantity, float] = field(default_factory=lambda: _EMPTY)
    switched: Mapping[Switch, bool] = field(default_factory=lambda: _EMPTY)
    #: The board takes work items; False: it has no work interface (the node bills by datasheet).
    work_interface: bool = False
    #: The item registers as read in this sweep (fast sweeps only; None when not read, or not
    #: read consistently, in it: a stale count must not pass for a fresh one).
    item_accepted: int | None = None
    item_done: int | None = None
    item_done_energy_mJ: int | None = None
    item_busy_energy_mJ: int | None = None

    @property
    def items(self) -> ItemRegisters:
        return ItemRegisters(self.item_accepted, self.item_done, self.item_done_energy_mJ, self.item_busy_energy_mJ)

    @classmethod
    def of(cls, t: float, values: Mapping[Quantity, float], switched: Mapping[Switch, bool]) -> "EpsReadings":
        """A snapshot: later changes to `values` or `switched` do not show through it."""
        return cls(t, MappingProxyType(dict(values)), MappingProxyType(dict(switched)))

    def get(self, q: Quantity, default: float | None = None) -> float | None:
        return self.values.get(q, default)

    def is_on(self, s: Switch) -> bool | None:
        """What the board last confirmed for `s` (None: never switched since boot)."""
        return self.switched.get(s)


NO_READINGS = EpsReadings(0.0)


@dataclass(frozen=True)
class SwitchCommand:
    switch: Switch
    on: bool


@dataclass(frozen=True)
class PayloadClock:
    """The payload's commanded utilisation (its DVFS clock as a fraction of full)."""

    utilisation: float


@dataclass(frozen=True)
class PayloadWork:
    """A work item for the payload board: item `seq` of `kind` (protocols.compute.Kind) costing
    `work_M` millions of its kind's work unit; or, with `clear`, drop every item the board holds.
    Answered with True if the board took the item (its `accepted` reads `seq`) or confirmed the clear."""

    seq: int = 0
    kind: int = 0
    work_M: float = 0.0
    clear: bool = False
