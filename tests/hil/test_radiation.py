"""The rig drives the node's upset campaign (issue 9): a scenario's [radiation] table becomes an
armed `compute.SetUpsetRates` over the radio, and the jobs that run under it come down right or
not at all."""
import pytest

from gridfree.ground.hil.scenario import Scenario, ScenarioError
from gridfree.flight.compute.jobs import run_chunk
from gridfree.ground.link.client import EventRecord
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind, pack_result, unpack_result

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
    assert result.passed, result.checks  # every command completed, the armed SetUpsetRates among them
    assert "results_verified" in [name for name, _, _ in result.checks]
    names = [e.event.name for e in result.observed.events if e.event]
    assert "compute.UpsetRatesSet" in names
    assert {"compute.ChunkRecomputed", "compute.CheckpointDamaged"} & set(names)  # the campaign reached the jobs
    by_id = {s.job_id: s for s in specs}
    came_down = {}
    for data in result.downlinked.values():
        job_id = unpack_result(data)[0]
        came_down[job_id] = verify(by_id[job_id], data)
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
        seen = Observations(events=list(events), downlinked=downlinked)
        (check,) = [c for c in evaluate(s, Record(), None, seen) if c[0] == "results_verified"]
        return check[1:]

    assert criterion({10: right[1], 11: right[2]}) == (True, "2 of 2 results verified on the ground, 0 jobs "
                                                             "dropped by the node, 0 wrong")
    assert criterion({10: right[1]}, [dropped])[0]  # a job the node gave up on costs work, not truth
    ok, detail = criterion({10: right[1]})
    assert not ok and detail.endswith("jobs [2] neither")
    ok, detail = criterion({10: pack_result(specs[0], chunks), 11: right[2]})
    assert not ok and "1 wrong (job 1: chunk 1: row/column sums disagree" in detail
    ok, detail = criterion({10: right[1][:-1] + b"\0", 11: right[2]})
    assert not ok and "result damaged" in detail
