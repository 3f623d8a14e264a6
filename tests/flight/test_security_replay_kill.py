"""kill -9 must not reopen the anti-replay window: a node process that obeyed frames and died at an
arbitrary moment is followed by one that refuses every one of them again, yet still takes the
frames inside the window it never saw (the window is restored, not merely closed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from gridfree.flight.core.messages import UplinkFrame
from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.security.component import SecurityComponent
from gridfree.flight.security.replay import ReplayStore
from tests.flight.security_keydir import OPERATOR_KEY_ID, make_keydir, operator_frame

NODE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from gridfree.flight.core.messages import UplinkFrame
    from gridfree.flight.core.tester import ComponentTester
    from gridfree.flight.security.component import SecurityComponent

    t = ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=Path(sys.argv[1])))

    def obey(command):  # the dispatcher: say which packet was handed on, as soon as it is
        sys.stdout.write(command.packet.hex() + "\\n")
        sys.stdout.flush()
        return True

    t.answer("commandOut", obey)
    for line in sys.stdin:
        t.send("frameIn", UplinkFrame(bytes.fromhex(line)))
""")


def test_a_node_killed_while_obeying_frames_leaves_none_of_them_replayable(tmp_path):
    kd = make_keydir(tmp_path / "node")
    ivs = [iv for iv in range(1, 400) if iv % 10]  # the multiples of 10 are never sent
    ivs[::2], ivs[1::2] = ivs[1::2], ivs[::2]  # pairs arrive swapped: reordering inside the window
    frames = {operator_frame(kd, iv, n=iv): iv for iv in ivs}
    node = subprocess.Popen([sys.executable, "-c", NODE, str(kd.path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        node.stdin.write("".join(f.hex() + "\n" for f in frames))
        node.stdin.flush()
        obeyed = [node.stdout.readline() for _ in range(150)]
        os.kill(node.pid, signal.SIGKILL)  # while it is still working through the rest
    finally:
        node.kill()
        node.wait()
        node.stdout.close()
        try:
            node.stdin.close()
        except BrokenPipeError:
            pass
    assert all(obeyed), "the node died before it had obeyed 150 frames"
    obeyed_packets = {bytes.fromhex(line) for line in obeyed}

    highest = ReplayStore(kd.path).load()[OPERATOR_KEY_ID].highest_iv  # what the dead node left on disk
    never_sent = [iv for iv in range(highest - 63, highest) if iv % 10 == 0]
    t = ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=kd.path))
    for iv in never_sent:
        t.send("frameIn", UplinkFrame(operator_frame(kd, iv, n=100000 + iv)))
    assert len(t.sent("commandOut")) == len(never_sent) > 0

    for frame in frames:
        t.send("frameIn", UplinkFrame(frame))
    again = {cp.packet for cp in t.sent("commandOut")}
    assert not again & obeyed_packets  # nothing the dead node obeyed is obeyed twice
