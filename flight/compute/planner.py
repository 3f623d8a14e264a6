"""The compute planner: how much power the payload should draw in each step of the next orbits,
for the most work the battery, the radiator and the DoD limit allow.

It is a linear program. Per step k: payload power p, work rate w, battery charge and discharge,
shunted surplus, and the SOC and payload temperature after the step. The energy balance, the SOC
and the first-order thermal node are linear; so is the DoD limit once written as "no SOC in the
horizon lies more than the limit below any SOC up to an orbit before it"; and the work the board
does for an average power is concave (DVFS: the payload model), so it is bounded by lines the
LP maximises under. A plan is therefore the optimum of its model, not a heuristic, and the same
program on the true power profile of a whole scenario is the clairvoyant upper bound that
`gridfree sched-compare` measures plans against.

The node flies it as model-predictive control: solved from the SOC and temperature now over the
next three orbits, the first step flown, then solved again. Energy left at the horizon's end is
valued a little below the best work it could buy, so the plan neither hoards charge nor spends
it where the board is inefficient. The SOC floor, DoD limit and thermal limit are soft with a
steep price, so a node already past one of them gets the plan that returns soonest, not no plan.

HiGHS (through scipy) solves it: a three-orbit plan at 5-minute steps is ~60 steps and ~1,300
rows and takes a few milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from gridfree.flight.compute.datasheet import BOARD, PayloadModel

SCALE = 1e-9  # objective in PFLOP, so that a step's work is of order 1..10
PENALTY = 1e6  # per unit of SOC (or kelvin) past a limit: far above any work it could buy


class PlanFailed(RuntimeError):
    """The solver found no plan: the inputs are inconsistent (e.g. NaN telemetry)."""


@dataclass(frozen=True)
class Limits:
    soc_floor: float = 0.32  # just above the power manager's payload shed
    dod_limit: float = 0.30
    temp_max_C: float = 72.0  # below the thermal manager's throttle point
    charge_efficiency: float = 0.99


@dataclass(frozen=True)
class Thermal:
    """The payload as one thermal node: heat capacity, and conductance to its radiator sink."""
    sink_C: float = 10.0
    conductance_W_K: float = 60.0
    heat_capacity_J_K: float = 60_000.0


@dataclass
class Plan:
    step_s: float
    power_W: np.ndarray
    work_mflop: np.ndarray
    soc: np.ndarray  # after each step
    temp_C: np.ndarray
    shunt_W: np.ndarray

    @property
    def total_work_mflop(self) -> float:
        return float(self.work_mflop.sum())

    def on_time(self, t0: float, jobs: list[tuple[float, float]]) -> list[int]:
        """Which of `jobs` [(deadline, remaining MFLOP)] the plan from `t0` finishes in time (see
        `admit`), as indices."""
        done_by = np.cumsum(self.work_mflop)
        ends = t0 + self.step_s * np.arange(1, len(done_by) + 1)

        def capacity(deadline: float) -> float:
            k = np.searchsorted(ends, deadline, side="right") - 1
            return done_by[k] if k >= 0 else 0.0
        return admit(jobs, capacity)


def admit(jobs: list[tuple[float, float]], capacity) -> list[int]:
    """The jobs [(deadline, remaining MFLOP)] that can all finish in time, taken earliest deadline
    first, as indices: a job is admitted if it and those admitted before it fit in `capacity(its
    deadline)`, the work that can be done by then. A job that cannot make it should get no work
    while others can (EDF under overload spends on it and loses both). No deadline: inf, always
    admitted."""
    out, load = [], 0.0
    for i in sorted(range(len(jobs)), key=lambda i: jobs[i][0]):
        deadline, remaining = jobs[i]
        if deadline == np.inf or load + remaining <= capacity(deadline):
            out.append(i)
            load += remaining
    return out


def solve(step_s: float, generation_W: np.ndarray, essentials_W: np.ndarray, *, capacity_Wh: float,
          soc0: float, temp0_C: float, recent_soc: np.ndarray | None = None, window: int,
          limits: Limits = Limits(), thermal: Thermal = Thermal(), board: PayloadModel = BOARD,
          max_charge_W: float = np.inf, max_discharge_W: float = np.inf, terminal_value: float = 0.97,
          soc_end_min: float | None = None, max_work_mflop: float = np.inf, time_limit_s: float = 2.0) -> Plan:
    """Plan the payload's power per step over `len(generation_W)` steps of `step_s` seconds.

    `recent_soc` are the SOC samples of the orbit before now (one per step, oldest first), which
    the DoD limit measures the first orbit of the plan against; `window` is an orbit in steps.
    `max_charge_W` and `max_discharge_W` are the battery's limits (what it cannot take is shunted).
    `terminal_value` prices the energy left at the end against the best work per Wh the board
    can do (0: worthless, as for the clairvoyant bound over a whole scenario); `soc_end_min`, if
    given, is a hard floor on the final SOC (the bound leaves the battery as it found it);
    `max_work_mflop` caps the plan's total work (a bound that knows how much work there is). A solve
    that takes longer than `time_limit_s` fails (PlanFailed): on board the grant then rules."""
    gen = np.asarray(generation_W, float)
    ess = np.broadcast_to(np.asarray(essentials_W, float), gen.shape)
    n = len(gen)
    if n == 0 or not np.all(np.isfinite(gen)) or not np.all(np.isfinite(ess)) \
            or not (np.isfinite(soc0) and np.isfinite(temp0_C)):
        raise PlanFailed(f"no plan from non-finite inputs (soc {soc0}, temperature {temp0_C})")
    # variables: p, w, charge, discharge, shunt, soc, temp, soc slack, temp slack
    names = ("p", "w", "ch", "dis", "sh", "soc", "T", "s_soc", "s_T")
    col = {name: i * n for i, name in enumerate(names)}
    nvar = len(names) * n
    k = np.arange(n)
    rows, cols, vals, b_eq = [], [], [], []

    def add(r, c, v):
        rows.append(np.broadcast_to(r, np.shape(c)).ravel())
        cols.append(np.asarray(c).ravel())
        vals.append(np.broadcast_to(v, np.shape(c)).astype(float).ravel())

    # energy balance: p + shunt + charge - discharge = generation - essentials
    for name, sign in (("p", 1), ("sh", 1), ("ch", 1), ("dis", -1)):
        add(k, col[name] + k, sign)
    b_eq.append(gen - ess)
    # SOC: soc_k - soc_{k-1} - a charge_k + b discharge_k = 0 (soc_{-1} = soc0)
    per_Wh = step_s / 3600.0 / capacity_Wh
    add(n + k, col["soc"] + k, 1.0)
    add(n + k[1:], col["soc"] + k[1:] - 1, -1.0)
    add(n + k, col["ch"] + k, -limits.charge_efficiency * per_Wh)
    add(n + k, col["dis"] + k, per_Wh)
    b_eq.append(np.r_[soc0, np.zeros(n - 1)])
    # temperature, the node's exact response to a step's constant power (stable at any step):
    # T_k = a T_{k-1} + (1 - a) (sink + p_k / G), a = exp(-G dt / C)
    a = float(np.exp(-thermal.conductance_W_K * step_s / thermal.heat_capacity_J_K))
    add(2 * n + k, col["T"] + k, 1.0)
    add(2 * n + k[1:], col["T"] + k[1:] - 1, -a)
    add(2 * n + k, col["p"] + k, -(1.0 - a) / thermal.conductance_W_K)
    b_eq.append(np.r_[a * temp0_C, np.zeros(n - 1)] + (1.0 - a) * thermal.sink_C)
    a_eq = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(3 * n, nvar))

    rows, cols, vals, b_ub = [], [], [], []
    r = 0
    # work under each line of the envelope: w - slope p <= intercept
    for slope, intercept in board.work_envelope:
        add(r + k, col["w"] + k, 1.0)
        add(r + k, col["p"] + k, -slope)
        b_ub.append(np.full(n, intercept))
        r += n
    # SOC floor and DoD against the past orbit: -soc_k - slack_k <= -(lower bound)
    past = np.r_[np.asarray(recent_soc if recent_soc is not None else [], float)[-(window - 1):], soc0]
    lower = np.full(n, limits.soc_floor)
    for i in range(min(n, window)):
        seen = past[i + 1:] if i + 1 < len(past) else past[-1:]
        lower[i] = max(lower[i], seen.max() - limits.dod_limit)
    add(r + k, col["soc"] + k, -1.0)
    add(r + k, col["s_soc"] + k, -1.0)
    b_ub.append(-lower)
    r += n
    # DoD within the plan: soc_j - soc_k - slack_k <= limit for j up to an orbit before k
    pairs_k, pairs_j = [], []
    for lag in range(1, min(window, n)):
        pairs_k.append(k[lag:])
        pairs_j.append(k[lag:] - lag)
    if pairs_k:
        kk, jj = np.concatenate(pairs_k), np.concatenate(pairs_j)
        m = np.arange(len(kk))
        add(r + m, col["soc"] + jj, 1.0)
        add(r + m, col["soc"] + kk, -1.0)
        add(r + m, col["s_soc"] + kk, -1.0)
        b_ub.append(np.full(len(kk), limits.dod_limit))
        r += len(kk)
    # temperature: T_k - slack_k <= limit
    add(r + k, col["T"] + k, 1.0)
    add(r + k, col["s_T"] + k, -1.0)
    b_ub.append(np.full(n, limits.temp_max_C))
    r += n
    if np.isfinite(max_work_mflop):  # total work: sum of w_k step_s <= the cap
        add(np.full(n, r), col["w"] + k, step_s)
        b_ub.append(np.array([max_work_mflop]))
        r += 1
    a_ub = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nvar))

    cost = np.zeros(nvar)
    cost[col["w"]:col["w"] + n] = -step_s * SCALE
    best = board.best_clock
    best_mflop_per_Wh = float(board.mflops(best) / board.power_W(best)) * 3600.0
    cost[col["soc"] + n - 1] = -terminal_value * best_mflop_per_Wh * capacity_Wh * SCALE
    # a trace of cost on battery throughput: charging and discharging at once would burn a
    # surplus as the shunt does, and the plan should say "shunt" when it means it
    cost[col["ch"]:col["dis"] + n] = 1e-7
    cost[col["s_soc"]:col["s_soc"] + n] = PENALTY
    cost[col["s_T"]:col["s_T"] + n] = PENALTY / 100.0  # a kelvin is cheaper than a unit of SOC
    bounds = np.zeros((nvar, 2))
    bounds[:, 1] = np.inf
    bounds[col["p"]:col["p"] + n, 1] = board.max_W
    bounds[col["ch"]:col["ch"] + n, 1] = max_charge_W  # the EPS's current limits, as power
    bounds[col["dis"]:col["dis"] + n, 1] = max_discharge_W
    bounds[col["soc"]:col["soc"] + n] = (-np.inf, 1.0)
    if soc_end_min is not None:
        bounds[col["soc"] + n - 1, 0] = soc_end_min
    bounds[col["T"]:col["T"] + n] = (-np.inf, np.inf)
    res = linprog(cost, A_ub=a_ub.tocsr(), b_ub=np.concatenate(b_ub), A_eq=a_eq.tocsr(),
                  b_eq=np.concatenate(b_eq), bounds=bounds, method="highs",
                  options={"time_limit": time_limit_s})
    if res.status != 0:
        raise PlanFailed(f"the planner's LP failed: {res.message}")
    x = res.x
    part = {name: x[col[name]:col[name] + n] for name in names}
    return Plan(step_s, part["p"], part["w"] * step_s, part["soc"], part["T"], part["sh"])
