"""The scheduling simulator: one power, thermal and job model in which every policy is flown, so
policies differ only in their decisions.

The model is the node's own view of itself (not the rig's truth): eclipses from the onboard
predictor, the arrays' output in sun, the essential loads (avionics always, the survival heater in
shadow), the battery as stored energy with charge efficiency, the shunt when full and the same
protections the power manager applies to every policy (payload shed below 30 % SOC until 40 %,
under-voltage below 5 %), and the payload as one thermal node that is throttled above 75 °C and
trips above 85 °C. Jobs arrive every half hour with a deadline and run earliest-deadline-first,
more of them than a day can do, so a policy is judged by what it makes of the energy.

Not yet here: the clairvoyant upper bound. A dynamic program on a coarse (SOC, temperature) grid
turned out loose where the dynamics are slow (rounding hides small steps), so it is left for an
LP with the shunt as a slack variable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridfree.flight.compute.manager import IDLE_W, MAX_W, PEAK_MFLOPS
from gridfree.flight.power.budget import plan_segments
from gridfree.flight.power.eclipse import EclipsePredictor, OrbitElements

STEP_S = 60.0
CAPACITY_WH = 180.0 * 29.6
ESSENTIAL_W, HEATER_W = 29.0, 30.0
SHED_SOC, RESTORE_SOC, UV_SOC, DOD_LIMIT = 0.30, 0.40, 0.05, 0.30
THROTTLE_C, RELEASE_C, TRIP_C, THROTTLE_CAP = 75.0, 65.0, 85.0, 0.3
CHARGE_EFFICIENCY = 0.99


@dataclass
class Case:
    name: str
    elements: OrbitElements
    array_sun_W: float = 4300.0
    sink_C: float = 10.0  # the payload's radiative sink temperature
    conductance_W_K: float = 60.0  # heat it rejects per kelvin above the sink
    heat_capacity_J_K: float = 60_000.0
    start_soc: float = 0.8
    hours: float = 24.0
    job_every_s: float = 1800.0
    job_mflop: float = 6.0e10  # work per job: more than a day can do, so capacity is what counts
    deadline_s: float = 3 * 3600.0


@dataclass
class Outcome:
    policy: str
    work_mflop: float = 0.0
    energy_Wh: float = 0.0  # payload energy
    orbits: float = 0.0
    deadline_misses: int = 0
    jobs_done: int = 0
    max_dod: float = 0.0
    uv_events: int = 0
    thermal_trips: int = 0
    soc: list = field(default_factory=list)

    @property
    def work_per_orbit(self) -> float:
        return self.work_mflop / self.orbits if self.orbits else 0.0

    @property
    def work_per_Wh(self) -> float:
        return self.work_mflop / self.energy_Wh if self.energy_Wh else 0.0


class World:
    """The environment and the protections, stepped one policy decision at a time."""

    def __init__(self, case: Case):
        self.case = case
        self.predictor = EclipsePredictor(case.elements)
        t0 = case.elements.epoch_unix_s
        self.steps = int(case.hours * 3600 / STEP_S)
        self.times = t0 + STEP_S * np.arange(self.steps)
        self.sunlit = np.array([self.predictor.sunlit_fraction(t + STEP_S / 2) >= 0.5 for t in self.times])
        self.period = case.elements.nodal_period_s or 5677.0
        self.eclipses = self.predictor.eclipses(t0, case.hours * 3600 + 3 * self.period)

    def generation_W(self, k: int) -> float:
        return self.case.array_sun_W if self.sunlit[k] else 0.0

    def essentials_W(self, k: int) -> float:
        return ESSENTIAL_W + (0.0 if self.sunlit[k] else HEATER_W)


def fly(case: Case, policy) -> Outcome:
    """Fly `policy(world, k, state) -> utilisation` through the case; protections and physics apply."""
    w = World(case)
    out = Outcome(policy.__name__)
    soc, temp, shed, throttled, safe_until = case.start_soc, case.sink_C + 20.0, False, False, -1
    history: list[float] = []
    jobs: list[list[float]] = []  # [deadline, remaining MFLOP]
    window = int(w.period / STEP_S)
    for k in range(w.steps):
        t = k * STEP_S
        if k % int(case.job_every_s / STEP_S) == 0:
            jobs.append([t + case.deadline_s, case.job_mflop])
        for j in [j for j in jobs if j[0] <= t]:
            jobs.remove(j)
            out.deadline_misses += 1
        state = {"soc": soc, "temp": temp, "jobs": jobs, "t": t}
        u = min(1.0, max(0.0, policy(w, k, state))) if jobs else 0.0
        # The node's protections, the same for every policy.
        if soc < SHED_SOC:
            shed = True
        elif shed and soc > RESTORE_SOC:
            shed = False
        if temp > THROTTLE_C:
            throttled = True
        elif throttled and temp < RELEASE_C:
            throttled = False
        if shed or k < safe_until:
            u = 0.0
        if throttled:
            u = min(u, THROTTLE_CAP)
        payload_W = IDLE_W + u * (MAX_W - IDLE_W) if u > 0 else 0.0
        net_W = w.generation_W(k) - w.essentials_W(k) - payload_W
        stored = net_W * STEP_S / 3600 * (CHARGE_EFFICIENCY if net_W > 0 else 1.0)
        soc = min(1.0, soc + stored / CAPACITY_WH)
        if soc < UV_SOC:
            out.uv_events += 1
            safe_until = k + window  # SAFE for an orbit: the operators must look
            soc = max(soc, 0.0)
        temp += (payload_W - case.conductance_W_K * (temp - case.sink_C)) * STEP_S / case.heat_capacity_J_K
        if temp > TRIP_C:
            out.thermal_trips += 1
        work = PEAK_MFLOPS * u * STEP_S
        out.work_mflop += work
        out.energy_Wh += payload_W * STEP_S / 3600
        for j in sorted(jobs):  # earliest deadline first
            take = min(work, j[1])
            j[1] -= take
            work -= take
        for j in [j for j in jobs if j[1] <= 0]:
            jobs.remove(j)
            out.jobs_done += 1
        history.append(soc)
        out.max_dod = max(out.max_dod, max(history[-window:]) - soc)
        out.soc.append(soc)
    out.orbits = case.hours * 3600 / w.period
    return out


# ---- policies ---------------------------------------------------------------------------------------

def greedy(w: World, k: int, s: dict) -> float:
    """Run flat out whenever the battery is above 40 %."""
    return 1.0 if s["soc"] > 0.4 else 0.0


def sun_only(w: World, k: int, s: dict) -> float:
    """Run flat out in sunlight, never from the battery."""
    return 1.0 if w.sunlit[k] else 0.0


def planned(w: World, k: int, s: dict) -> float:
    """Ours: the power manager's grant per orbit segment, replanned every 10 minutes from the
    SOC now, with the heat taken into account before the throttle has to act."""
    cache = s.setdefault("_plan", {})
    t = w.times[k]
    if k % 10 == 0 or "segments" not in cache:
        peak = max(s["soc"], cache.get("peak", s["soc"]))
        floor = max(SHED_SOC + 0.02, peak - DOD_LIMIT + 0.02)
        drawdown_Wh = max(0.0, s["soc"] - floor) * CAPACITY_WH
        cache["segments"] = plan_segments(t, w.period, 3, w.eclipses, array_sun_W=w.case.array_sun_W,
                                          essentials_W=ESSENTIAL_W + HEATER_W * 0.4, drawdown_Wh=drawdown_Wh,
                                          cycle_Wh=DOD_LIMIT * CAPACITY_WH * 0.9, payload_max_W=MAX_W)
    cache["peak"] = s["soc"] if w.sunlit[k] and not w.sunlit[k - 1] else max(cache.get("peak", 0.0), s["soc"])
    now = [seg for seg in cache["segments"] if seg.start_s <= t < seg.end_s]
    power = now[0].power_W if now else 0.0
    u = (power - IDLE_W) / (MAX_W - IDLE_W) if power > IDLE_W else 0.0
    # Heat: no more than the radiator carries away at the throttle point, less a margin.
    sustainable_W = w.case.conductance_W_K * (THROTTLE_C - 3.0 - w.case.sink_C)
    if s["temp"] > THROTTLE_C - 8.0:
        u = min(u, max(0.0, (sustainable_W - IDLE_W) / (MAX_W - IDLE_W)))
    return u


POLICIES = (greedy, sun_only, planned)
