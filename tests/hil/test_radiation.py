"""The rig drives the node's upset campaign (issue 9): a scenario's [radiation] table becomes an
armed `compute.SetUpsetRates` over the radio, and the jobs that run under it come down right or
not at all."""
import pytest

from gridfree.ground.hil.scenario import Scenario, ScenarioError
from gridfree.flight.compute.jobs import run_chunk
from gridfree.ground.link.client import EventRecord
from gridfree.ground.compute.blocks import answers_by_job
from gridfree.ground.compute.verify import needs_challenge, verify
from gridfree.protocols.compute import RESULT_MAGIC, JobSpec, Kind, pack_result, unpack_result

RADIATION = {"per": "chunk", "inputs": 0.2, "intermediates": 0.5, "weights": 2.0, "checkpoints": 0.3, "seed": 4}


def _submit(spec: JobSpec) -> dict:
    return {"at_h": 0.001, "name": "compute.Submit", "args": dict(
        job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed, size=spec.size,
        batch=spec.batch, chunks=spec.chunks, priority=1, deadline_unix_s=0.0, threshold=spec.threshold,
        input_id=0)}


def test_a_radiation_table_becomes_an_armed_command_the_node_understands(tmp_path, dictionary):
    s = Scenario.from_dict({"radiation": {**RADIATION, "at_h": 0.5}})
    arm, rates = s.commands
    assert (arm.name, arm.at_s, rates.name, rates.at_s) == ("node.Arm", 1800.0, "compute.SetUpsetRates", 1800.0)
    assert rates.args == {"inputs": 0.2, "intermediates": 0.5, "weights": 2.0, "checkpoints": 0.3,
                          "basis": "CHUNK", "seed": 4}
    command = dictionary.command_by_name[rates.name]
    assert command.hazardous and command.decode_args(command.encode_args(**rates.args)[2:])["basis"] == 0
    bad = tmp_path / "bad.toml"
    for text, match in [('[radiation]\ninputs = -1\n', "radiation.inputs"),
                        ('[radiation]\nper = "orbit"\n', "radiation.per"),
                        ('[radiation]\nseed = 1.5\n', "radiation.seed"),
                        ('[radiation]\nneutrons = 3\n', "radiation.neutrons"),
                        ('radiation = 3\n', "radiation")]:
        bad.write_text(text)
        with pytest.raises(ScenarioError, match=match):
            Scenario.load(bad)


def test_jobs_under_a_scenario_campaign_come_down_right_or_not_at_all(tmp_path):
    from gridfree.ground.hil import runner

    specs = [JobSpec(1, 5, Kind.MLP, seed=1, size=0, batch=16, chunks=4),
             JobSpec(2, 5, Kind.TILES, seed=2, size=0, batch=8, chunks=4, threshold=0.5),
             JobSpec(3, 5, Kind.MATMUL, seed=3, size=32, batch=1, chunks=4)]
    commands = [{"name": "compute.SetQuota", "args": {"tenant": 5, "tokens": 10_000_000}},
                {"name": "node.SetMode", "args": {"mode": "NOMINAL"}}]
    commands += [_submit(s) for s in specs]
    doc = {"name": "radiation", "orbit": "iss500", "duration_h": 0.02, "step_s": 1.0, "initial_soc": 0.9,
           "compute_utilisation": 0.0, "upload_orbit": False, "command": commands, "radiation": RADIATION,
           "criteria": {"results_verified": True}}
    result = runner.run(Scenario.from_dict(doc), tmp_path)
    assert result.passed, [c for c in result.checks if not c[1]]  # every command completed, SetUpsetRates among them
    assert "results_verified" in [name for name, _, _ in result.checks]
    names = [e.event.name for e in result.observed.events if e.event]
    assert "compute.UpsetRatesSet" in names
    assert {"compute.ChunkRecomputed", "compute.CheckpointDamaged"} & set(names)  # the campaign reached the jobs
    by_id = {s.job_id: s for s in specs}
    seen = result.observed
    answers = answers_by_job(result.downlinked.values())
    came_down = {}
    for data in result.downlinked.values():
        if data[:4] == RESULT_MAGIC:
            job_id = unpack_result(data)[0]
            kept = needs_challenge(by_id[job_id], data)  # challenged by the runner as soon as it came down
            came_down[job_id] = verify(by_id[job_id], data, seed=seen.challenged[job_id], blocks=answers[job_id]) \
                if kept else verify(by_id[job_id], data)
    dropped = [e.args["job"] for e in result.observed.events if e.event and e.event.name == "compute.JobFailed"]
    assert sorted([*came_down, *dropped]) == [1, 2, 3] and came_down
    assert all(problems == [] for problems in came_down.values()), came_down


def test_the_results_criterion_checks_each_job_on_the_ground(dictionary):
    from gridfree.ground.hil.criteria import evaluate
    from gridfree.ground.hil.record import Observations, Record

    specs = [JobSpec(1, 5, Kind.MATMUL, seed=1, size=16, batch=1, chunks=2),
             JobSpec(2, 5, Kind.MLP, seed=2, size=0, batch=4, chunks=2)]
    s = Scenario.from_dict({"command": [_submit(x) for x in specs], "criteria": {"results_verified": True}})
    right = {x.job_id: pack_result(x, [run_chunk(x, k) for k in range(x.chunks)]) for x in specs}
    chunks = [run_chunk(specs[0], k) for k in range(2)]
    chunks[1]["row_sums"] = chunks[1]["row_sums"] + 1.0  # a node that lies about job 1
    failed = dictionary.event_by_name["compute.JobFailed"]
    dropped = EventRecord(failed, failed.id, failed.severity, {"job": 2}, "job 2 failed", 0.0)

    def criterion(downlinked, events=()):
        seen = Observations(events=list(events), downlinked=downlinked, challenge_seed=0x1234)
        (check,) = [c for c in evaluate(s, Record(), None, seen) if c[0] == "results_verified"]
        return check[1:]

    assert criterion({10: right[1], 11: right[2]}) == (
        True, "2 of 2 results verified on the ground (1 by Freivalds, 1 by re-executed sample) with seed 0x00001234, "
              "0 jobs dropped by the node, 0 wrong")
    assert criterion({10: right[1]}, [dropped])[0]  # a job the node gave up on costs work, not truth
    ok, detail = criterion({10: right[1]})
    assert not ok and detail.endswith("jobs [2] neither")
    ok, detail = criterion({10: pack_result(specs[0], chunks), 11: right[2]})
    assert not ok and "1 wrong (job 1: chunk 1: row/column sums disagree" in detail
    ok, detail = criterion({10: right[1][:-1] + b"\0", 11: right[2]})
    assert not ok and "result damaged" in detail

    def so_far(downlinked):  # mid-run, as the demo and the progress line judge it
        seen = Observations(downlinked=downlinked, challenge_seed=0x1234)
        return [c[1:] for c in evaluate(s, Record(), None, seen, so_far=True) if c[0] == "results_verified"]

    assert so_far({10: right[1]}) == []  # job 2 still to come: not yet a failure
    assert so_far({10: right[1], 11: right[2]})[0][0] is True
    ((ok, detail),) = so_far({10: pack_result(specs[0], chunks)})  # one wrong fails at once
    assert not ok and "1 wrong" in detail


def test_a_product_kept_on_board_is_verified_by_the_blocks_the_runs_seed_challenged(tmp_path):
    """A result whose products stayed on board is only a root: the criterion holds it unverified
    until the node's answer to the run's compute.ProveBlocks proves the challenged blocks, and an
    answer to another seed (blocks the node picked) proves nothing."""
    import numpy as np

    from gridfree.flight.compute.proofs import ProofStore, answer_challenge, commit_result
    from gridfree.ground.hil.criteria import evaluate
    from gridfree.ground.hil.record import Observations, Record

    big = JobSpec(4, 5, Kind.MATMUL, seed=4, size=256, batch=1, chunks=5)  # 1.3 MB of products: kept
    s = Scenario.from_dict({"command": [_submit(big)], "criteria": {"results_verified": True}})
    store = ProofStore(tmp_path / "proofs")
    result = commit_result(big, [run_chunk(big, k) for k in range(big.chunks)], store)

    def answer(seed):
        return answer_challenge(big, store.load(big.job_id)[1], seed, np.matmul)[0].pack()

    def criterion(downlinked, challenged):
        seen = Observations(downlinked=downlinked, challenge_seed=77, challenged=challenged)
        (check,) = [c for c in evaluate(s, Record(), None, seen) if c[0] == "results_verified"]
        return check[1:]

    ok, detail = criterion({1: result}, {})
    assert not ok and "never challenged" in detail
    ok, detail = criterion({1: result}, {4: 77})
    assert not ok and "no answer to its challenge came down" in detail
    ok, detail = criterion({1: result, 2: answer(77)}, {4: 77})
    assert ok and "1 of 1 results verified on the ground (1 by challenged blocks)" in detail, detail
    ok, detail = criterion({1: result, 2: answer(78)}, {4: 77})
    assert not ok and "1 wrong (job 4: answer for job 4, seed 78" in detail, detail
