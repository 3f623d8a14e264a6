"""Real node processes on real TCP links, and a ground client talking to them."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from gridfree.ground.link.announce import PREFIX
from gridfree.ground.link.client import GroundClient
from tests.keys import make_keys, operator

NODE_TOML = """
[node]
name = "gf-test"
apid = 100
state_dir = "state"
watchdog_s = {watchdog_s}

[radio]
url = "{radio_url}"

[security]
keys = "keys/node"

[power]
battery = false

[[monitoring]]
id = 1
channel = "cmdDisp.CommandsRejected"
window_s = 10.0
high = 5.5

[[event_action]]
event = "monitor.AboveHigh"
command = "node.SetMode"
args = {{ mode = "SAFE" }}
match = {{ pmon_id = 1 }}
"""


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to a node started in its own session (and its children), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeProcess:
    """A `gridfree node` subprocess; its announcement line on stdout says where its radio listens
    (counted, so a supervisor's restarts show as further announcements)."""

    def __init__(self, workdir, supervised=False, port=None, watchdog_s=5.0, extra="", keys=None):
        self.workdir = workdir
        self.port = port or free_port()
        # .ground for the operator's client, .tenants for tenants'; a restarted node keeps its keys
        self.keys = keys or make_keys(workdir)
        self.config = workdir / "node.toml"
        self.config.write_text(textwrap.dedent(NODE_TOML.format(
            radio_url=f"tcp://127.0.0.1:{self.port}?listen=1", watchdog_s=watchdog_s)) + extra)
        argv = [sys.executable, "-m", "gridfree.flight", "--config", str(self.config)]
        if not supervised:
            argv.append("--no-supervise")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self.banners = 0
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.wait_banners(1, 30), f"node did not start: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        self.url = f"tcp://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith(PREFIX):  # the node's one machine-readable line: it listens
                with self._changed:
                    self.banners += 1
                    self._changed.notify_all()

    def wait_banners(self, n: int, timeout_s: float) -> bool:
        """Wait until the node (or its restarted successors) has announced itself n times."""
        with self._changed:
            return self._changed.wait_for(lambda: self.banners >= n, timeout_s)

    def stop(self):
        stop_group(self.proc)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def node(tmp_path):
    n = NodeProcess(tmp_path)
    yield n
    n.stop()


@pytest.fixture
def ground(node, dictionary):
    g = GroundClient(node.url, dictionary, security=operator(node.keys)).connect()
    assert g.wait_until(lambda: "node.Mode" in g.latest, 15), "no housekeeping from the node"
    yield g
    g.close()
