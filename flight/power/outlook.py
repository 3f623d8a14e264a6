"""The power manager's offer to the rest of the node, published every 1 Hz tick.

Everything the compute manager and its planner need to know about energy: whether the payload is
shed, the grant now and per orbit segment, the predicted eclipses, the learnt array output and
essential loads, the SOC estimate with its uncertainty and last orbit of history, and the limits
the power manager enforces (so a planner can stay inside them rather than be stopped by them).
"""
from __future__ import annotations

from dataclasses import dataclass

from gridfree.flight.power.budget import GrantSegment


@dataclass(frozen=True)
class PowerLimits:
    shed_soc: float  # fraction: the payload goes off below this SOC
    dod_limit: float  # fraction: the largest depth of discharge allowed per orbit
    max_discharge_W: float
    orbit_period_s: float  # the window of the DoD limit, and the forecast's orbit


@dataclass(frozen=True)
class PowerOutlook:
    t: float
    shed: bool
    grant_W: float  # what compute may draw now
    grant_energy_Wh: float  # what compute may use before the DoD floor
    segments: tuple[GrantSegment, ...]  # the grant per sunlit/shadow segment of the next orbits
    eclipses: tuple[tuple[float, float], ...]  # predicted (entry, exit), unix s; empty: no orbit uploaded
    array_sun_W: float  # the arrays' output in full sun, learnt (0: not yet)
    essentials_W: float  # orbit-average draw of every load but the payload
    soc: float  # fraction
    soc_sigma: float
    soc_history: tuple[tuple[float, float], ...]  # (t, SOC) over the last orbit, one a second
    capacity_Wh: float  # at nominal voltage, with the capacity measured over eclipses
    limits: PowerLimits
    initialised: bool  # the estimate has had a battery reading

    @property
    def has_orbit_picture(self) -> bool:
        return bool(self.eclipses) and self.array_sun_W > 0.0 and bool(self.soc_history)
