"""The payload power policies, one module the scheduling study and the node both fly.

A policy is an object with a `name` and `power_W(view) -> float`: the average payload power it asks
for over the next `view.step_s` seconds, from what the node knows (`NodeView`) and nothing else. The
executor (the study's simulator, or the node's compute manager) turns the power into a clock and
duty with `BOARD.operating_point`, and applies the power manager's protections and its own limit
guard: a policy should keep the limits but is not trusted to. `respects_limits` says whether it
means to (every policy but the old naive `greedy`, kept as the reference the issue started from).

The baselines are strong on purpose (issue 19): the planner has to beat the best of them in each
case, or the study says a fixed rule is enough there. Each one is a few arithmetic operations on the
view (well under a millisecond); "planned" solves the planner's LP every PLAN_STEP_S of view time
and flies the step it is in between solves. The rules keep the steady thermal limit, the DoD floor
all through the step and the discharge limit through `NodeView.cap_W`; "planned" keeps the DoD
floor and discharge limit the same way, and the temperature limit at the step's end (its LP models
the payload's heat capacity, so a cold payload may run above the steady limit for a while).
"""
from __future__ import annotations

from typing import Callable, Protocol

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.compute.nodeview import NodeView, solve_plan
from gridfree.protocols.compute import PAYLOAD_POLICIES

__all__ = ["NodeView", "POLICIES", "POLICY_IDS", "PLAN_STEP_S", "PLAN_ORBITS", "Policy", "solve_plan"]

PLAN_STEP_S = 300.0
PLAN_ORBITS = 3
GREEDY_SOC = 0.4  # the naive baseline's own threshold


class Policy(Protocol):
    name: str
    respects_limits: bool

    def power_W(self, view: NodeView) -> float: ...


def in_shadow(view: NodeView) -> tuple[float, float] | None:
    """The shadow (entry, exit) the node is in now, or None in sun."""
    now = view.next_shadow()
    return now if now is not None and now[0] <= view.t else None


def refill_W(view: NodeView, target_soc: float = 1.0) -> float:
    """The charge power that brings the battery to `target_soc` by the next shadow entry (within an
    orbit if none is predicted), at most the charge limit."""
    ahead = view.next_shadow()
    to_entry_s = max(ahead[0] - view.t, view.step_s) if ahead is not None else view.period_s
    need_Wh = max(0.0, target_soc - view.soc) * view.capacity_Wh / view.limits.charge_efficiency
    return min(need_Wh * 3600.0 / to_entry_s, view.max_charge_W)


def shadow_budget_W(view: NodeView, exit_s: float, share: float = 1.0) -> float:
    """`share` of the energy above the DoD floor spread over the rest of the shadow, less the
    essentials it also has to carry."""
    rest_s = max(exit_s - view.t, view.step_s)
    return share * view.energy_above_floor_Wh() * 3600.0 / rest_s - view.essentials_shadow_W


class Greedy:
    """The old naive baseline: flat out whenever the SOC estimate is above 40 %, limits or not."""
    name = "greedy"
    respects_limits = False

    def power_W(self, view: NodeView) -> float:
        return float(BOARD.max_W) if view.soc > GREEDY_SOC else 0.0


class GreedyBestClock:
    """The board at its most work per joule (BOARD.best_clock's draw) whenever the battery is above
    the DoD floor and the radiator can take it, less where a limit allows less."""
    name = "greedy-best-clock"
    respects_limits = True

    def power_W(self, view: NodeView) -> float:
        return min(float(BOARD.power_W(BOARD.best_clock)), view.cap_W())


class TwoLevel:
    """In shadow, the energy above the DoD floor spread over the predicted rest of the shadow; in
    sun, what the arrays leave after the essentials and the charge that refills the battery to
    `target_soc` (full) by the next shadow entry."""
    name = "two-level"
    respects_limits = True

    def __init__(self, target_soc: float = 1.0):
        self.target_soc = target_soc

    def power_W(self, view: NodeView) -> float:
        shadow = in_shadow(view)
        if shadow is not None:
            want = shadow_budget_W(view, shadow[1])
        else:
            want = view.array_sun_W - view.essentials_sun_W - refill_W(view, self.target_soc)
        return max(0.0, min(want, view.cap_W()))


class OrbitAverage:
    """One constant power: the next orbit's energy balance (generation less essentials, the charge
    efficiency on what the sun part stores), plus the correction that brings the SOC back to where
    it was an orbit ago. It assumes the sun part's surplus stays within the charge limit."""
    name = "orbit-average"
    respects_limits = True

    def power_W(self, view: NodeView) -> float:
        sun = 1.0 - view.shade(view.t, view.t + view.period_s)
        eff = view.limits.charge_efficiency
        correction_W = (view.soc_orbit_ago() - view.soc) * view.capacity_Wh * 3600.0 / view.period_s
        # eff sun (A - e_sun - P) - (1 - sun) (P + e_shadow) = correction, solved for P
        want = (eff * sun * (view.array_sun_W - view.essentials_sun_W)
                - (1.0 - sun) * view.essentials_shadow_W - correction_W) / (eff * sun + 1.0 - sun)
        return max(0.0, min(want, view.cap_W()))


class SunlightAware:
    """In the spirit of Phoenix (Liu et al., "In-Orbit Processing or Not? Sunlight-Aware Task
    Scheduling for Energy-Efficient Space Edge Computing Networks", 2024): sunlight first, the
    battery spared. In sun, all the arrays leave after the essentials and refilling to full; in
    shadow, only a share of the DoD budget, the battery's headroom (soc - soc_floor) / (1 - soc_floor),
    so a battery that came out of sun low is drawn on gently (shallower cycles, longer life)."""
    name = "sunlight-aware"
    respects_limits = True

    def power_W(self, view: NodeView) -> float:
        shadow = in_shadow(view)
        if shadow is not None:
            floor = view.limits.soc_floor
            headroom = min(1.0, max(0.0, (view.soc - floor) / (1.0 - floor))) if floor < 1.0 else 0.0
            want = shadow_budget_W(view, shadow[1], headroom)
        else:
            want = view.array_sun_W - view.essentials_sun_W - refill_W(view)
        return max(0.0, min(want, view.cap_W()))


class Planned:
    """Ours: the planner's LP (planner.solve) from the view, PLAN_ORBITS orbits ahead, solved again
    every PLAN_STEP_S seconds of view time; its first step is flown until the next solve.
    `plan` and `plan_t` are the plan in use and when it was made (the study admits jobs by it); a
    solve that fails is counted in `failures` and the two-level rule flies until the next one."""
    name = "planned"
    respects_limits = True

    def __init__(self, step_s: float = PLAN_STEP_S, orbits: float = PLAN_ORBITS):
        self.step_s, self.orbits = step_s, orbits
        self.plan: planner.Plan | None = None
        self.plan_t = float("-inf")
        self.solves = 0
        self.failures = 0
        self._fallback = TwoLevel()

    def power_W(self, view: NodeView) -> float:
        if not 0.0 <= view.t - self.plan_t < self.step_s:  # due (or the clock went back)
            self.plan_t = view.t
            self.solves += 1
            try:
                self.plan = solve_plan(view, self.step_s, self.orbits)
            except planner.PlanFailed:
                self.failures += 1
                self.plan = None
        if self.plan is None:
            return self._fallback.power_W(view)
        keep = min(view.battery_cap_W(), view.discharge_cap_W(),
                   max(view.steady_thermal_W(), view.thermal_cap_W()))
        return max(0.0, min(float(self.plan.power_W[0]), keep))


POLICY_IDS = PAYLOAD_POLICIES  # by the number the node's PayloadPolicy parameter and a scenario's `policy` use

POLICIES: dict[str, Callable[[], Policy]] = {
    policy.name: policy for policy in (Greedy, GreedyBestClock, TwoLevel, OrbitAverage, SunlightAware, Planned)
}
