"""The scheduling simulator: one power, thermal and job model in which every policy is flown, so
policies differ only in their decisions.

The world (world.py) holds the truth: the true shadow, arrays degraded by an amount the node is
not told, essential loads with spikes, the battery's real SOC and the payload's temperature. A
policy (flight/compute/policies.py, the same code the node flies) decides each minute from the
node's picture of it: its predicted shadow, learnt arrays, SOC estimate. Between the policy and the
physics stand what the node applies to every policy alike: the power manager's protections
(payload shed below 30 % SOC until 40 %, SAFE below 5 %), the thermal manager's throttle above
75 °C, and the compute manager's limit guard, which caps the power so that by the node's own
estimates the DoD floor, the discharge limit and the temperature limit hold all through the
minute (less a margin for the estimate's error). The board spends the power at its most
efficient operating point (flight/compute/datasheet.py). Jobs arrive every half hour, each with a
deadline three hours on and about as much work as half an hour's energy buys: work on a job
dropped at its deadline never becomes a result, and only results count as verified work.

What is judged is the truth: verified work, credited with the energy a policy leaves in the battery
beyond where it started (or debited with what it took) at the board's best work per Wh, so that
no policy wins by ending the day emptier; limit violations counted minute by minute in the truth
(SOC below the shed point, depth of discharge over the limit within any orbit, discharge at the
EPS's limit, payload above the throttle point); and battery life used (rainflow counting of the
true SOC against a cycle-life curve, protocols/rainflow.py).

The clairvoyant upper bound is the planner's LP over the whole day at once, knowing the truth
(every step's generation and load) and the true limits, ending with at least the charge it started
with: no policy that keeps the limits can do more verified work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.compute.policies import POLICIES, Policy
from gridfree.flight.power.eclipse import OrbitElements
from gridfree.flight.study.world import FORECAST_ERRORS, STEP_S, Errors, NodePicture, World
from gridfree.protocols.rainflow import life_used

CAPACITY_WH = 180.0 * 29.6
SHED_SOC, RESTORE_SOC, UV_SOC, DOD_LIMIT = 0.30, 0.40, 0.05, 0.30
THROTTLE_C, RELEASE_C, TRIP_C, THROTTLE_CAP = 75.0, 65.0, 85.0, 0.3
CHARGE_EFFICIENCY = 0.99
MAX_CHARGE_W, MAX_DISCHARGE_W = 100.0 * 29.6, 4000.0  # the EPS's current limits as power (power manager's)
TEMP_MARGIN_C = 2.0
LOAD_MARGIN_W = 400.0  # discharge the guard keeps back for loads beyond their budget (a tenth of the limit)
BEST_MFLOP_PER_WH = float(BOARD.mflops(BOARD.best_clock) / BOARD.power_W(BOARD.best_clock)) * 3600.0


def node_limits(errors: Errors) -> planner.Limits:
    """The limits the node plans and guards to: the true ones less a margin for its SOC estimate's
    error (three standard deviations and half a percent) and for its thermistor."""
    soc_margin = 3.0 * errors.soc_sigma + 0.005
    return planner.Limits(SHED_SOC + soc_margin, DOD_LIMIT - soc_margin, THROTTLE_C - TEMP_MARGIN_C,
                          CHARGE_EFFICIENCY)


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
    violations: dict = field(default_factory=lambda: {"soc": 0, "dod": 0, "current": 0, "thermal": 0})
    guarded_Wh: float = 0.0  # what the limit guard cut from the policy's requests
    life_used: float = 0.0  # battery life used over the run, fraction
    soc0: float = 0.0
    soc: list = field(default_factory=list)
    payload_W: list = field(default_factory=list)
    temp_C: list = field(default_factory=list)

    @property
    def credited_mflop(self) -> float:
        """Verified work with the charge left beyond the start credited (or taken, debited) at the
        board's best work per Wh: policies are compared as if all ended where they started."""
        return self.verified_mflop + (self.soc[-1] - self.soc0) * CAPACITY_WH * BEST_MFLOP_PER_WH

    @property
    def work_per_orbit(self) -> float:
        """Verified work per orbit at equal end SOC, MFLOP."""
        return self.credited_mflop / self.orbits if self.orbits else 0.0

    @property
    def work_per_Wh(self) -> float:
        """Verified work per Wh of payload energy, MFLOP."""
        return self.verified_mflop / self.energy_Wh if self.energy_Wh else 0.0

    @property
    def life_per_day(self) -> float:
        return self.life_used * 86_400.0 / (len(self.soc) * STEP_S) if self.soc else 0.0

    @property
    def violation_count(self) -> int:
        return sum(self.violations.values())


def fly(case: Case, policy: Policy, errors: Errors = FORECAST_ERRORS) -> Outcome:
    """Fly `policy` through the case in a world with `errors`; protections, guard and physics apply.
    A policy may expose `plan` and `plan_t` (the planner's): jobs are then admitted by its plan,
    else earliest deadline first among those it would finish at its last orbit's work rate."""
    w = World(case, errors)
    limits = node_limits(errors)
    node = NodePicture(w, case, limits, case.thermal, CAPACITY_WH, MAX_CHARGE_W, MAX_DISCHARGE_W)
    out = Outcome(policy.name, soc0=case.start_soc)
    soc, temp, shed, throttled, safe_until = case.start_soc, case.sink_C + 20.0, False, False, -1
    jobs: list[Job] = []
    true_history: list[float] = []
    done: list[float] = []  # the board's work each minute
    every = int(case.job_every_s / STEP_S) if math.isfinite(case.job_every_s) else 0  # 0: no deadline jobs
    for k in range(w.steps):
        t = k * STEP_S
        if every and k % every == 0:
            jobs.append(Job(t + case.deadline_s, case.job_mflop, case.job_mflop))
        for j in [j for j in jobs if j.deadline_s <= t]:
            jobs.remove(j)  # dropped: its partial work never becomes a result
            out.deadline_misses += 1
            out.wasted_mflop += j.mflop - j.remaining
        node.measure(k, soc, temp)
        view = node.view(k)
        asked_W = max(0.0, float(policy.power_W(view))) if jobs or case.backlog else 0.0
        # The node's protections, the same for every policy, on what it measures.
        if node.soc < SHED_SOC:
            shed = True
        elif shed and node.soc > RESTORE_SOC:
            shed = False
        if node.temp_C > THROTTLE_C:
            throttled = True
        elif throttled and node.temp_C < RELEASE_C:
            throttled = False
        request_W = 0.0 if shed or k < safe_until else asked_W
        if throttled:
            request_W = min(request_W, float(BOARD.power_W(THROTTLE_CAP)))
        # The compute manager's limit guard: the limits all through the minute, by its estimates.
        guard_W = max(0.0, min(view.battery_cap_W(), view.discharge_cap_W() - LOAD_MARGIN_W, view.thermal_cap_W()))
        out.guarded_Wh += max(0.0, request_W - guard_W) * STEP_S / 3600
        request_W = min(request_W, guard_W)
        # The truth: the battery cannot supply more than its discharge limit, the payload gets no more.
        supply_W = max(0.0, w.generation[k] - w.essentials[k] + MAX_DISCHARGE_W)
        out.violations["current"] += int(request_W > supply_W + 1e-6)
        request_W = min(request_W, supply_W)
        clock, duty = BOARD.operating_point(min(request_W, BOARD.max_W))
        payload_W = duty * float(BOARD.power_W(clock))
        net_W = min(MAX_CHARGE_W, w.generation[k] - w.essentials[k] - payload_W)  # the rest is shunted
        soc = min(1.0, soc + net_W * STEP_S / 3600 * (CHARGE_EFFICIENCY if net_W > 0 else 1.0) / CAPACITY_WH)
        if soc < UV_SOC:
            out.uv_events += 1
            safe_until = k + w.window  # SAFE for an orbit: the operators must look
            soc = max(soc, 0.0)
        temp += (payload_W - case.conductance_W_K * (temp - case.sink_C)) * STEP_S / case.heat_capacity_J_K
        out.thermal_trips += int(temp > TRIP_C)
        work = duty * float(BOARD.mflops(clock)) * STEP_S
        done.append(work)
        out.work_mflop += work
        out.energy_Wh += payload_W * STEP_S / 3600
        rate = sum(done[-w.window:]) / (min(len(done), w.window) * STEP_S) if done else BOARD.peak_mflops
        for j in _order(policy, jobs, t, w.times[k], rate):
            take = min(work, j.remaining)
            j.remaining -= take
            work -= take
        if case.backlog:
            out.verified_mflop += work  # the batch job's chunks, each a checked result
        for j in [j for j in jobs if j.remaining <= 0]:
            jobs.remove(j)
            out.jobs_done += 1
            out.verified_mflop += j.mflop
        true_history.append(soc)
        dod = max(true_history[-w.window:]) - soc
        out.max_dod = max(out.max_dod, dod)
        out.violations["dod"] += int(dod > DOD_LIMIT + 1e-9)
        out.violations["soc"] += int(soc < SHED_SOC)
        out.violations["thermal"] += int(temp > THROTTLE_C)
        out.soc.append(soc)
        out.payload_W.append(payload_W)
        out.temp_C.append(temp)
    out.orbits = case.hours * 3600 / w.period
    out.life_used = life_used([case.start_soc, *out.soc])
    return out


def _order(policy, jobs: list[Job], t: float, now_unix: float, rate_mflop_s: float) -> list[Job]:
    """The jobs in the order the board works on them: those the policy's plan finishes in time (or,
    without a plan, those it would finish at the work rate it kept over the last orbit,
    `rate_mflop_s`), earliest deadline first, then the rest. (Admitting by the board's peak rate,
    as the old greedy did, lets EDF start jobs it cannot finish and lose the ones after them.)"""
    ordered = sorted(jobs)
    plan = getattr(policy, "plan", None)
    if plan is not None:
        admitted = plan.on_time(t - (now_unix - policy.plan_t), [(j.deadline_s, j.remaining) for j in ordered])
    else:
        admitted = planner.admit([(j.deadline_s, j.remaining) for j in ordered],
                                 lambda deadline: rate_mflop_s * (deadline - t))
    first = [ordered[i] for i in admitted]
    return first + [j for j in ordered if j not in first]


def bound_plan(case: Case, errors: Errors = FORECAST_ERRORS, step_s: float = 120.0) -> planner.Plan:
    """The clairvoyant plan: the planner's LP over the whole case with the truth's every step known
    and the true limits, the charge it ends with valued as every policy's is (terminal value 1:
    the board's best work per Wh); its work no more than the jobs that arrive within the case (any
    amount with a standing batch job)."""
    w = World(case, errors)
    per = int(step_s / STEP_S)
    steps = w.steps // per
    gen = w.generation[:steps * per].reshape(steps, per).mean(axis=1)
    ess = w.essentials[:steps * per].reshape(steps, per).mean(axis=1)
    arrivals = math.ceil(case.hours * 3600 / case.job_every_s) if math.isfinite(case.job_every_s) else 0
    supply = np.inf if case.backlog else case.job_mflop * arrivals
    return planner.solve(step_s, gen, ess, capacity_Wh=CAPACITY_WH, soc0=case.start_soc,
                         temp0_C=case.sink_C + 20.0, window=int(round(w.period / step_s)),
                         limits=planner.Limits(SHED_SOC, DOD_LIMIT, THROTTLE_C, CHARGE_EFFICIENCY),
                         thermal=case.thermal, terminal_value=1.0, max_charge_W=MAX_CHARGE_W,
                         max_discharge_W=MAX_DISCHARGE_W, max_work_mflop=supply, time_limit_s=120.0)


def clairvoyant(case: Case, errors: Errors = FORECAST_ERRORS) -> float:
    """The upper bound of the credited work (MFLOP): no policy that keeps the limits scores above
    it. (Deadlines are relaxed to the day's total: an upper bound, not always reachable.)"""
    plan = bound_plan(case, errors)
    return plan.total_work_mflop + (plan.soc[-1] - case.start_soc) * CAPACITY_WH * BEST_MFLOP_PER_WH


def policies(names=None) -> list[Policy]:
    """Fresh policy objects (they keep state: a plan) by name, all by default."""
    return [POLICIES[n]() for n in (names or POLICIES)]
