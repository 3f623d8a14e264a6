"""A node started on damaged saved state (parameter store, schedule, token ledger, each with its
CRCs fixed up so the damage reaches the parsers) boots, runs, counts and reports the loss, and
keeps the damaged files for the ground."""
import json
import random

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from gridfree.flight.core.clock import J2000_UNIX_S
from gridfree.flight.core.store import AtomicRecordFile
from gridfree.protocols.ledger import ENTRY_OCTETS, HEADER_OCTETS, RECORD_OCTETS, crc32
from gridfree.protocols.pus import PusTc, PusTm

TOML = '[node]\napid = 100\nclock = "lockstep"\nstate_dir = "{state}"\n'


def boot(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text(TOML.format(state=tmp_path / "state"))
    packets = []
    node = Node(NodeConfig.load(path), tm_sink=lambda vc, p: packets.append(PusTm.unpack(p)), insecure=True)
    node.start(open_radio=False)
    return node, packets


def test_a_node_on_damaged_saved_state_boots_and_counts_the_loss(tmp_path):
    rng = random.Random(1630)
    state = tmp_path / "state"
    node, _ = boot(tmp_path)
    node.params.set("events.ThrottleBurst", 9)
    for k in range(3):
        node.compute.ledger.set_quota(k + 1, 100, J2000_UNIX_S + k)
    node.stop()  # closes the ledger

    params = AtomicRecordFile(state / "parameters.bin")
    params.save(params.load().replace(b"9", b"1e400"))  # CRC fixed: the damage reaches the checks
    tc = PusTc(apid=100, service=17, subtype=1).pack().hex()
    schedule = AtomicRecordFile(state / "schedule.bin")
    schedule.save(json.dumps({"enabled": True, "activities": [[J2000_UNIX_S + 5, tc], [J2000_UNIX_S + 6, "zz"]]})
                  .encode())  # the second activity is not hex: it alone is lost
    ledger = state / "compute" / "tokens.ledger"
    data = bytearray(ledger.read_bytes())
    at = HEADER_OCTETS + RECORD_OCTETS + rng.randrange(ENTRY_OCTETS)  # entry 1, CRC fixed, signature not
    data[at] ^= 0x10
    data[HEADER_OCTETS + RECORD_OCTETS + ENTRY_OCTETS:HEADER_OCTETS + 2 * RECORD_OCTETS] = \
        crc32(bytes(data[HEADER_OCTETS + RECORD_OCTETS:HEADER_OCTETS + RECORD_OCTETS + ENTRY_OCTETS])).to_bytes(4, "big")
    ledger.write_bytes(bytes(data))
    saved_params = (state / "parameters.bin").read_bytes()

    node, packets = boot(tmp_path)  # the boot path: every component attached, the node started
    node.step_to(J2000_UNIX_S + 10.0)
    assert node.telemetry.read("params.StoreDamaged") == 1
    assert node.params.get("events.ThrottleBurst") == 5  # defaults, never half-trusted values
    assert (state / "parameters.bin.damaged").read_bytes() == saved_params
    assert node.telemetry.read("schedule.ActivitiesLost") == 1
    assert node.telemetry.read("schedule.Released") == 1  # the good activity was kept and released
    logged = [text[1] for text in node.events.log_ring]
    assert "params.StoreCorrupt" in logged and "schedule.StoreCorrupt" in logged
    # The ledger is proved before it is extended: the entries from the damaged one on are set
    # aside whole for the ground to audit, counted and reported, and billing goes on from the
    # prefix that verifies (entry 0), so the command that opened it still completes. SetQuota is
    # hazardous (issue 17): it goes with a node.Arm from the same sender, as the ground sends it.
    for name, args in (("node.Arm", {"window_s": 10}), ("compute.SetQuota", {"tenant": 1, "tokens": 5})):
        cmd = node.dictionary.command_by_name[name]
        node.submit(PusTc(apid=100, service=cmd.service, subtype=cmd.subtype, app_data=cmd.encode_args(**args)).pack())
    node.step_to(J2000_UNIX_S + 13.0)
    completed = [p for p in packets if (p.service, p.subtype) == (1, 7)]
    failures = [p for p in packets if (p.service, p.subtype) in ((1, 2), (1, 8))]  # refused or failed
    assert len(completed) == 3 and not failures  # the scheduled TC[17,1], the Arm and the SetQuota
    assert node.telemetry.read("compute.StoredStateLost") == 1
    # entries 1 and 2 of the three quotas, and the signed HEAD the ledger wrote when it closed
    # (issue 17: a ledger ends with its anchor, so it goes with the entries it follows)
    assert node.telemetry.read("compute.LedgerRecordsLost") == 3
    assert "compute.LedgerSalvaged" in [text[1] for text in node.events.log_ring]
    (aside,) = (state / "compute").glob("tokens.ledger.damaged-*")
    assert aside.read_bytes() == bytes(data)
    assert node.telemetry.read("node.UptimeS") >= 11
    node.stop()
