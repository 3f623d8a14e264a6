"""The payload power policy on board: the power the compute manager runs at, from the node's own
picture of the next orbits.

The picture is a `NodeView` (nodeview.py) built from what the power and thermal managers publish
(their `PowerOutlook` and `ThermalState`) and the EPS's latest readings: the predicted eclipses,
the arrays' learnt output in sun, the essential loads' budget, the SOC estimate and the last orbit
of it (for the DoD limit), the battery's measured capacity, and the payload and radiator
temperatures. The policy flying it is the parameter PayloadPolicy (policies.py, the same code the
scheduling study compares; 0, the planner's LP solved every five minutes, by default). Until the
orbit has been uploaded and the arrays learnt there is no picture, and the power manager's grant
rules alone. Whatever the policy asks, the limit guard holds the DoD floor, the discharge limit and
the temperature limit all through the next decision period by the node's own estimates, and the
power manager's protections (shed, SAFE) stay above both.

The payload's heat path is modelled as one node on the radiator (conductance and heat capacity
are parameters of the compute manager); the radiator's temperature now stands in for its future,
so the limit keeps a margin below the throttle point, and the thermal manager still throttles if
the model is wrong.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.compute.nodeview import NodeView
from gridfree.flight.compute.policies import POLICY_IDS, POLICIES, Policy
from gridfree.flight.core.modes import Mode
from gridfree.flight.hardware.interfaces import Quantity
from gridfree.flight.hardware.ports import EpsReadings
from gridfree.flight.power.outlook import PowerOutlook
from gridfree.flight.thermal.state import ThermalState

DECISION_S = 10.0  # how long the guard holds a power: the manager decides again each tick, well within
MARGIN_C = 3.0
SHED_MARGIN = 0.02  # SOC kept above the power manager's shed point
MIN_UTILISATION = 0.05


@dataclass(frozen=True)
class Allowance:
    """Whether compute may run now, why not ("" if it may), and at what utilisation; `planned_W`
    is the policy's power when the grant was weighed (NaN: no picture, the grant rules), else None."""

    allowed: bool
    reason: str
    utilisation: float = 0.0
    planned_W: float | None = None
    power_W: float = 0.0  # what compute may draw: the policy's power, or without a picture the grant


class OnboardPlanner:
    def __init__(self):
        self.policy: Policy = POLICIES[POLICY_IDS[0]]()
        self.failures = 0  # pictures the node could not make (non-finite telemetry)

    @property
    def plan(self) -> planner.Plan | None:
        """The planner's plan when the planner flies (the queue's deadline check reads it)."""
        return getattr(self.policy, "plan", None)

    @property
    def plan_t(self) -> float:
        return getattr(self.policy, "plan_t", -np.inf)

    def fly(self, policy_id: int) -> None:
        """Fly the policy PayloadPolicy names (a fresh one: a policy keeps state, e.g. a plan)."""
        name = POLICY_IDS[policy_id] if 0 <= policy_id < len(POLICY_IDS) else POLICY_IDS[0]
        if name != self.policy.name:
            self.policy = POLICIES[name]()

    def allowance(self, t: float, mode: Mode, outlook: PowerOutlook | None, thermal: ThermalState,
                  readings: EpsReadings, plan_on_board: bool, conductance_W_K: float,
                  heat_capacity_J_K: float) -> Allowance:
        """Compute runs in NOMINAL only, with an outlook, unshed, at the clock the policy's power (or
        without a picture the grant) buys, capped by the thermal manager; below MIN_UTILISATION not at all."""
        if mode is not Mode.NOMINAL:
            return Allowance(False, f"mode {mode.name}")
        if outlook is None:
            return Allowance(False, "no power outlook yet")
        if outlook.shed:
            return Allowance(False, "payload shed")
        planned_W = None
        if plan_on_board:
            view = self.view(t, outlook, thermal, readings.get(Quantity.PAYLOAD_TEMP_C),
                             readings.get(Quantity.RADIATOR_TEMP_C), conductance_W_K, heat_capacity_J_K)
            if view is not None:
                asked = max(0.0, float(self.policy.power_W(view)))
                planned_W = min(asked, max(0.0, min(view.battery_cap_W(), view.discharge_cap_W(),
                                                    view.thermal_cap_W())))
        grant_W = outlook.grant_W if planned_W is None else planned_W
        planned_W = math.nan if planned_W is None else planned_W
        u = min(thermal.utilisation_cap, BOARD.clock_for(grant_W))
        if u < MIN_UTILISATION:
            return Allowance(False, f"grant {grant_W:.0f} W", planned_W=planned_W)
        return Allowance(True, "", u, planned_W, grant_W)

    def view(self, t: float, p: PowerOutlook, thermal: ThermalState, payload_C: float | None,
             radiator_C: float | None, conductance_W_K: float, heat_capacity_J_K: float) -> NodeView | None:
        """The node's picture now, or None when there is nothing to make one from."""
        if not p.has_orbit_picture or payload_C is None or radiator_C is None or not math.isfinite(thermal.throttle_C):
            return None
        limits = p.limits
        period = limits.orbit_period_s
        history = np.array([s for ts, s in p.soc_history if ts > t - period], float)  # one a second
        try:
            return NodeView(t=t, soc=p.soc, soc_history=history, history_step_s=1.0, temp_C=payload_C,
                            sink_C=radiator_C, eclipses=p.eclipses, array_sun_W=p.array_sun_W,
                            essentials_sun_W=p.essentials_W, essentials_shadow_W=p.essentials_W,
                            period_s=period, capacity_Wh=p.capacity_Wh,
                            limits=planner.Limits(limits.shed_soc + SHED_MARGIN, limits.dod_limit,
                                                  thermal.throttle_C - MARGIN_C),
                            thermal=planner.Thermal(radiator_C, conductance_W_K, heat_capacity_J_K),
                            max_charge_W=math.inf, max_discharge_W=limits.max_discharge_W, step_s=DECISION_S)
        except ValueError:
            self.failures += 1
            return None
