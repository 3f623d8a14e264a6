"""A scenario's results proven on the rig: a product kept on board is challenged by the runner as
soon as its root comes down (compute.ProveBlocks with the run's own random seed) and verified from
the node's answer; the report sets the board's work per Wh against its model and the energy billed
per tenant against what the truth measured the board drawing."""
from gridfree.ground.compute.verify import needs_challenge
from gridfree.ground.hil import report, runner
from gridfree.ground.hil.scenario import Scenario
from gridfree.protocols.compute import RESULT_MAGIC, JobSpec, Kind, unpack_result

KEPT = JobSpec(4, 5, Kind.MATMUL, seed=4, size=256, batch=1, chunks=5)  # 1.3 MB of products: kept on board
TILES = JobSpec(5, 6, Kind.TILES, seed=5, size=0, batch=8, chunks=6, threshold=0.5)


def _submit(spec: JobSpec) -> dict:
    return {"at_h": 0.001, "name": "compute.Submit", "args": dict(
        job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed, size=spec.size,
        batch=spec.batch, chunks=spec.chunks, priority=1, deadline_unix_s=0.0, threshold=spec.threshold,
        input_id=0)}


def test_a_kept_product_is_challenged_with_the_runs_seed_and_billing_matches_the_board(tmp_path):
    commands = [{"name": "compute.SetQuota", "args": {"tenant": t, "tokens": 10_000_000}} for t in (5, 6)]
    commands += [{"name": "node.SetMode", "args": {"mode": "NOMINAL"}}, _submit(KEPT), _submit(TILES)]
    # 1e5: a 256-point product (33 MFLOP) is 3.3e6 MFLOP of board work, ~0.1 s at the clock the grant
    # gives; a tile batch (32 kpx) 3.2e6 kpx, ~1 s: both jobs done in well under the minute flown.
    doc = {"name": "proofs", "orbit": "iss500", "duration_h": 0.02, "step_s": 1.0, "initial_soc": 0.9,
           "compute_utilisation": 0.0, "upload_orbit": False, "command": commands, "work_scale": 1e5,
           "criteria": {"results_verified": True}}
    result = runner.run(Scenario.from_dict(doc), tmp_path / "run")
    assert result.passed, [c for c in result.checks if not c[1]]
    seen = result.observed
    results = {unpack_result(d)[0]: d for d in result.downlinked.values() if d[:4] == RESULT_MAGIC}
    assert set(results) == {4, 5} and needs_challenge(KEPT, results[4]) and not needs_challenge(TILES, results[5])
    assert seen.challenged == {4: seen.challenge_seed}  # the run's seed, only for the kept product
    (detail,) = [d for name, _, d in result.checks if name == "results_verified"]
    assert "(1 by challenged blocks, 1 by re-executed sample)" in detail and f"{seen.challenge_seed:#010x}" in detail
    # Billing follows the board: the ledger's tenants add up to the busy energy the truth measured
    # (every item ran to its end: nothing thrown away without radiation).
    busy_Wh = result.truth.ledger.payload_busy_Wh
    assert set(result.ledger_Wh) == {5, 6} and result.ledger_problem == ""
    assert abs(sum(result.ledger_Wh.values()) - busy_Wh) <= 1e-3 * busy_Wh + 1e-6
    assert result.tally.busy_s[Kind.MATMUL] > 0 and result.tally.busy_s[Kind.TILES] > 0
    md = report.write(result, tmp_path / "report").read_text()
    assert "## Compute" in md and "of the model" in md and "payload busy energy the truth measured" in md
