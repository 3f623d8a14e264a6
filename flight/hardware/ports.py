"""What the EPS component offers the rest of the node, and what it takes from it.

The EPS component is the only one that talks to the board's driver. Others see the board through
these frozen values: a snapshot of the readings (with what the board last confirmed switched) and
requests to switch a load or set the payload's clock, answered with whether the board confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from gridfree.flight.hardware.interfaces import Quantity, Switch

_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class EpsReadings:
    """The latest reading of every quantity the board answered for (an absent one is missing, never
    a stale number), and the switch states the board last confirmed."""

    t: float
    values: Mapping[Quantity, float] = field(default_factory=lambda: _EMPTY)
    switched: Mapping[Switch, bool] = field(default_factory=lambda: _EMPTY)

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
