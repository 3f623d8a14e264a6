"""What the node knows at one moment, and the arithmetic every payload policy does on it.

A policy (policies.py) decides the payload's power from a `NodeView` alone: the node's own SOC
estimate and its last orbit, its own eclipse predictions, its learnt array output and essential
loads, and the limits the power and thermal managers enforce. The scheduling study builds one from
the node's estimates in its simulated world and the node builds one from its `PowerOutlook`, so a
policy flies the same in both, and the sampling the planner's LP needs (generation and essentials
per step from the predicted eclipses, the last orbit's SOC per step) is done here once for both.

The power model is the one the study and the power manager share: in sun the arrays give
`array_sun_W`, in shadow nothing; the essentials draw `essentials_sun_W` in sun and
`essentials_shadow_W` in shadow (survival heater on); what is left charges the battery at
`limits.charge_efficiency`, at most `max_charge_W` (the rest is shunted), up to full; a deficit
comes out of the battery, at most `max_discharge_W`. The caps below keep a constant payload power
inside the limits all through a step of that model, not only at its end: the DoD peaks the planner
missed (issue 19) fell inside its steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD


@dataclass(frozen=True)
class NodeView:
    """What the node knows at time t (never the simulator's or rig's truth)."""
    t: float                        # unix s
    soc: float                      # the node's SOC estimate, 0..1
    soc_history: np.ndarray         # its SOC estimates over the last orbit, oldest first, one per
                                    # `history_step_s` (may be empty)
    history_step_s: float
    temp_C: float                   # payload temperature now
    sink_C: float                   # the payload's radiator/sink temperature now
    eclipses: tuple[tuple[float, float], ...]  # predicted shadow (entry, exit) unix s, covering
                                    # at least the next PLAN_ORBITS orbits (an interval may have begun)
    array_sun_W: float              # learnt array output in full sun
    essentials_sun_W: float         # every load but the payload, in sun
    essentials_shadow_W: float      # in shadow (survival heater on)
    period_s: float
    capacity_Wh: float
    limits: planner.Limits          # soc_floor, dod_limit, temp_max_C, charge_efficiency
    thermal: planner.Thermal        # sink_C there is ignored: use view.sink_C
    max_charge_W: float
    max_discharge_W: float
    step_s: float = 60.0            # how long the executor holds the power a policy asks for: the
                                    # caps keep the limits all through a step this long

    def __post_init__(self):
        """Refuse a view no policy could act on safely (NaN telemetry, a zero capacity), with one
        line saying what is wrong; sort the eclipses and merge any that overlap."""
        for name in ("t", "soc", "temp_C", "sink_C", "array_sun_W", "essentials_sun_W",
                     "essentials_shadow_W", "max_charge_W", "max_discharge_W"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating, np.integer)) or math.isnan(value) \
                    or (name not in ("max_charge_W", "max_discharge_W") and math.isinf(value)):
                raise ValueError(f"node view: {name} is {value!r}, not a finite number")
        for name in ("history_step_s", "period_s", "capacity_Wh", "step_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
                raise ValueError(f"node view: {name} is {value!r}, not a positive number")
        history = np.asarray(self.soc_history, float).ravel()
        if not np.all(np.isfinite(history)):
            raise ValueError("node view: the SOC history holds a non-finite sample")
        merged: list[list[float]] = []
        for entry, exit_ in sorted((float(a), float(b)) for a, b in self.eclipses):
            if not (math.isfinite(entry) and math.isfinite(exit_) and entry < exit_):
                raise ValueError(f"node view: eclipse ({entry}, {exit_}) is not a finite interval")
            if merged and entry <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], exit_)
            else:
                merged.append([entry, exit_])
        object.__setattr__(self, "soc_history", history)
        object.__setattr__(self, "eclipses", tuple((a, b) for a, b in merged))
        object.__setattr__(self, "_edges", np.array(merged, float).reshape(-1, 2))

    # ---- the orbit, from the predicted eclipses --------------------------------------------------

    def shade(self, t0, t1):
        """The share of [t0, t1] in shadow (arrays welcome, element by element); at t1 <= t0 the
        share at the instant t0 (1 in shadow, else 0)."""
        if np.ndim(t0) == 0 and np.ndim(t1) == 0:
            t0, t1 = float(t0), float(t1)
            if t1 <= t0:
                return 0.0 if self.sunlit(t0) else 1.0
            dark = sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in self.eclipses if a < t1 and b > t0)
            return min(1.0, dark / (t1 - t0))
        t0, t1 = np.broadcast_arrays(np.asarray(t0, float), np.asarray(t1, float))
        a, b = self._edges[:, 0], self._edges[:, 1]
        dark = np.clip(np.minimum(b, t1[..., None]) - np.maximum(a, t0[..., None]), 0.0, None).sum(axis=-1)
        span = t1 - t0
        instant = 1.0 - self.sunlit(t0).astype(float)
        return np.where(span > 0, np.clip(dark / np.where(span > 0, span, 1.0), 0.0, 1.0), instant)

    def sunlit(self, t):
        """Whether the node is in sun at `t` (an array of times gives an array)."""
        if np.ndim(t) == 0:
            t = float(t)
            return not any(a <= t < b for a, b in self.eclipses)
        t = np.asarray(t, float)
        return ~np.any((self._edges[:, 0] <= t[..., None]) & (t[..., None] < self._edges[:, 1]), axis=-1)

    def next_shadow(self, t: float | None = None) -> tuple[float, float] | None:
        """The predicted shadow (entry, exit) the node is in at `t` (default: now) or enters next;
        None if none is predicted."""
        t = self.t if t is None else t
        for a, b in self.eclipses:
            if b > t:
                return a, b
        return None

    def generation_W(self, times, step_s: float | None = None):
        """The arrays' average output over [t, t + step_s) for each t of `times` (step_s: the
        view's `step_s` unless given)."""
        step = self.step_s if step_s is None else step_s
        return self.array_sun_W * (1.0 - self.shade(times, np.asarray(times, float) + step))

    def essentials_W(self, times, step_s: float | None = None):
        """The essential loads' average draw over [t, t + step_s) for each t of `times`."""
        step = self.step_s if step_s is None else step_s
        dark = self.shade(times, np.asarray(times, float) + step)
        return self.essentials_sun_W + dark * (self.essentials_shadow_W - self.essentials_sun_W)

    # ---- the battery's history -----------------------------------------------------------------

    def _last_orbit(self) -> np.ndarray:
        n = int(math.ceil(self.period_s / self.history_step_s))
        return self.soc_history[-n:]

    def dod_floor(self) -> float:
        """The lowest SOC the limits allow now: the SOC floor, or the DoD limit below the highest SOC
        of the last orbit (now included), whichever is higher. Held for the whole step: a step's own
        SOC rise is a fraction of a percent."""
        history = self._last_orbit()
        peak = max(self.soc, float(history.max())) if len(history) else self.soc
        return max(self.limits.soc_floor, peak - self.limits.dod_limit)

    def energy_above_floor_Wh(self) -> float:
        """What the battery may still give before the DoD floor (0 when at or below it)."""
        return max(0.0, self.soc - self.dod_floor()) * self.capacity_Wh

    def soc_orbit_ago(self) -> float:
        """The SOC estimate an orbit ago (the oldest sample if the history is shorter; now if empty)."""
        history = self.soc_history
        if not len(history):
            return self.soc
        n = int(round(self.period_s / self.history_step_s))
        return float(history[max(0, len(history) - n)])

    def recent_soc(self, step_s: float) -> np.ndarray:
        """The last orbit's SOC one sample per `step_s`, oldest first, as the planner's DoD limit
        reads it: each sample is the highest SOC of its stretch (aligned to now), not one reading of
        it, so a peak between samples still sets the floor the plan must keep."""
        history = self._last_orbit()
        stride = max(1, int(round(step_s / self.history_step_s)))
        n = len(history) // stride
        if n == 0:
            return history[-1:].copy()
        return history[len(history) - n * stride:].reshape(n, stride).max(axis=1)

    # ---- the limits as powers ------------------------------------------------------------------

    def steady_thermal_W(self) -> float:
        """The power the radiator rejects for good at the temperature limit."""
        return self.thermal.conductance_W_K * (self.limits.temp_max_C - self.sink_C)

    def thermal_cap_W(self, step_s: float | None = None) -> float:
        """The most constant power after which the payload is no hotter than the limit at the end
        of a step (the node's exact first-order response; at or above the steady power while the
        payload is below the limit). The temperature is monotone through such a step."""
        step = self.step_s if step_s is None else step_s
        g = self.thermal.conductance_W_K
        a = math.exp(-g * step / self.thermal.heat_capacity_J_K)
        return g * ((self.limits.temp_max_C - a * self.temp_C) / (1.0 - a) - self.sink_C)

    def _segments(self, step_s: float) -> list[tuple[float, bool]]:
        """The next step cut at eclipse edges: (duration s, in shadow) in time order."""
        t0, t1 = self.t, self.t + step_s
        cuts = sorted({t0, t1, *(e for a, b in self.eclipses for e in (a, b) if t0 < e < t1)})
        return [(b - a, not self.sunlit((a + b) / 2)) for a, b in zip(cuts, cuts[1:])]

    def discharge_cap_W(self, step_s: float | None = None) -> float:
        """The most payload power the battery's discharge limit supplies all through the step."""
        segments = self._segments(self.step_s if step_s is None else step_s)
        return max(0.0, min(self._net_W(dark) for _, dark in segments) + self.max_discharge_W)

    def _net_W(self, dark: bool) -> float:
        return -self.essentials_shadow_W if dark else self.array_sun_W - self.essentials_sun_W

    def battery_cap_W(self, step_s: float | None = None) -> float:
        """The most constant payload power that keeps the SOC at or above `dod_floor()` all through
        the step (a node already below it: that does not lower it further), at most the board's
        maximum. Exact for the view's power model, charge efficiency, charge limit and full battery
        included: a step that starts in sun and ends in shadow has its low point at its end, one that
        starts in shadow at the shadow's exit."""
        step = self.step_s if step_s is None else step_s
        segments = self._segments(step)
        lower_Wh = min(self.soc, self.dod_floor()) * self.capacity_Wh
        start_Wh = self.soc * self.capacity_Wh
        if len(segments) == 1:  # one kind of light: the SOC is monotone, its low point the end
            return float(np.clip(self._net_W(segments[0][1]) + (start_Wh - lower_Wh) * 3600.0 / step,
                                 0.0, BOARD.max_W))
        eff = self.limits.charge_efficiency

        def keeps_floor(p: float) -> bool:
            level = start_Wh
            for dt, dark in segments:
                x = self._net_W(dark) - p
                stored = min(eff * min(x, self.max_charge_W), x) if x > 0 else x
                level = min(self.capacity_Wh, level + stored * dt / 3600.0)
                if level < lower_Wh:
                    return False
            return True

        if keeps_floor(BOARD.max_W):
            return float(BOARD.max_W)
        if not keeps_floor(0.0):
            return 0.0
        lo, hi = 0.0, float(BOARD.max_W)
        for _ in range(48):  # the level is monotone in p: bisection to ~2e-11 W, always on the safe side
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if keeps_floor(mid) else (lo, mid)
        return lo

    def cap_W(self, step_s: float | None = None) -> float:
        """The most payload power the rules may ask for over the next step: the board's maximum,
        the steady thermal limit, the DoD floor all through the step and the discharge limit."""
        return max(0.0, min(BOARD.max_W, self.steady_thermal_W(), self.battery_cap_W(step_s),
                            self.discharge_cap_W(step_s)))

    # ---- the planner's inputs ------------------------------------------------------------------

    def plan_inputs(self, step_s: float, orbits: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(generation W, essentials W per step, recent SOC, window in steps) for `planner.solve`
        over `orbits` orbits of `step_s` steps from now."""
        starts = self.t + step_s * np.arange(int(orbits * self.period_s / step_s))
        return (self.generation_W(starts, step_s), self.essentials_W(starts, step_s),
                self.recent_soc(step_s), int(round(self.period_s / step_s)))


def solve_plan(view: NodeView, step_s: float, orbits: float, **options) -> planner.Plan:
    """The planner's LP from what the node knows now (raises planner.PlanFailed); `options` go to
    `planner.solve` (e.g. time_limit_s)."""
    generation, essentials, recent, window = view.plan_inputs(step_s, orbits)
    return planner.solve(step_s, generation, essentials, capacity_Wh=view.capacity_Wh, soc0=view.soc,
                         temp0_C=view.temp_C, recent_soc=recent, window=window, limits=view.limits,
                         thermal=replace(view.thermal, sink_C=view.sink_C), max_charge_W=view.max_charge_W,
                         max_discharge_W=view.max_discharge_W, **options)
