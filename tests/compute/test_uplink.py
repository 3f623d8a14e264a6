"""Tenant inputs uplinked through PUS 13 (TC[13,9..11]) over the node's real TC path, stored, and
computed on: the ground checks the result against the data it sent; a damaged upload is refused
and counted and loses nothing stored; a job never computes on a missing or damaged input."""
import random

import numpy as np

from gridfree.flight.core.modes import Mode
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import CLOUD_LEVEL, TILE, JobSpec, Kind, TenantInput, unpack_result
from gridfree.protocols.pus import PEC_LEN, TC_SEC_HEADER_LEN, PusTc
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services.largedata import UplinkFailure
from gridfree.protocols.spacepacket import PRIMARY_HEADER_LEN
from tests.compute.ground_link import link
from tests.power.test_power_manager import bench, run

TENANT = 5


def ready(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    ground = link(node)
    node.modes.request(Mode.NOMINAL, "test")
    quota = ground.send("compute.SetQuota", arm=True, tenant=TENANT, tokens=1_000_000)
    run(truth, node, 1.0)
    assert quota.completed
    return truth, node, ground


def submit(ground, spec):
    return ground.send("compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
                       size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=1, deadline_unix_s=0.0,
                       threshold=spec.threshold, input_id=spec.input_id)


def results(ground):
    """Downlinked job results by job id."""
    return {unpack_result(d)[0]: d for d in ground.completed_transfers.values() if d[:4] == b"GFRS"}


def cloudy_tiles(fractions: list[float]) -> tuple[np.ndarray, list[int]]:
    """Scenes whose cloud fractions are known exactly, and the indices a 0.3 filter keeps: worked
    out here from the fractions, not by the filter the node runs."""
    t = np.full((len(fractions), TILE, TILE), 90, dtype=np.uint8)
    for i, f in enumerate(fractions):
        t[i].reshape(-1)[:round(f * TILE * TILE)] = CLOUD_LEVEL + 40
    return t, [i for i, f in enumerate(fractions) if f < 0.3]


def test_an_input_uplinked_out_of_order_feeds_a_job_the_ground_verifies_against_it(tmp_path):
    truth, node, ground = ready(tmp_path)
    n, chunks = 48, 2
    ab = np.random.default_rng(2024).standard_normal((chunks, 2, n, n)).astype("<f4")  # the tenant's own data
    inp = TenantInput(21, TENANT, ab.tobytes())
    tid = 0x4711
    # the most one TC frame carries: 968 octets a part now that a frame keeps room for the SDLS
    # security header and MAC (issue 17; 998 before), so 39 parts where there were 37
    part_octets = ground.tc_data_octets - (PRIMARY_HEADER_LEN + TC_SEC_HEADER_LEN + PEC_LEN + pus13.PART_HEAD_OCTETS)
    parts = pus13.uplink_parts(tid, inp.pack(), part_octets)
    last = len(parts) - 1
    assert part_octets == 968 and last == 38 and parts[0][0] == pus13.Subtype.UPLINK_FIRST_PART

    def send(i):
        subtype, data = parts[i]
        return ground.send_packet(f"part {i}", 13, subtype, data)

    order = list(range(1, last))  # the intermediate parts
    random.Random(7).shuffle(order)
    handles = [send(i) for i in [last, *order[:20]]]  # the last part first, then a shuffled half
    handles += [send(order[3]), send(last)]  # two duplicates
    damaged = ground.encoder.cltu(PusTc(apid=node.cfg.apid, service=13, subtype=parts[0][0], app_data=parts[0][1],
                                        seq_count=999).pack())
    damaged = bytearray(damaged)
    damaged[2 + 8 * 3] ^= 0x21  # two bit errors in one BCH code block: beyond correction
    bad_before, accepted_before = node.radio.frames_bad, node.cmdDisp.accepted
    ground.link.write(bytes(damaged))
    run(truth, node, 1.0)
    assert node.radio.frames_bad == bad_before + 1 and node.cmdDisp.accepted == accepted_before + len(handles)
    assert node.lds.uplink_duplicates == 2 and node.telemetry.read("lds.UplinksInProgress") == 1
    handles += [send(i) for i in order[20:]]
    run(truth, node, 1.0)
    assert node.compute.inputs.ids() == []  # part 0 never came: nothing is taken before the transfer is whole
    handles.append(send(0))  # the part the TC layer threw away, sent again
    run(truth, node, 1.0)
    assert all(h.completed for h in handles), [h.describe() for h in handles if not h.completed]
    assert node.compute.inputs.ids() == [21] and node.telemetry.read("lds.UplinksDone") == 1
    assert node.compute.inputs.load(21) == inp

    spec = JobSpec(41, TENANT, Kind.MATMUL, seed=0, size=n, batch=1, chunks=chunks, input_id=21)
    job = submit(ground, spec)
    run(truth, node, 20.0)
    assert job.completed and node.compute.jobs_done == 1
    result = results(ground)[41]
    assert verify(spec, result, inp) == []
    _, _, out = unpack_result(result)
    a, b = ab[1, 0].astype(np.float64), ab[1, 1].astype(np.float64)
    np.testing.assert_allclose(out[1]["col_sums"], (a @ b).sum(axis=0), rtol=1e-4, atol=1e-3)
    other = TenantInput(21, TENANT, (ab * np.float32(1.001)).tobytes())  # not the data it ran on
    assert verify(spec, result, other) != [] and verify(spec, result) != []


def test_a_damaged_upload_is_refused_and_counted_and_loses_nothing_stored(tmp_path):
    truth, node, ground = ready(tmp_path)
    fractions = [0.0, 0.5, 0.29, 0.31, 0.05, 1.0, 0.2, 0.6]  # two chunks of four tiles
    scenes, kept = cloudy_tiles(fractions)
    good = TenantInput(7, TENANT, scenes.tobytes())
    ground.uplink(good.pack(), window=0)
    run(truth, node, 1.0)
    stored = node.compute.dir / "inputs" / "input-0000000007.bin"
    assert stored.read_bytes() == good.pack()

    damaged = bytearray(TenantInput(8, TENANT, scenes[::-1].tobytes()).pack())
    damaged[500] ^= 0x01  # a payload bit flipped before it went up: only the input's own CRC can tell
    twice = TenantInput(7, TENANT, bytes(len(scenes.tobytes()))).pack()  # a good input under a taken id
    tid_damaged = ground.uplink(bytes(damaged), window=0)
    run(truth, node, 1.0)  # 33 parts each: both at once would overrun the node's command queue
    tid_twice = ground.uplink(twice, window=0)
    run(truth, node, 1.0)
    assert ground.uplink_aborts == {tid_damaged: UplinkFailure.REJECTED, tid_twice: UplinkFailure.REJECTED}
    last = ground.uplinks[tid_damaged][-1]
    assert last.failed and "CRC-32C does not match" in last.failure[1]
    assert "already stored" in ground.uplinks[tid_twice][-1].failure[1]
    assert node.compute.inputs_rejected == 2
    assert node.lds.uplinks_aborted == 2 and node.compute.inputs.ids() == [7]
    assert stored.read_bytes() == good.pack()  # nothing stored before is lost or changed

    spec = JobSpec(42, TENANT, Kind.TILES, seed=0, size=0, batch=4, chunks=2, threshold=0.3, input_id=7)
    submit(ground, spec)
    run(truth, node, 10.0)
    result = results(ground)[42]
    assert verify(spec, result, good) == []
    _, _, out = unpack_result(result)
    assert [int(i) for i in out[0]["kept"]] + [4 + int(i) for i in out[1]["kept"]] == kept
    assert node.telemetry.read("compute.InputsRejected") == 2


def test_a_job_never_computes_on_a_missing_or_damaged_input(tmp_path):
    truth, node, ground = ready(tmp_path)
    scenes, _ = cloudy_tiles([0.1, 0.9])
    spec = JobSpec(43, TENANT, Kind.TILES, seed=0, size=0, batch=2, chunks=1, threshold=0.3, input_id=9)
    missing = submit(ground, spec)
    wrong_size = JobSpec(44, TENANT, Kind.TILES, seed=0, size=0, batch=3, chunks=1, input_id=9)
    other_tenant = JobSpec(45, TENANT + 1, Kind.TILES, seed=0, size=0, batch=2, chunks=1, input_id=9)
    run(truth, node, 1.0)
    assert missing.failed and "no input 9 on board" in missing.failure[1]
    ground.uplink(TenantInput(9, TENANT, scenes.tobytes()).pack(), window=0)
    run(truth, node, 1.0)
    refused = [submit(ground, wrong_size), submit(ground, other_tenant)]
    node.modes.fall_to_safe("test")  # hold compute while the stored input is hit
    accepted = submit(ground, spec)
    in_use = ground.send("compute.DeleteInput", input_id=9)
    run(truth, node, 1.0)
    assert in_use.failed and "used by queued job 43" in in_use.failure[1]
    assert all(h.failed for h in refused) and "holds 8192 octets" in refused[0].failure[1]
    assert "belongs to tenant 5" in refused[1].failure[1]
    assert accepted.completed and 43 in node.compute.queue
    path = node.compute.dir / "inputs" / "input-0000000009.bin"
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0x80  # an upset in storage after the job was accepted
    path.write_bytes(bytes(raw))
    node.modes.request(Mode.NOMINAL, "test")
    run(truth, node, 5.0)
    assert 43 not in node.compute.queue and node.compute.chunks_done == 0 and results(ground) == {}
    assert any(e.text.startswith("job 43 dropped: tenant input damaged") for e in ground.events)
    deleted = ground.send("compute.DeleteInput", input_id=9)
    run(truth, node, 1.0)
    assert deleted.completed and node.compute.inputs.ids() == []
