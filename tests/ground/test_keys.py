"""`gridfree keys` run as the operator runs it (a subprocess), and the GroundSecurity a ground
process sends through: node and ground material that match, secrets that stay secret, OTAR lines
a shell and `gridfree cmd` read back to the same octets, IVs that never repeat."""
from __future__ import annotations

import hashlib
import hmac
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gridfree.ground.keys.otar import use_key
from gridfree.ground.keys.session import GroundSecurity
from gridfree.ground.link.cli import _value
from gridfree.protocols import sdls
from gridfree.protocols.dictionary.wire import Field
from gridfree.protocols.keystore import (
    KeyKind, KeyState, Keystore, KeystoreError, SaState, load_public_key, load_signing_key, unwrap_key,
)

KEYS = [sys.executable, "-m", "gridfree.protocols.cli", "keys"]


def keys(*args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(KEYS + [str(a) for a in args], capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def mission(tmp_path_factory) -> Path:
    """One `keys init --tenants 3`, for the tests that only read it."""
    root = tmp_path_factory.mktemp("m") / "mission"
    keys("init", root, "--tenants", 3)
    return root


@pytest.fixture
def fresh(tmp_path) -> Path:
    root = tmp_path / "mission"
    keys("init", root, "--tenants", 1)
    return root


def store(where: Path) -> Keystore:
    return Keystore.load(where / "keystore.bin")


def sa_tuple(s):
    return (s.spi, s.direction, s.key_id, s.role, s.tenant, s.encrypt, s.window, s.state)


# ---- init ---------------------------------------------------------------------------------------
def test_init_writes_matching_node_ground_and_tenant_material(mission):
    node, ground = store(mission / "node"), store(mission / "ground")
    tenants = [store(mission / f"tenant-{n}") for n in (1, 2, 3)]
    assert sorted(node.keys) == [1, 10, 11, 101, 102, 103]
    assert sorted(ground.keys) == [1, 10, 11]
    assert [sorted(t.keys) for t in tenants] == [[101], [102], [103]]
    for where in [ground, *tenants]:
        for key_id, entry in where.keys.items():
            assert entry == node.keys[key_id]  # same octets, kind and state on both sides
    assert node.keys[1].kind is KeyKind.MASTER
    assert all(e.state is KeyState.ACTIVE for e in node.keys.values())
    assert all(e.kind is KeyKind.SESSION for k, e in node.keys.items() if k != 1)
    assert len({e.key for e in node.keys.values()}) == 6  # every key its own octets

    op = SaState.OPERATIONAL
    expected_node = {(1, "tc", 10, "operator", 0, True, 64, op), (2, "tm", 11, "operator", 0, False, 64, op)} | {
        (0x100 + n, "tc", 100 + n, "tenant", n, True, 64, op) for n in (1, 2, 3)}
    assert {sa_tuple(s) for s in node.sas.values()} == expected_node
    assert {sa_tuple(s) for s in ground.sas.values()} == {t for t in expected_node if t[0] in (1, 2)}
    for n, t in enumerate(tenants, 1):
        assert [sa_tuple(s) for s in t.sas.values()] == [(0x100 + n, "tc", 100 + n, "tenant", n, True, 64, op)]


def test_init_files_are_0600_and_directories_0700(fresh):
    seen = 0
    for path in [fresh, *fresh.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path
        seen += 1
    assert seen == 1 + 3 + 2 * 3 + 1  # root, node, ground, tenant-1, 2 files in each, the public key


def test_the_ledger_public_key_everywhere_is_the_node_signing_keys(mission):
    signing = load_signing_key(mission / "node" / "ledger-signing.pem")
    raw = signing.public_key().public_bytes_raw()
    for where in ["ledger-public.pem", "ground/ledger-public.pem", "tenant-2/ledger-public.pem"]:
        assert load_public_key(mission / where).public_bytes_raw() == raw
    assert not (mission / "ground" / "ledger-signing.pem").exists()


def test_init_refuses_existing_material_and_force_replaces_it(fresh):
    before = (fresh / "node" / "keystore.bin").read_bytes()
    proc = keys("init", fresh, check=False)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert (fresh / "node" / "keystore.bin").read_bytes() == before
    (fresh / "ground" / "tc-iv-1.bin").write_bytes(b"old counter")
    (fresh / "tenant-7").mkdir()
    proc = keys("init", fresh, "--force", "--tenants", 1)
    assert proc.stderr == f"gridfree keys: {fresh / 'tenant-7'} is left from the material replaced; " \
                          f"its keys match nothing now\n"
    assert (fresh / "node" / "keystore.bin").read_bytes() != before
    assert store(fresh / "node").keys[10].key != Keystore.unpack(before).keys[10].key
    assert not (fresh / "ground" / "tc-iv-1.bin").exists()  # it counted for a key that is gone


def test_init_into_an_empty_directory_and_with_no_tenants(tmp_path):
    (tmp_path / "m").mkdir(mode=0o755)
    keys("init", tmp_path / "m", "--tenants", 0)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o700
    assert sorted(store(tmp_path / "m" / "node").sas) == [1, 2]
    assert not list((tmp_path / "m").glob("tenant-*"))


# ---- wrong inputs -------------------------------------------------------------------------------
WRONG = [
    ("init", "{tmp}/no/such/parent/m"),
    ("init", "{tmp}/a-file"),
    ("init", "{tmp}/m2", "--tenants", "-1"),
    ("init", "{tmp}/m2", "--tenants", "62"),
    ("init", "{tmp}/m2", "--tenants", "two"),
    ("list", "{tmp}/nowhere"),
    ("list", "{tmp}/a-file"),
    ("list", "{m}"),
    ("otar", "{m}/ground", "--master", "9", "--key-id", "12"),
    ("otar", "{m}/ground", "--master", "10", "--key-id", "12"),
    ("otar", "{m}/ground", "--master", "1", "--key-id", "11"),
    ("otar", "{m}/ground", "--master", "1", "--key-id", "0"),
    ("otar", "{m}/ground", "--master", "1", "--key-id", "65536"),
    ("otar", "{m}/ground", "--master", "1"),
    ("use", "{m}/ground", "--spi", "1", "--key-id", "99"),
    ("use", "{m}/ground", "--spi", "7", "--key-id", "11"),
    ("use", "{m}/ground", "--spi", "1", "--key-id", "10"),
    ("use", "{m}/ground", "--spi", "1", "--key-id", "11"),
    ("use", "{m}/ground", "--spi", "1", "--key-id", "1"),
    ("use", "{m}/ground", "--spi", "x", "--key-id", "12"),
    ("verify", "{m}/ground", "--key-id", "99"),
    ("verify", "{m}/ground", "--key-id", "10", "--challenge", "abc"),
    ("verify", "{m}/ground", "--key-id", "10", "--challenge", "00ff"),
    ("rotate",),
    (),
]


@pytest.mark.parametrize("args", WRONG, ids=[" ".join(a) or "nothing" for a in WRONG])
def test_wrong_inputs_are_one_line_and_exit_2(tmp_path, mission, args):
    (tmp_path / "a-file").write_text("x")
    ground_before = (mission / "ground" / "keystore.bin").read_bytes()
    proc = keys(*(a.format(tmp=tmp_path, m=mission) for a in args), check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("gridfree keys: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""
    assert (mission / "ground" / "keystore.bin").read_bytes() == ground_before  # nothing stored changed


def test_a_keystore_others_can_read_is_refused_with_the_fix(fresh):
    path = fresh / "ground" / "keystore.bin"
    path.chmod(0o644)
    proc = keys("list", fresh / "ground", check=False)
    assert proc.returncode == 2 and proc.stderr.strip().endswith(f"chmod 600 {path}")


# ---- list ---------------------------------------------------------------------------------------
def test_list_shows_keys_and_sas_but_never_key_octets(mission):
    for side in ["node", "ground", "tenant-1"]:
        out = keys("list", mission / side).stdout
        for entry in store(mission / side).keys.values():
            assert entry.key.hex() not in out.lower() and entry.key.hex().upper() not in out
        assert not re.search(r"[0-9a-fA-F]{16}", out)
        for spi, sa in store(mission / side).sas.items():
            assert re.search(rf"^\s*{spi}\s+{sa.direction}\s+{sa.key_id}\s", out, re.M), out
    node_out = keys("list", mission / "node").stdout
    assert "tenant 3" in node_out and "MASTER" in node_out and "authenticated" in node_out


# ---- OTAR ---------------------------------------------------------------------------------------
def _shell_args(line: str) -> list[str]:
    """The arguments a real POSIX shell passes for `line`."""
    proc = subprocess.run(["sh", "-c", f"printf '%s\\0' {line}"], capture_output=True, check=True)
    return proc.stdout.decode().split("\0")[:-1]


def test_otar_prints_the_upload_gridfree_cmd_reads_back_to_the_wrapped_key(fresh):
    proc = keys("otar", fresh / "ground", "--master", 1, "--key-id", 12)
    (line,) = proc.stdout.splitlines()
    assert line.startswith("gridfree cmd sec.UploadKey master_id=1 key_id=12 ")
    argv = _shell_args(line)
    assert argv[:3] == ["gridfree", "cmd", "sec.UploadKey"]
    assert argv[-3:] == ["--arm", "--keys", str(fresh / "ground")]
    args = {k: _value(v) for k, v in (a.split("=", 1) for a in argv[3:-3])}
    for name, octets in [("nonce", 12), ("wrapped", 48)]:
        assert Field(name, f"bytes[{octets}]").check(args[name], name) == args[name]
        assert len(args[name]) == octets
    assert (args["master_id"], args["key_id"]) == (1, 12)

    # The node's declaration of sec.UploadKey takes these values as they are.
    from gridfree.flight.security.keycmds import COMMANDS

    (upload,) = [c for c in COMMANDS if c.name == "UploadKey"]
    assert upload.decode_args(upload.encode_args(**args)[2:]) == args

    # The node's own master key opens it to the key the ground kept, PRE_ACTIVE.
    node_master = store(fresh / "node").master_key(1)
    session = unwrap_key(node_master, 1, 12, args["nonce"], args["wrapped"])
    kept = store(fresh / "ground").keys[12]
    assert (kept.key, kept.kind, kept.state) == (session, KeyKind.SESSION, KeyState.PRE_ACTIVE)
    assert session.hex() not in proc.stdout + proc.stderr


def test_each_otar_draws_a_fresh_key_and_nonce(fresh):
    lines = [keys("otar", fresh / "ground", "--master", 1, "--key-id", k).stdout for k in (12, 13)]
    nonces = {_value(_shell_args(line)[5].split("=", 1)[1]) for line in lines}
    assert len(nonces) == 2
    assert store(fresh / "ground").keys[12].key != store(fresh / "ground").keys[13].key


def test_use_switches_the_sa_and_restarts_its_iv_counter(fresh):
    ground = fresh / "ground"
    before = GroundSecurity.load(ground)
    assert [before.next_iv() for _ in range(3)] == [1, 2, 3]
    keys("otar", ground, "--master", 1, "--key-id", 12)
    out = keys("use", ground, "--spi", 1, "--key-id", 12).stdout
    assert "SPI 1 now uses key 12" in out
    after = store(ground)
    assert after.sas[1].key_id == 12
    assert after.keys[12].state is KeyState.ACTIVE and after.keys[10].state is KeyState.DEACTIVATED
    assert after.keys[11].state is KeyState.ACTIVE  # still the TM SA's
    with pytest.raises(KeystoreError, match="changed since it was loaded"):
        before.next_iv()  # a process holding the old key must not restart its counter under it
    again = GroundSecurity.load(ground)
    assert again.tc_sa.key == after.keys[12].key and again.next_iv() == 1
    proc = keys("use", ground, "--spi", 1, "--key-id", 12, check=False)
    assert proc.returncode == 2 and "already uses key 12" in proc.stderr


def test_verify_gives_the_response_of_the_documented_hmac(fresh):
    challenge = bytes(range(16))
    out = keys("verify", fresh / "ground", "--key-id", 10, "--challenge", challenge.hex()).stdout
    node_key = store(fresh / "node").session_key(10)
    derived = hmac.new(node_key, b"gridfree key verification", hashlib.sha256).digest()
    expected = hmac.new(derived, challenge, hashlib.sha256).digest()[:16].hex()
    assert f"expected response: {expected}" in out
    argv = _shell_args(out.splitlines()[0])
    assert _value(argv[4].split("=", 1)[1]) == challenge


# ---- GroundSecurity -----------------------------------------------------------------------------
def test_ground_security_sends_frames_the_node_accepts(mission):
    ground = GroundSecurity.load(mission / "ground")
    assert (ground.tc_sa.spi, ground.role, ground.tenant, ground.origin_text) == (1, "operator", 0, "operator, SPI 1")
    assert ground.tc_sa.encrypt and ground.tm_sa is not None
    assert (ground.tm_sa.spi, ground.tm_sa.encrypt) == (2, False)
    node = store(mission / "node")
    assert ground.tm_sa.key == node.session_key(11)
    frame = sdls.protect(ground.tc_sa, ground.next_iv(), 0x42, 0, 0, b"a TC packet")
    _, data = sdls.unprotect(frame, {1: node.association(1)})
    assert data == b"a TC packet"


def test_a_tenant_keydir_gives_the_tenant_role(mission):
    tenant = GroundSecurity.load(mission / "tenant-2")
    assert (tenant.role, tenant.tenant, tenant.tc_sa.spi, tenant.tm_sa) == ("tenant", 2, 0x102, None)
    assert tenant.origin_text == "tenant 2, SPI 258"
    assert tenant.keydir == mission / "tenant-2"


def test_the_sa_is_picked_by_spi(mission):
    node = mission / "node"
    assert GroundSecurity.load(node).tc_sa.spi == 1
    picked = GroundSecurity.load(node, spi=0x103)
    assert (picked.tc_sa.spi, picked.role, picked.tenant) == (0x103, "tenant", 3)
    assert picked.tc_sa.key == store(mission / "tenant-3").session_key(103)
    for spi in (2, 9):  # a TM SA, an SA that is not there
        with pytest.raises(KeystoreError, match=f"no TC SA with SPI {spi}"):
            GroundSecurity.load(mission / "ground", spi=spi)


def test_ivs_strictly_increase_across_reopen(fresh):
    ground = fresh / "ground"
    ivs = []
    for _ in range(4):
        security = GroundSecurity.load(ground)
        ivs += [security.next_iv() for _ in range(5)]
    assert ivs == sorted(set(ivs)) and len(ivs) == 20


_TAKE_IVS = """
import sys
from gridfree.ground.keys.session import GroundSecurity
s = GroundSecurity.load(sys.argv[1])
sys.stdout.write(" ".join(str(s.next_iv()) for _ in range(150)))
"""


def test_two_processes_on_one_keydir_never_share_an_iv(fresh):
    procs = [subprocess.Popen([sys.executable, "-c", _TAKE_IVS, str(fresh / "ground")], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    runs = [list(map(int, p.communicate(timeout=60)[0].split())) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(run == sorted(run) for run in runs)
    assert len(set(runs[0]) | set(runs[1])) == 300


def test_unusable_key_directories_are_one_line_keystore_errors(fresh):
    ground = fresh / "ground"
    with pytest.raises(KeystoreError, match="no such key directory"):
        GroundSecurity.load(fresh / "nowhere")
    with pytest.raises(KeystoreError, match="the ground's keys are in"):
        GroundSecurity.load(fresh)
    (ground / "tc-iv-1.bin").write_bytes(b"\0" * 16)
    with pytest.raises(KeystoreError, match="CRC-32"):
        GroundSecurity.load(ground)
    (ground / "tc-iv-1.bin").unlink()
    s = store(ground)
    s.sas[1].state = SaState.STOPPED
    s.save(ground / "keystore.bin")
    with pytest.raises(KeystoreError, match="no operational TC SA"):
        GroundSecurity.load(ground)
    with pytest.raises(KeystoreError, match="SPI 1 is stopped"):
        GroundSecurity.load(ground, spi=1)


def test_use_key_refuses_a_key_another_sa_holds(fresh):
    with pytest.raises(ValueError, match="in use by SPI 2"):
        use_key(fresh / "ground", 1, 11)
    assert store(fresh / "ground").sas[1].key_id == 10


def test_otar_runs_at_once_keep_every_new_key(fresh):
    ids = [20, 21, 22, 23]
    procs = [subprocess.Popen(KEYS + ["otar", str(fresh / "ground"), "--master", "1", "--key-id", str(k)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in ids]
    assert [p.wait(timeout=60) for p in procs] == [0] * len(ids)
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert set(ids) <= set(store(fresh / "ground").keys)


# ---- ground and node together -------------------------------------------------------------------
def _node_accepts(t, security: GroundSecurity, n: int) -> bool:
    from gridfree.flight.core.messages import UplinkFrame
    from gridfree.protocols.pus import PusTc

    packet = PusTc(apid=100, service=17, subtype=1, app_data=n.to_bytes(4, "big")).pack()
    before = len(t.sent("commandOut"))
    t.send("frameIn", UplinkFrame(sdls.protect(security.tc_sa, security.next_iv(), 0x2A, 0, n % 256, packet)))
    return len(t.sent("commandOut")) > before


def _cmd_args(line: str) -> dict:
    argv = _shell_args(line)
    return {k: _value(v) for k, v in (a.split("=", 1) for a in argv[3:] if "=" in a)}


def test_otar_from_the_ground_cli_rekeys_the_node_and_the_ground_follows(fresh):
    """keys init, then the operator's whole OTAR sequence: the node's security component takes
    the printed upload, verifies, activates and rekeys; `keys use` makes the ground send under the
    new key, which the node obeys, while frames under the old key are refused."""
    from gridfree.flight.core.messages import Origin, UplinkFrame
    from gridfree.flight.core.tester import ComponentTester
    from gridfree.flight.security.component import SecurityComponent

    t = ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=fresh / "node"))
    ground, tenant = GroundSecurity.load(fresh / "ground"), GroundSecurity.load(fresh / "tenant-1")
    assert _node_accepts(t, ground, 1) and t.sent("commandOut")[-1].origin == Origin(1, "operator", 0)
    assert _node_accepts(t, tenant, 2) and t.sent("commandOut")[-1].origin == Origin(0x101, "tenant", 1)

    upload = _cmd_args(keys("otar", fresh / "ground", "--master", 1, "--key-id", 12).stdout)
    assert t.command("UploadKey", **upload).ok
    verify = keys("verify", fresh / "ground", "--key-id", 12).stdout.splitlines()
    assert t.command("VerifyKey", **_cmd_args(verify[0])).ok
    assert verify[1] == f"expected response: {t.events('KeyVerified')[-1]['response']}"
    assert t.command("ActivateKey", key_id=12).ok
    assert t.command("RekeySa", spi=1, key_id=12).ok
    keys("use", fresh / "ground", "--spi", 1, "--key-id", 12)

    rekeyed = GroundSecurity.load(fresh / "ground")
    assert rekeyed.tc_sa.key == store(fresh / "node").session_key(12)
    assert _node_accepts(t, rekeyed, 3) and t.sent("commandOut")[-1].origin == Origin(1, "operator", 0)
    frame = sdls.protect(ground.tc_sa, 1000, 0x2A, 0, 0, b"\x00" * 8)  # the old key, an IV never used
    before = len(t.sent("commandOut"))
    t.send("frameIn", UplinkFrame(frame))
    assert len(t.sent("commandOut")) == before
    assert _node_accepts(t, tenant, 4)  # the tenant's SA was never touched
