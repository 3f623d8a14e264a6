"""The planner on board: the payload power the compute manager runs at, from the node's own
picture of the next three orbits.

Every five minutes it solves the planner's LP (planner.py) from what the power and thermal
managers publish (their `PowerOutlook` and `ThermalState`) and the EPS's latest readings: the
predicted eclipses, the arrays' learnt output in sun, the essential loads' budget, the SOC
estimate and the last orbit of it (for the DoD limit), the battery's measured capacity, and the
payload and radiator temperatures. Until the orbit has been uploaded and the arrays learnt there
is no picture to plan from, and the power manager's grant rules alone. The power manager's
protections (shed, SAFE) stay above the plan either way.

The payload's heat path is modelled as one node on the radiator (conductance and heat capacity
are parameters of the compute manager); the radiator's temperature now stands in for its future,
so the plan keeps a margin below the throttle point, and the thermal manager still throttles if
the plan is wrong.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.core.modes import Mode
from gridfree.flight.hardware.interfaces import Quantity
from gridfree.flight.hardware.ports import EpsReadings
from gridfree.flight.power.outlook import PowerOutlook
from gridfree.flight.thermal.state import ThermalState

STEP_S = 300.0
ORBITS = 3
MARGIN_C = 3.0
SHED_MARGIN = 0.02  # SOC kept above the power manager's shed point
MIN_UTILISATION = 0.05


@dataclass(frozen=True)
class Allowance:
    """Whether compute may run now, why not ("" if it may), and at what utilisation; `planned_W`
    is the plan's power when the grant was weighed (NaN: no plan, the grant rules), else None."""

    allowed: bool
    reason: str
    utilisation: float = 0.0
    planned_W: float | None = None
    power_W: float = 0.0  # what compute may draw: the plan's power, or without a plan the grant


class OnboardPlanner:
    def __init__(self):
        self.plan: planner.Plan | None = None
        self.plan_t = -np.inf
        self.failures = 0

    def allowance(self, t: float, mode: Mode, outlook: PowerOutlook | None, thermal: ThermalState,
                  readings: EpsReadings, plan_on_board: bool, conductance_W_K: float,
                  heat_capacity_J_K: float) -> Allowance:
        """Compute runs in NOMINAL only, with an outlook, unshed, at the clock the plan's power (or
        without a plan the grant) buys, capped by the thermal manager; below MIN_UTILISATION not at all."""
        if mode is not Mode.NOMINAL:
            return Allowance(False, f"mode {mode.name}")
        if outlook is None:
            return Allowance(False, "no power outlook yet")
        if outlook.shed:
            return Allowance(False, "payload shed")
        planned_W = None
        if plan_on_board:
            planned_W = self.power_W(t, outlook, thermal, readings.get(Quantity.PAYLOAD_TEMP_C),
                                     readings.get(Quantity.RADIATOR_TEMP_C), conductance_W_K, heat_capacity_J_K)
        grant_W = outlook.grant_W if planned_W is None else planned_W
        planned_W = math.nan if planned_W is None else planned_W
        u = min(thermal.utilisation_cap, BOARD.clock_for(grant_W))
        if u < MIN_UTILISATION:
            return Allowance(False, f"grant {grant_W:.0f} W", planned_W=planned_W)
        return Allowance(True, "", u, planned_W, grant_W)

    def power_W(self, t: float, outlook: PowerOutlook, thermal: ThermalState, payload_C: float | None,
                radiator_C: float | None, conductance_W_K: float, heat_capacity_J_K: float) -> float | None:
        """The plan's payload power now, or None when there is nothing to plan from."""
        if t - self.plan_t >= STEP_S or self.plan is None:
            self.plan = self._solve(t, outlook, thermal, payload_C, radiator_C, conductance_W_K, heat_capacity_J_K)
            self.plan_t = t
        if self.plan is None:
            return None
        k = min(int((t - self.plan_t) // STEP_S), len(self.plan.power_W) - 1)
        return float(self.plan.power_W[k])

    def _solve(self, t: float, p: PowerOutlook, thermal: ThermalState, payload_C: float | None,
               radiator_C: float | None, conductance_W_K: float, heat_capacity_J_K: float) -> planner.Plan | None:
        history = p.soc_history
        if not p.has_orbit_picture or payload_C is None or radiator_C is None or not math.isfinite(thermal.throttle_C):
            return None
        limits = p.limits
        period = limits.orbit_period_s
        steps = int(ORBITS * period / STEP_S)
        mids = t + STEP_S * (np.arange(steps) + 0.5)
        shade = np.zeros(steps)
        for a, b in p.eclipses:  # the share of each step in shadow
            shade += np.clip((np.minimum(b, mids + STEP_S / 2) - np.maximum(a, mids - STEP_S / 2)) / STEP_S, 0, 1)
        generation = p.array_sun_W * (1.0 - np.clip(shade, 0.0, 1.0))
        recent = np.array([s for ts, s in history if ts > t - period])[::int(STEP_S)]  # one a second, kept
        try:
            plan = planner.solve(
                STEP_S, generation, p.essentials_W, capacity_Wh=p.capacity_Wh,
                soc0=p.soc, temp0_C=payload_C, recent_soc=recent, window=int(round(period / STEP_S)),
                max_discharge_W=limits.max_discharge_W,
                limits=planner.Limits(limits.shed_soc + SHED_MARGIN, limits.dod_limit, thermal.throttle_C - MARGIN_C),
                thermal=planner.Thermal(radiator_C, conductance_W_K, heat_capacity_J_K))
        except planner.PlanFailed:
            self.failures += 1
            return None
        return plan
