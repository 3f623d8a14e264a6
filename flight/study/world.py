"""The study's world: the truth a policy is flown in, and the node's picture of it, kept apart.

The truth: shadow from the true orbit, arrays that have lost `array_degradation` of their output
(the node is not told), essential loads with random spikes on top of their budget, the battery's
real SOC and the payload's real temperature. The node's picture: shadow predicted from the elements
the ground uploaded, off by `eclipse_error_s` at upload and drifting `eclipse_drift_s_per_orbit`
after; the arrays' output learnt from what it measured in sun (from the datasheet's figure on);
the essentials' budget; an SOC estimate whose error wanders (a first-order Gauss-Markov process,
as a Kalman filter's does) with standard deviation `soc_sigma`; a noisy payload thermistor.
Policies see only the picture (policies.NodeView); physics and the figures run on the truth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridfree.flight.compute.nodeview import NodeView
from gridfree.flight.power.eclipse import EclipsePredictor

STEP_S = 60.0
PLAN_ORBITS = 3
ESSENTIAL_W, HEATER_W = 29.0, 80.0  # avionics; survival heater in shadow (power.HeaterNominalW)
LEARN_RATE = 0.05  # of each fully sunlit minute's measurement into the arrays' learnt output
SOC_ERROR_TAU_S = 3 * 3600.0  # the SOC estimate's error correlation time: coulomb counting drifts slowly


@dataclass(frozen=True)
class Errors:
    """What the node does not know about its world (all zero: it knows everything)."""

    array_degradation: float = 0.0  # share of the arrays' output lost
    load_spike_W: float = 0.0  # essential load spikes, W on top of the budget
    spikes_per_orbit: float = 0.0  # their mean rate
    spike_s: float = 600.0  # and length
    eclipse_error_s: float = 0.0  # predicted shadow edges late by this at upload
    eclipse_drift_s_per_orbit: float = 0.0  # and by this much more each orbit after
    soc_sigma: float = 0.0  # the SOC estimate's error, standard deviation
    temp_sigma_C: float = 0.0  # the payload thermistor's noise
    seed: int = 1

    @property
    def on(self) -> bool:
        return any(v for k, v in vars(self).items() if k not in ("spike_s", "seed"))


FORECAST_ERRORS = Errors(array_degradation=0.08, load_spike_W=250.0, spikes_per_orbit=1.0,
                         eclipse_error_s=5.0, eclipse_drift_s_per_orbit=0.5, soc_sigma=0.005, temp_sigma_C=0.5)
"""The study's default: arrays 8 % down on the datasheet, a 250 W, 10-minute load spike an orbit,
elements 5 s off and drifting half a second an orbit (a few orbits from the last upload), an SOC
estimate off by 0.5 % (standard deviation; the node's own measured 0.32 % RMS on the rig, README)
with an error that wanders over hours, and a thermistor good to half a kelvin."""


def shade_per_step(eclipses: list[tuple[float, float]], starts: np.ndarray, step_s: float) -> np.ndarray:
    """The share of each step [t, t + step_s) in shadow."""
    dark = np.zeros(len(starts))
    for a, b in eclipses:
        dark += np.clip(np.minimum(b, starts + step_s) - np.maximum(a, starts), 0.0, step_s)
    return np.clip(dark / step_s, 0.0, 1.0)


class World:
    """The truth, one sample per simulation step, with PLAN_ORBITS orbits past the end so that the
    last plans see a future too; and the node's predicted shadow (the truth's, shifted)."""

    def __init__(self, case, errors: Errors):
        self.case, self.errors = case, errors
        el = case.elements
        self.t0 = el.epoch_unix_s
        self.period = el.nodal_period_s or 2 * math.pi * math.sqrt(el.a_km ** 3 / 398_600.4418)
        self.window = int(round(self.period / STEP_S))
        self.steps = int(case.hours * 3600 / STEP_S)
        total = self.steps + int(PLAN_ORBITS * self.period / STEP_S) + 2
        self.times = self.t0 + STEP_S * np.arange(total)
        self.eclipses = EclipsePredictor(el).eclipses(self.t0 - self.period, (total + 1) * STEP_S + 2 * self.period)
        self.shade = shade_per_step(self.eclipses, self.times, STEP_S)
        self.sunlit = self.shade < 0.5
        rng = np.random.default_rng(errors.seed)
        self.generation = case.array_sun_W * (1.0 - errors.array_degradation) * (1.0 - self.shade)
        self.essentials = ESSENTIAL_W + HEATER_W * self.shade + self._spikes(rng, total)
        self.predicted = [(a + self._late(a), b + self._late(b)) for a, b in self.eclipses]

    def _spikes(self, rng: np.random.Generator, total: int) -> np.ndarray:
        spikes = np.zeros(total)
        e = self.errors
        if e.load_spike_W and e.spikes_per_orbit:
            count = rng.poisson(e.spikes_per_orbit * total * STEP_S / self.period)
            for start in rng.integers(0, total, count):
                spikes[start:start + max(1, int(e.spike_s / STEP_S))] += e.load_spike_W
        return spikes

    def _late(self, t: float) -> float:
        e = self.errors
        return e.eclipse_error_s + e.eclipse_drift_s_per_orbit * max(0.0, t - self.t0) / self.period

    def predicted_from(self, t: float) -> tuple[tuple[float, float], ...]:
        """The node's predicted shadows from the one it is in (or enters next) at t, PLAN_ORBITS
        orbits and a step on."""
        end = t + PLAN_ORBITS * self.period + STEP_S
        return tuple((a, b) for a, b in self.predicted if b > t and a < end)


class NodePicture:
    """The node's estimates, updated each step from what it measures: the SOC estimate (truth plus
    its wandering error), the arrays' learnt output, the thermistor; and the NodeView built from
    them, on which policies decide."""

    def __init__(self, world: World, case, limits, thermal, capacity_Wh: float, max_charge_W: float,
                 max_discharge_W: float):
        self.w, self.case = world, case
        self.limits, self.thermal = limits, thermal
        self.capacity_Wh, self.max_charge_W, self.max_discharge_W = capacity_Wh, max_charge_W, max_discharge_W
        self.rng = np.random.default_rng(world.errors.seed + 1)
        self.array_sun_W = case.array_sun_W  # the datasheet's figure, until measured
        self.soc_error = 0.0
        self.history: list[float] = []
        self.soc = self.temp_C = math.nan

    def measure(self, k: int, soc: float, temp_C: float) -> None:
        e, w = self.w.errors, self.w
        rho = math.exp(-STEP_S / SOC_ERROR_TAU_S)
        self.soc_error = rho * self.soc_error + math.sqrt(1 - rho * rho) * e.soc_sigma * self.rng.standard_normal()
        self.soc = min(1.0, max(0.0, soc + self.soc_error))
        self.temp_C = temp_C + e.temp_sigma_C * self.rng.standard_normal()
        if w.shade[k] == 0.0:  # a fully sunlit minute: the arrays' output, measured, learnt
            self.array_sun_W += LEARN_RATE * (w.generation[k] - self.array_sun_W)
        self.history.append(self.soc)

    def view(self, k: int) -> NodeView:
        t = float(self.w.times[k])
        return NodeView(t=t, soc=self.soc, soc_history=np.asarray(self.history[-self.w.window - 1:-1]),
                        history_step_s=STEP_S, temp_C=self.temp_C, sink_C=self.case.sink_C,
                        eclipses=self.w.predicted_from(t), array_sun_W=self.array_sun_W,
                        essentials_sun_W=ESSENTIAL_W, essentials_shadow_W=ESSENTIAL_W + HEATER_W,
                        period_s=self.w.period, capacity_Wh=self.capacity_Wh, limits=self.limits,
                        thermal=self.thermal, max_charge_W=self.max_charge_W,
                        max_discharge_W=self.max_discharge_W, step_s=STEP_S)
