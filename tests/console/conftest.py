"""A stand-in for the client, a real node when a test needs one, and a console window."""
from __future__ import annotations

import threading

import pytest

from gridfree.ground.link.commands import CommandHandle
from gridfree.ground.link.records import EventRecord, Sample
from gridfree.protocols.deframing import TmStats
from tests.integration.conftest import NodeProcess

T0 = 1_795_000_000.0  # onboard time of the samples the tests make


class FakeReplay:
    """Replay controls that only remember what they were asked (a log that never plays)."""

    def __init__(self):
        self.speed, self.t_from, self.t_to, self.position = 1.0, None, None, None
        self.finished = threading.Event()
        self.paused = False
        self.calls: list[tuple] = []

    def span(self):
        return None

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False

    def step(self, frames=1):
        self.calls.append(("step", frames))

    def seek(self, t):
        self.calls.append(("seek", t))

    def set_speed(self, speed):
        self.speed = speed


class FakeClient:
    """The `TelemetrySource` the console is written against, driven by the test: `emit` plays the
    reader thread's part, `send` encodes the command with the dictionary exactly as the real
    client would and records it. With `replay` controls it is a replay and cannot command. With
    `can_arm` it plays the live client on an authenticated link: `send(..., arm=True)` of a
    hazardous command records node.Arm right before it, as that client sends it."""

    can_arm = False

    def __init__(self, dictionary, replay: FakeReplay | None = None):
        self.dictionary = dictionary
        self.replay = replay
        self.can_command = replay is None
        self.url = "fake://test"
        self.latest: dict = {}
        self.stats = TmStats()
        self.hash_mismatch = None
        self.packets = 0
        self.decode_errors = 0
        self.reader_errors = 0
        self.connection = "—"
        self.dictionary_note = ""
        self.sent: list[tuple[str, dict]] = []
        self._subscribers = []
        self.frame_taps = []

    def subscribe(self, callback):
        self._subscribers.append(callback)

    def connect(self):
        return self

    def close(self):
        pass

    def tap_frames(self, callback):
        self.frame_taps.append(callback)

    def emit(self, kind, item):
        for cb in self._subscribers:
            cb(kind, item)

    def sample(self, channel, value, t=None):
        s = Sample(channel, value, T0 if t is None else t)
        self.latest[channel] = s
        self.emit("sample", s)
        return s

    def event(self, name, t=T0, **args):
        ev = self.dictionary.event_by_name[name]
        self.emit("event", EventRecord(ev, ev.id, ev.severity, args, ev.text(args), t))

    def send(self, name, arm=False, **args):
        from gridfree.ground.link.client import ARM_COMMAND, ARM_WINDOW_S

        cmd = self.dictionary.command_by_name[name]
        cmd.encode_args(**args)  # raises ValueError on anything the node would refuse to decode
        handle = CommandHandle(name, request=None)
        if arm and cmd.hazardous:  # the real client arms only a hazardous command
            self.sent.append((ARM_COMMAND, {"window_s": ARM_WINDOW_S}))
            handle.armed_by = CommandHandle(ARM_COMMAND, request=None)
        self.sent.append((name, args))
        return handle


class ManualClock:
    """Ground monotonic time the test moves by hand."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def fake(dictionary):
    return FakeClient(dictionary)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def window(qtbot, fake, tmp_path):
    from gridfree.ground.console.mainwindow import MainWindow

    w = MainWindow(fake, settings_path=tmp_path / "console.ini", confirm=lambda cmd, args: True)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """One node for the module's tests; each connects (and disconnects) its own client."""
    n = NodeProcess(tmp_path_factory.mktemp("node"))
    yield n
    n.stop()

