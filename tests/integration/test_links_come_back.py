"""Links that come back, with real parts: a node process whose radio is a pty that is unplugged
and replugged at the same path, whose EPS line is unplugged and replugged the same way, and
whose TCP radio keeps its ground station when a second one connects. After each, the node
answers a ping again and its telemetry counts the return."""
import subprocess
import sys
import textwrap
import threading

import pytest

from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.truth import Truth
from gridfree.ground.link.announce import read_announcement
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair
from tests.integration.conftest import NodeProcess, stop_group
from tests.keys import make_keys, operator

EPOCH = 1_774_018_000.0
UNPLUGGED_S = 0.8  # long enough for both ends to see the line gone and retry a few times


def event_names(g: GroundClient) -> list[str]:
    return [e.event.name for e in g.events if e.event]


class SerialRadioNode:
    """A `gridfree node` process whose radio is the serial device at `radio_path`."""

    def __init__(self, workdir, radio_path: str):
        config = workdir / "node.toml"
        self.keys = make_keys(workdir)
        config.write_text(textwrap.dedent(f"""
            [node]
            name = "gf-serial"
            apid = 100
            state_dir = "state"
            watchdog_s = 5.0

            [radio]
            url = "{radio_path}"

            [security]
            keys = "keys/node"
            """))
        self.stderr = open(workdir / "node.stderr", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(config),
                                      "--no-supervise"], stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     start_new_session=True)
        self.addresses = read_announcement(self.proc.stdout)

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc.stdout.close()
        self.stderr.close()


def test_a_radio_pty_unplugged_and_replugged_at_its_path_is_heard_again(tmp_path, dictionary):
    node_end, ground_end = str(tmp_path / "radio-node"), str(tmp_path / "radio-ground")
    pair = PtyPair(links=(node_end, ground_end)).start()
    node = SerialRadioNode(tmp_path, node_end)
    g = GroundClient(ground_end, dictionary, security=operator(node.keys)).connect()
    try:
        assert g.wait_until(lambda: "node.Mode" in g.latest, 15), "no housekeeping over the pty"
        assert g.send("test.Ping").wait(10).completed
        assert g.wait_until(lambda: g.value("radio.LinkUp") is True, 10)  # channels start at a typed zero
        assert g.value("radio.Reopens") == 0
        pair.stop()  # unplugged: both ptys gone, their names removed
        threading.Event().wait(UNPLUGGED_S)
        assert node.proc.poll() is None, "the node must keep running with its radio unplugged"
        pair = PtyPair(links=(node_end, ground_end)).start()  # replugged: new ptys, same paths
        assert g.wait_connected(10), g.link_problem
        # Heard again first (its housekeeping says it reopened, after up to 5 s of backoff), then
        # commanded: a ping sent before the node's end is open may be lost with the old pty.
        assert g.wait_until(lambda: (g.value("radio.Reopens") or 0) >= 1, 20), "no housekeeping after the replug"
        assert g.send("test.Ping").wait(10).completed, "the node is deaf after its radio came back"
        assert g.value("radio.LinkLosses") >= 1 and g.value("radio.LinkUp") is True
        assert g.wait_until(lambda: "radio.LinkRestored" in event_names(g), 10)
        assert g.link.stats.reconnects >= 1  # the ground's own end came back too
    finally:
        g.close()
        node.stop()
        pair.stop()


@pytest.fixture
def eps_bench(tmp_path):
    """A node (TCP radio) whose EPS line is a pty pair named by symlinks, the rig's board on the
    other end; the test unplugs and replugs the pair."""
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    truth.step(1.0)
    node_end, rig_end = str(tmp_path / "eps-node"), str(tmp_path / "eps-rig")
    bench = {"pair": PtyPair(links=(node_end, rig_end)).start(), "links": (node_end, rig_end)}
    bench["board"] = EmulatedBoard(truth, seed=3)
    server = BoardServer(bench["board"], open_link(rig_end)).start()
    node = NodeProcess(tmp_path, extra=f'[hardware]\ndriver = "rig"\nurl = "{node_end}"\n')
    bench["node"] = node
    yield bench
    node.stop()
    server.stop()
    server.link.close()
    bench["pair"].stop()


def test_an_eps_line_unplugged_and_replugged_is_read_again(eps_bench, dictionary):
    with GroundClient(eps_bench["node"].url, dictionary, security=operator(eps_bench["node"].keys)) as g:
        assert g.wait_until(lambda: g.value("eps.DriverOk") is True and g.value("eps.LineUp") is True, 15)
        eps_bench["pair"].stop()  # the board's cable pulled
        assert g.wait_until(lambda: g.value("eps.LineUp") is False, 10)
        assert g.send("test.Ping").wait(10).completed  # the node flies on without its board
        eps_bench["pair"] = PtyPair(links=eps_bench["links"]).start()  # and plugged back in
        asked = eps_bench["board"].requests
        assert g.wait_until(lambda: g.value("eps.LineUp") is True and (g.value("eps.LineReopens") or 0) >= 1, 15)
        assert g.wait_until(lambda: g.value("eps.DriverOk") is True, 20)
        assert eps_bench["board"].requests > asked, "the board is not asked again"
        after = g.latest["eps.BatteryVoltage"].time_s
        assert g.wait_until(lambda: g.latest["eps.BatteryVoltage"].time_s > after, 10)


def test_a_tcp_ground_peer_that_leaves_and_returns_is_served_again(node, dictionary):
    with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
        assert g.wait_until(lambda: "node.Mode" in g.latest, 15)
        assert g.send("test.Ping").wait(10).completed
    with GroundClient(node.url, dictionary, security=operator(node.keys)) as again:  # the ground station comes back
        assert again.wait_until(lambda: (again.value("radio.Reopens") or 0) >= 1, 15)
        assert again.send("test.Ping").wait(10).completed
        assert again.wait_until(lambda: "radio.LinkRestored" in event_names(again), 10)
        assert again.value("radio.LinkLosses") >= 1


def test_a_second_tcp_client_does_not_break_the_first_ones_session(ground, node, dictionary):
    assert ground.send("test.Ping").wait(10).completed
    with GroundClient(node.url, dictionary, security=operator(node.keys)) as second:
        assert second.wait_until(lambda: "node.Mode" in second.latest, 15)  # it hears the downlink too
        assert ground.send("test.Ping").wait(10).completed  # and the first still commands
        assert second.send("test.Ping").wait(10).completed
        assert ground.wait_until(lambda: ground.value("radio.GroundPeers") == 2, 10)
        assert ground.link.stats.losses == 0 and ground.link.stats.reconnects == 0
    assert ground.send("test.Ping").wait(10).completed  # the second leaving costs the first nothing
    assert ground.link.stats.losses == 0


def test_a_ground_tool_learns_connection_refused_from_the_link(dictionary):
    probe = open_link("tcp-listen://127.0.0.1:0")
    port = probe.local_address[1]
    probe.close()  # nothing listens there now
    with GroundClient(f"tcp://127.0.0.1:{port}", dictionary) as g:
        assert not g.wait_connected(0.5)
        assert g.link_problem == f"cannot connect to 127.0.0.1:{port}: Connection refused"
        assert "Connection refused" in g.connection
