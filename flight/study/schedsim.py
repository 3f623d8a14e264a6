"""The scheduling simulator: one power, thermal and job model in which every policy is flown, so
policies differ only in their decisions.

The model is the node's own view of itself (not the rig's truth): eclipses from the onboard
predictor, the arrays' output in sun, the essential loads (avionics always, the survival heater in
shadow), the battery as stored energy with charge efficiency and the EPS's current limits (what
it cannot take is shunted; the payload gets no more than it can supply), and the same
protections the power manager applies to every policy (payload shed below 30 % SOC until 40 %,
under-voltage below 5 %), the payload board as its datasheet says (flight/compute/datasheet.py: more
work per joule at a moderate clock), as one thermal node throttled above 75 °C and tripped above
85 °C. A policy asks for an average payload power each step; the board spends it at the most
efficient operating point. Jobs arrive every half hour, each with a deadline three hours on
and about as much work as half an hour's energy buys, so a policy is judged by what it makes of
the energy and whether the work lands in time: work on a job dropped at its deadline never
becomes a result, and only results count as verified work.

The clairvoyant upper bound is the planner's LP over the whole scenario at once, knowing every
step's power and ending with the charge it started with: no policy that keeps the same limits
(SOC floor, DoD, throttle point) and leaves the battery as full can do more work.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridfree.flight.compute import planner
from gridfree.flight.power.eclipse import EclipsePredictor, OrbitElements
from gridfree.flight.compute.datasheet import BOARD

STEP_S = 60.0
PLAN_STEP_S = 300.0
PLAN_ORBITS = 3
CAPACITY_WH = 180.0 * 29.6
ESSENTIAL_W, HEATER_W = 29.0, 80.0  # avionics; survival heater in shadow (power.HeaterNominalW)
SHED_SOC, RESTORE_SOC, UV_SOC, DOD_LIMIT = 0.30, 0.40, 0.05, 0.30
THROTTLE_C, RELEASE_C, TRIP_C, THROTTLE_CAP = 75.0, 65.0, 85.0, 0.3
CHARGE_EFFICIENCY = 0.99
MAX_CHARGE_W, MAX_DISCHARGE_W = 100.0 * 29.6, 4000.0  # the EPS's current limits as power (power manager's)
# The planner knows this model exactly, so its margins need only cover its 5-minute steps against
# the 1-minute simulation (on board they also cover the model's error: planner.Limits' defaults).
SIM_LIMITS = planner.Limits(SHED_SOC + 0.01, DOD_LIMIT - 0.005, THROTTLE_C - 1.0, CHARGE_EFFICIENCY)


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
    job_mflop: float = 4.0e10  # work per job: about what the energy of half an hour buys
    deadline_s: float = 3 * 3600.0
    backlog: bool = True  # a standing batch job without deadline takes what the deadline jobs leave

    @property
    def thermal(self) -> planner.Thermal:
        return planner.Thermal(self.sink_C, self.conductance_W_K, self.heat_capacity_J_K)


@dataclass(order=True)
class Job:
    deadline_s: float
    mflop: float
    remaining: float


@dataclass
class Outcome:
    policy: str
    work_mflop: float = 0.0  # all the board did
    verified_mflop: float = 0.0  # in jobs finished by their deadline, and the backlog's chunks
    wasted_mflop: float = 0.0  # in jobs dropped at their deadline
    energy_Wh: float = 0.0  # payload energy
    orbits: float = 0.0
    deadline_misses: int = 0
    jobs_done: int = 0
    max_dod: float = 0.0
    uv_events: int = 0
    thermal_trips: int = 0
    soc: list = field(default_factory=list)
    payload_W: list = field(default_factory=list)
    temp_C: list = field(default_factory=list)

    @property
    def work_per_orbit(self) -> float:
        """Verified work per orbit, MFLOP."""
        return self.verified_mflop / self.orbits if self.orbits else 0.0

    @property
    def work_per_Wh(self) -> float:
        """Verified work per Wh of payload energy, MFLOP."""
        return self.verified_mflop / self.energy_Wh if self.energy_Wh else 0.0


class World:
    """The environment, sampled once per simulation step."""

    def __init__(self, case: Case):
        self.case = case
        self.predictor = EclipsePredictor(case.elements)
        t0 = case.elements.epoch_unix_s
        self.period = case.elements.nodal_period_s or 5677.0
        self.window = int(round(self.period / STEP_S))
        # an extra planning horizon past the end, so the last plans see their future too
        extra = int(PLAN_ORBITS * self.period / STEP_S) + 1
        self.steps = int(case.hours * 3600 / STEP_S)
        self.times = t0 + STEP_S * np.arange(self.steps + extra)
        self.sunlit = np.array([self.predictor.sunlit_fraction(t + STEP_S / 2) >= 0.5 for t in self.times])
        self.generation = np.where(self.sunlit, case.array_sun_W, 0.0)
        self.essentials = ESSENTIAL_W + np.where(self.sunlit, 0.0, HEATER_W)

    def generation_W(self, k: int) -> float:
        return float(self.generation[k])

    def essentials_W(self, k: int) -> float:
        return float(self.essentials[k])

    def coarse(self, k: int, steps: int, per: int) -> tuple[np.ndarray, np.ndarray]:
        """Generation and essentials averaged over `steps` planning steps of `per` sim steps from k."""
        end = k + steps * per
        return (self.generation[k:end].reshape(steps, per).mean(axis=1),
                self.essentials[k:end].reshape(steps, per).mean(axis=1))


def fly(case: Case, policy) -> Outcome:
    """Fly `policy(world, k, state) -> payload power W` through the case; protections and physics
    apply. A policy may also set `state["order"]` to the jobs to work on, in turn (default: every
    job, earliest deadline first)."""
    w = World(case)
    out = Outcome(policy.__name__)
    soc, temp, shed, throttled, safe_until = case.start_soc, case.sink_C + 20.0, False, False, -1
    jobs: list[Job] = []
    history: list[float] = []
    state: dict = {"jobs": jobs, "history": history}
    for k in range(w.steps):
        t = k * STEP_S
        if k % int(case.job_every_s / STEP_S) == 0:
            jobs.append(Job(t + case.deadline_s, case.job_mflop, case.job_mflop))
        for j in [j for j in jobs if j.deadline_s <= t]:
            jobs.remove(j)  # dropped: its partial work never becomes a result
            out.deadline_misses += 1
            out.wasted_mflop += j.mflop - j.remaining
        state.update(soc=soc, temp=temp, t=t)
        state.pop("order", None)
        request_W = max(0.0, float(policy(w, k, state))) if jobs or case.backlog else 0.0
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
            request_W = 0.0
        if throttled:
            request_W = min(request_W, float(BOARD.power_W(THROTTLE_CAP)))
        # the battery cannot supply more than its discharge limit: the payload gets no more
        request_W = min(request_W, max(0.0, w.generation_W(k) - w.essentials_W(k) + MAX_DISCHARGE_W))
        clock, duty = BOARD.operating_point(min(request_W, BOARD.max_W))
        payload_W = duty * float(BOARD.power_W(clock))
        net_W = min(MAX_CHARGE_W, w.generation_W(k) - w.essentials_W(k) - payload_W)  # the rest is shunted
        stored = net_W * STEP_S / 3600 * (CHARGE_EFFICIENCY if net_W > 0 else 1.0)
        soc = min(1.0, soc + stored / CAPACITY_WH)
        if soc < UV_SOC:
            out.uv_events += 1
            safe_until = k + w.window  # SAFE for an orbit: the operators must look
            soc = max(soc, 0.0)
        temp += (payload_W - case.conductance_W_K * (temp - case.sink_C)) * STEP_S / case.heat_capacity_J_K
        if temp > TRIP_C:
            out.thermal_trips += 1
        work = duty * float(BOARD.mflops(clock)) * STEP_S
        out.work_mflop += work
        out.energy_Wh += payload_W * STEP_S / 3600
        order = state.get("order") or feasible_at_peak(jobs, t)
        for j in order + [j for j in sorted(jobs) if j not in order]:  # spare work goes to the rest
            take = min(work, j.remaining)
            j.remaining -= take
            work -= take
        if case.backlog:
            out.verified_mflop += work  # the batch job's chunks, each a checked result
        for j in [j for j in jobs if j.remaining <= 0]:
            jobs.remove(j)
            out.jobs_done += 1
            out.verified_mflop += j.mflop
        history.append(soc)
        out.max_dod = max(out.max_dod, max(history[-w.window:]) - soc)
        out.soc.append(soc)
        out.payload_W.append(payload_W)
        out.temp_C.append(temp)
    out.orbits = case.hours * 3600 / w.period
    return out


def clairvoyant(case: Case, step_s: float = 120.0) -> planner.Plan:
    """The upper bound: the planner's LP over the whole case with every step's power known, ending
    with at least the charge it started with (a policy that ends lower has borrowed from the next
    day: the table shows each policy's final SOC)."""
    w = World(case)
    per = int(step_s / STEP_S)
    steps = w.steps // per
    gen, ess = w.coarse(0, steps, per)
    return planner.solve(step_s, gen, ess, capacity_Wh=CAPACITY_WH, soc0=case.start_soc,
                         temp0_C=case.sink_C + 20.0, window=int(round(w.period / step_s)),
                         limits=planner.Limits(SHED_SOC, DOD_LIMIT, THROTTLE_C, CHARGE_EFFICIENCY),
                         thermal=case.thermal, terminal_value=0.0, max_charge_W=MAX_CHARGE_W,
                         max_discharge_W=MAX_DISCHARGE_W,
                         soc_end_min=case.start_soc, time_limit_s=120.0)


# ---- policies ---------------------------------------------------------------------------------------

def greedy(w: World, k: int, s: dict) -> float:
    """Run flat out whenever the battery is above 40 %."""
    return BOARD.max_W if s["soc"] > 0.4 else 0.0


def sun_only(w: World, k: int, s: dict) -> float:
    """Run in sunlight on what the arrays give beyond the essentials, never from the battery."""
    return max(0.0, w.generation_W(k) - w.essentials_W(k)) if w.sunlit[k] else 0.0


def planned(w: World, k: int, s: dict) -> float:
    """Ours: the planner's three-orbit LP, solved again every planning step from the SOC and
    temperature now, its first step flown."""
    per = int(PLAN_STEP_S / STEP_S)
    if k % per == 0 or "_plan" not in s:
        steps = int(PLAN_ORBITS * w.period / PLAN_STEP_S)
        gen, ess = w.coarse(k, steps, per)
        recent = np.asarray(s["history"][-w.window:][::per], float)
        plan = planner.solve(PLAN_STEP_S, gen, ess, capacity_Wh=CAPACITY_WH, soc0=s["soc"], temp0_C=s["temp"],
                             recent_soc=recent, window=int(round(w.period / PLAN_STEP_S)),
                             thermal=w.case.thermal, limits=SIM_LIMITS, max_charge_W=MAX_CHARGE_W,
                             max_discharge_W=MAX_DISCHARGE_W)
        s["_plan"] = plan
        s["_plan_k"] = k
    plan = s["_plan"]
    jobs = sorted(s["jobs"])
    s["order"] = [jobs[i] for i in plan.on_time(s["t"] - (k - s["_plan_k"]) * STEP_S,
                                                 [(j.deadline_s, j.remaining) for j in jobs])]
    return float(plan.power_W[(k - s["_plan_k"]) // per])


def feasible_at_peak(jobs: list[Job], t: float) -> list[Job]:
    """The baselines' job order: earliest deadline first, skipping a job the board could not
    finish in time even flat out from now (the usual guard against EDF's domino effect)."""
    jobs = sorted(jobs)
    return [jobs[i] for i in planner.admit([(j.deadline_s, j.remaining) for j in jobs],
                                           lambda deadline: BOARD.peak_mflops * (deadline - t))]


POLICIES = (greedy, sun_only, planned)
