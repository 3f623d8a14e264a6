"""The node's atomic stores and the services that read them at boot, fed damaged files: the file
layer with any bytes, the parameter and schedule services with bodies whose CRC was fixed up so
they reach the JSON and the checks behind it. Each boot either loads what is good or counts the
damage, keeps the damaged file aside and starts from defaults; it never raises."""
import json
import random

import pytest

from gridfree.flight.app import topology
from gridfree.flight.core.bus import SoftwareBus
from gridfree.flight.core.clock import LockstepClock
from gridfree.flight.core.context import NodeContext, TelemetryDb
from gridfree.flight.core.modes import ModeMachine
from gridfree.flight.core.services.parameters import ParameterService
from gridfree.flight.core.services.schedule import ScheduleService
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.flight.core.tester import ComponentTester, EventRecorder
from gridfree.protocols.pus import PusTc

#: Text a broken writer could leave where a value belongs (each parses as JSON, or nearly).
ODD_VALUES = ["1e400", "-1e400", "NaN", "Infinity", "1" * 5000, str(10 ** 400), "true", "null", "[]", "{}",
              '"\\ud800"', '"' + "x" * 300 + '"', "[" * 5000 + "]" * 5000, "-0", "0.1", "65536", "-1", '""']


def mutate_text(good: bytes, rng: random.Random) -> bytes:
    """A JSON body a broken writer might have saved: bytes changed, cut, or a value swapped."""
    data = bytearray(good)
    how = rng.choice(("bytes", "cut", "value", "value", "utf8", "nest"))
    if how == "bytes":
        for _ in range(rng.choice((1, 2, 8))):
            data[rng.randrange(len(data))] = rng.choice(b'{}[]",:0123456789.eE-+ntfalsu\\\x00\xff')
    elif how == "cut":
        del data[rng.randrange(len(data)):]
    elif how == "value":  # after a colon or a comma, a value that is valid JSON but not what was stored
        marks = [i for i, c in enumerate(data) if c in b":,["]
        at = rng.choice(marks) + 1
        end = at
        while end < len(data) and data[end] not in b",]}":
            end += 1
        data[at:end] = rng.choice(ODD_VALUES).encode()
    elif how == "utf8":
        data[rng.randrange(len(data))] = rng.choice((0x80, 0xC3, 0xFF, 0xED))
    else:
        data[:] = rng.choice((b"[", b"{\"a\":")) * rng.randrange(1000, 20000)
    return bytes(data)


def test_the_file_layer_refuses_any_damage_with_its_one_error(tmp_path):
    rng = random.Random(1611)
    store = AtomicRecordFile(tmp_path / "s.bin")
    store.save(b'{"a": 1, "b": [1, 2, 3]}')
    good = store.path.read_bytes()
    for _ in range(2000):
        data = bytearray(good)
        if rng.random() < 0.5:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data[rng.randrange(4, 8)] = rng.randrange(256)  # the length field lies
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)):]
        store.path.write_bytes(bytes(data))
        try:
            assert store.load() == good[12:]
        except CorruptStoreError:
            pass
    store.path.write_bytes(good[:12] + bytes(17 << 20))  # larger than any record: refused, not read whole
    with pytest.raises(CorruptStoreError, match="larger than any record"):
        store.load()


@pytest.fixture(scope="module")
def node_dictionary():
    return topology.dictionary()


def boot_parameters(d, path):
    """The parameter service as the node attaches it, on the node's whole dictionary."""
    clock, bus = LockstepClock(0.0), SoftwareBus()
    events = EventRecorder(d)  # checks each event as the event service encodes it
    svc = ParameterService("params", 0x0050, store_path=path)
    svc.attach(NodeContext(clock, bus, d, TelemetryDb(d), events, None, None, ModeMachine(clock.now, bus.publish)))
    return svc, events.log


def test_a_damaged_parameter_store_boots_on_defaults_counted_with_the_damaged_file_kept(node_dictionary, tmp_path):
    d = node_dictionary
    path = tmp_path / "parameters.bin"
    defaults = {p.name: p.default for p in d.parameters}
    good = json.dumps(defaults, sort_keys=True).encode()
    rng = random.Random(1612)
    damaged = 0
    for _ in range(600):
        body = mutate_text(good, rng)
        AtomicRecordFile(path).save(body)  # the CRC fixed up: the bytes reach the JSON parser
        saved = path.read_bytes()
        svc, log = boot_parameters(d, path)
        names = [n for n, _ in log]
        if svc.damaged:
            damaged += 1
            assert names == ["params.StoreCorrupt"] and svc.values == defaults
            assert (tmp_path / "parameters.bin.damaged").read_bytes() == saved and not path.exists()
            assert svc.ctx.telemetry.read("params.StoreDamaged") == 1
        else:
            assert names == ["params.Loaded"] and path.read_bytes() == saved
            assert set(svc.values) == set(defaults)
    assert damaged > 300


def test_a_damaged_schedule_keeps_the_good_activities_and_counts_the_rest(tmp_path):
    path = tmp_path / "schedule.bin"
    tcs = [PusTc(apid=100, service=17, subtype=1, seq_count=k).pack() for k in range(4)]
    good = json.dumps({"enabled": True, "activities": [[1e9 + k, tc.hex()] for k, tc in enumerate(tcs)]}).encode()
    rng = random.Random(1613)
    damaged = lost = 0
    for _ in range(600):
        AtomicRecordFile(path).save(mutate_text(good, rng))
        saved = path.read_bytes()
        t = ComponentTester(ScheduleService("schedule", 0x00A0, store_path=path))
        svc = t.component
        assert t.tlm("StoreDamaged") == svc.damaged <= 1 and t.tlm("ActivitiesLost") == svc.lost
        assert not svc.damaged or (svc.activities == [] and svc.lost == 0)
        if svc.damaged or svc.lost:
            assert len(t.events("StoreCorrupt")) == 1
            assert (tmp_path / "schedule.bin.damaged").read_bytes() == saved
        damaged += svc.damaged
        lost += svc.lost
        kept = len(svc.activities)
        t.run("fast", 5e9)  # after any time a CUC can carry: whatever was kept is released
        assert len(t.sent("commandOut")) == kept and t.tlm("Released") == kept
        assert t.command("ReportAll").ok
        path.unlink(missing_ok=True)
    assert damaged > 100 and lost > 50


def test_a_damaged_boot_count_restarts_the_count_and_keeps_the_file(tmp_path):
    """boot.bin with its CRC fixed but holding no count (or one past the u16 channel) costs the
    count, never the boot."""
    from gridfree.flight.app.config import NodeConfig
    from gridfree.flight.app.node import Node

    rng = random.Random(77)
    for body in (b"70000", b"-3", b"\xff\xfe", b"1e9", bytes(rng.randrange(256) for _ in range(12))):
        state = tmp_path / f"s{rng.randrange(1 << 30)}"
        state.mkdir()
        AtomicRecordFile(state / "boot.bin").save(body)
        node = Node(NodeConfig(state_dir=state, clock="lockstep"), insecure=True)
        try:
            assert node.telemetry.read("node.BootCount") == 1
            assert AtomicRecordFile(state / "boot.bin.damaged").load() == body
        finally:
            node.stop()
