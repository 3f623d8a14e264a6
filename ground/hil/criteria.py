"""The scenario's pass criteria, judged on the record and the observations after the run: the
truth's SOC, depth of discharge and temperatures, under-voltage, the node's predicted shadow edges
and its time to SAFE, command outcomes, the node's final mode, and every job result checked on the
ground from its seed."""
from __future__ import annotations

import numpy as np

from gridfree.ground.compute.blocks import answers_by_job
from gridfree.ground.compute.verify import needs_challenge, verify
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.record import Observations, Record
from gridfree.ground.hil.scenario import Scenario
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.compute import RESULT_MAGIC, JobSpec, Kind, unpack_result
from gridfree.protocols.rainflow import life_used

DAY_S = 86_400.0


def max_dod(rec: Record, period_s: float) -> float:
    """The deepest discharge from the highest SOC within any one-orbit window of the record."""
    soc, t = np.asarray(rec.soc), np.asarray(rec.t_h) * 3600.0
    worst, start = 0.0, 0
    for i in range(len(soc)):
        while t[start] < t[i] - period_s:
            start += 1
        worst = max(worst, float(soc[start:i + 1].max() - soc[i]))
    return worst


def life_used_pct_per_day(rec: Record) -> tuple[float, float] | None:
    """Battery life the truth's SOC record used, by rainflow counting against the default LEO
    Li-ion cycle-life curve (protocols/rainflow.py), as (% of life per day, hours it was counted
    over); None for a record with less than two samples. The per-day figure scales the record's
    count to 24 h, so a record of a few minutes says little: the hours are reported beside it."""
    if len(rec.soc) < 2 or rec.t_h[-1] <= rec.t_h[0]:
        return None
    span_h = rec.t_h[-1] - rec.t_h[0]
    return 100.0 * life_used(rec.soc) * DAY_S / (span_h * 3600.0), span_h


def evaluate(s: Scenario, rec: Record, truth: Truth, seen: Observations,
             so_far: bool = False) -> list[tuple[str, bool, str]]:
    """Each criterion's (name, passed, detail). `so_far`: mid-run, where results still to come down
    (or to be proven) are not yet a failure: results_verified is left out until one is wrong or
    none is outstanding."""
    c, out = s.criteria, []
    if "min_soc" in c:
        low = min(rec.soc) if rec.soc else truth.battery.soc
        out.append(("min_soc", low >= c["min_soc"], f"lowest SOC {low:.3f}, limit {c['min_soc']}"))
    if "max_dod_pct" in c:
        dod = 100 * max_dod(rec, preset(s.orbit, s.start_unix_s).period_s) if rec.soc else 0.0
        out.append(("max_dod_pct", dod <= c["max_dod_pct"], f"deepest discharge within an orbit {dod:.1f} %, "
                                                             f"limit {c['max_dod_pct']} %"))
    if "max_life_used_pct_per_day" in c:
        aging = life_used_pct_per_day(rec)
        limit = c["max_life_used_pct_per_day"]
        out.append(("max_life_used_pct_per_day", aging is not None and aging[0] <= limit,
                    "no SOC record to count" if aging is None else
                    f"battery life used {aging[0]:.4f} % per day over {aging[1]:.1f} h, limit {limit} %"))
    for key, node, sign in (("max_payload_temp_C", "payload", 1), ("max_battery_temp_C", "battery", 1),
                            ("min_battery_temp_C", "battery", -1)):
        if key in c:
            temps = rec.temps_C.get(node, [truth.thermal.nodes[node].temp_C])
            worst = max(temps) if sign > 0 else min(temps)
            ok = worst <= c[key] if sign > 0 else worst >= c[key]
            out.append((key, ok, f"{node} reached {worst:.1f} C, limit {c[key]}"))
    if c.get("no_undervoltage"):
        unserved = truth.ledger.unserved_Wh
        trips = sum(1 for e in seen.events if e.event is not None and e.event.name == "power.UnderVoltage")
        out.append(("no_undervoltage", unserved < 1e-6 and trips == 0,
                    f"{unserved:.3f} Wh of load not served, {trips} under-voltage events"))
    if "max_eclipse_err_s" in c:
        errs = seen.eclipse_errors()
        worst = max(errs) if errs else float("inf")
        out.append(("max_eclipse_err_s", worst <= c["max_eclipse_err_s"],
                    f"worst predicted shadow edge {worst:.2f} s off, over {len(errs)} edges"))
    if "max_uv_to_safe_s" in c:
        delay = seen.uv_to_safe_s()
        ok = delay is not None and delay <= c["max_uv_to_safe_s"]
        out.append(("max_uv_to_safe_s", ok, "the battery never crossed the threshold" if delay is None else
                    f"SAFE {1000 * delay:.0f} ms after the crossing" if delay >= 0 else
                    f"SAFE {-1000 * delay:.0f} ms before the truth crossed (the node's noisy reading crossed first)"))
    for cmd, handle in seen.commands:
        got = "completed" if handle.completed else "failed" if handle.failed else "no answer"
        out.append((f"command {cmd.name} at {cmd.at_s / 3600:.2f} h", got == cmd.expect,
                    f"{handle.describe()}; expected {cmd.expect}"))
    if c.get("results_verified"):
        ok, detail, outstanding = _results_verified(s, seen)
        if not (so_far and outstanding):
            out.append(("results_verified", ok, detail))
    if "final_mode" in c:
        modes = {0: "BOOT", 1: "SAFE", 2: "NOMINAL"}
        final = modes.get(int(rec.node_mode[-1]) if rec.node_mode else -1, "unknown")
        out.append(("final_mode", final == c["final_mode"], f"node ended in {final}"))
    return out


def submitted_specs(s: Scenario) -> dict[int, JobSpec]:
    """The jobs the scenario submits and expects accepted, by job id."""
    specs = {}
    for c in s.commands:
        if c.name == "compute.Submit" and c.expect == "completed":
            try:  # a Submit the dictionary would refuse fails as a command criterion instead
                a = {k: c.args[k] for k in ("job_id", "tenant", "seed", "size", "batch", "chunks")}
                specs[a["job_id"]] = JobSpec(kind=Kind[c.args["kind"]], threshold=c.args.get("threshold", 0.3),
                                             input_id=c.args.get("input_id", 0), **a)
            except KeyError:
                continue
    return specs


def _results_verified(s: Scenario, seen: Observations) -> tuple[bool, str, bool]:
    """Every job the scenario submitted came down and passed the ground's proofs, or was dropped
    with compute.JobFailed: a campaign may cost work, never a wrong result. The node's word counts
    for nothing: a product that came down passes Freivalds' check, a product kept on board is
    proven by the blocks the run's seed challenged (the runner sent compute.ProveBlocks when the
    result came down), MLP and tile jobs by chunks computed again on the ground, drawn by that seed."""
    specs = submitted_specs(s)
    answers = answers_by_job(seen.downlinked.values())
    wrong, pending, right, how = [], [], set(), {"Freivalds": 0, "challenged blocks": 0, "re-executed sample": 0}
    for data in seen.downlinked.values():
        if data[:4] != RESULT_MAGIC:
            continue
        try:
            job_id = unpack_result(data)[0]
        except ValueError as exc:
            wrong.append(str(exc))
            continue
        if job_id not in specs:
            wrong.append(f"job {job_id} came down but was never submitted")
            continue
        spec, seed = specs[job_id], seen.challenge_seed
        if needs_challenge(spec, data):
            if job_id not in seen.challenged or job_id not in answers:  # not verified (yet): missing
                pending.append(f"job {job_id}: product kept on board, " + (
                    "no answer to its challenge came down" if job_id in seen.challenged else "never challenged"))
                continue
            problems, proof = verify(spec, data, seed=seen.challenged[job_id], blocks=answers[job_id]), \
                "challenged blocks"
        else:
            problems = verify(spec, data, seed=seed)
            proof = "Freivalds" if spec.kind == Kind.MATMUL else "re-executed sample"
        if problems:
            wrong.append(f"job {job_id}: {problems[0]}")
        else:
            right.add(job_id)
            how[proof] += 1
    dropped = {e.args["job"] for e in seen.events if e.event is not None and e.event.name == "compute.JobFailed"}
    missing = sorted(set(specs) - right - dropped)
    proofs = ", ".join(f"{n} by {p}" for p, n in how.items() if n)
    detail = (f"{len(right)} of {len(specs)} results verified on the ground" + (f" ({proofs})" if proofs else "")
              + f" with seed {seen.challenge_seed:#010x}, {len(dropped & set(specs))} jobs "
              f"dropped by the node, {len(wrong)} wrong" + (f" ({wrong[0]})" if wrong else "")
              + (f", jobs {missing} neither" if missing else "") + (f" ({pending[0]})" if pending else ""))
    return not wrong and not missing, detail, bool(missing) and not wrong  # (outstanding: only still to come)
