"""A node tells whoever started it where to reach it in one JSON line; the starter reads that line,
and a node that dies or babbles instead is an error that shows what it printed."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from gridfree.ground.link.announce import NodeAddresses, NodeStartError, read_announcement
from tests.keys import make_keys

LINE = ('GRIDFREE-NODE {"name": "n1", "apid": 100, "radio": "tcp://127.0.0.1:4000", "clock": null, '
        '"dictionary": "sha256:abc"}\n')


def test_the_announcement_comes_typed():
    a = read_announcement(io.StringIO(LINE))
    assert a == NodeAddresses("n1", 100, "tcp://127.0.0.1:4000", None, "sha256:abc")


@pytest.mark.parametrize("out, why", [
    ("", "exited"),
    ("gridfree node n1: APID 100\n", "unexpected output"),  # prose belongs on stderr
    ("Traceback (most recent call last):\n", "unexpected output"),
    ("GRIDFREE-NODE {radio: 1}\n", "not JSON"),
    ('GRIDFREE-NODE {"radio": "tcp://x:1"}\n', "lacks 'name'"),
    (LINE.replace('"apid": 100', '"apid": "one hundred"'), "wrong type"),
])
def test_a_node_that_does_not_announce_itself_is_a_clear_error(out, why):
    with pytest.raises(NodeStartError, match=why) as err:
        read_announcement(io.StringIO(out))
    assert err.value.printed == out.splitlines(keepends=True)


def test_a_real_node_announces_its_radio_and_dictionary(tmp_path, dictionary):
    cfg = tmp_path / "node.toml"
    make_keys(tmp_path)
    cfg.write_text('[node]\nname = "n7"\napid = 321\nstate_dir = "state"\n[radio]\nurl = "tcp://127.0.0.1:0?listen=1"\n'
                   '[security]\nkeys = "keys/node"\n')
    proc = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(cfg), "--no-supervise"],
                            stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        a = read_announcement(proc.stdout)
    finally:
        proc.terminate()
        proc.wait(15)
        proc.stdout.close()
    assert (a.name, a.apid, a.clock, a.dictionary) == ("n7", 321, None, dictionary.hash)
    assert a.radio.startswith("tcp://127.0.0.1:") and not a.radio.endswith(":0")  # the port it listens on
