"""Record and replay in the console: Record (Ctrl+R) writes what the live link receives, Open log
(Ctrl+O) or `gridfree console --replay` plays it back through the live decoding path, and the
replay shows what the live console showed; the transport bar pauses, steps, changes speed and seeks."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from gridfree.ground.archive.recorder import Recorder
from gridfree.ground.archive.replay import ReplayClient
from gridfree.ground.console.mainwindow import MainWindow
from gridfree.ground.link.utc import stamp
from gridfree.ground.link.client import GroundClient
from gridfree.ground.link.source import ReplayControl, TelemetrySource
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.pus import CucTime, PusTm
from gridfree.protocols.services import housekeeping as pus3
from tests.console.conftest import T0, ManualClock
from tests.keys import operator

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")  # see test_window.py

CTRL = Qt.KeyboardModifier.ControlModifier
T_RX0 = 1_800_000_000.0  # receive time of the synthetic log's first frame
FRAME_S = 0.05  # between its frames
FRAMES = 100
SIDS = (1, 257)  # node.Health and eps.Power, alternating


def _value(ch, i: int):
    if ch.enum is not None:
        return sorted(ch.enum.values())[i % len(ch.enum)]
    kind = ch.wire.kind
    if kind == "bool":
        return i % 2 == 0
    if kind == "float":
        return 20.0 + i / 8  # exact in f32, so the text is predictable
    return i


def hk_frames(d: Dictionary, count: int = FRAMES) -> list[bytes]:
    """Frames of one housekeeping report each, onboard time T0 + i * FRAME_S, values from i."""
    enc, frames = TmFrameEncoder(), []
    for i in range(count):
        sid = SIDS[i % 2]
        values = {c: _value(d.channel_by_name[c], i) for c in d.hk_by_sid[sid].channels}
        tm = PusTm(apid=100, service=3, subtype=pus3.Subtype.HK_REPORT, seq_count=i,
                   app_data=pus3.HkReport(sid, d.encode_hk(sid, values)).pack(),
                   time=CucTime.from_unix(T0 + i * FRAME_S))
        frames += enc.add_packet(0, tm.pack()) + enc.flush(0)
    return frames


def unconnected(d: Dictionary) -> GroundClient:
    """A real client on no link: the test plays its reader thread with `data_received`."""
    return GroundClient("tcp://127.0.0.1:9", d)


@pytest.fixture(scope="module")
def synthetic_log(tmp_path_factory, dictionary):
    """A 5 s log of FRAMES frames, FRAME_S apart in receive time."""
    log = tmp_path_factory.mktemp("synthetic") / "log"
    clock = ManualClock(T_RX0)
    g = unconnected(dictionary)
    rec = Recorder(log, dictionary, clock=clock).attach(g)
    for i, frame in enumerate(hk_frames(dictionary)):
        clock.t = T_RX0 + i * FRAME_S
        g.data_received(frame)
    rec.close()
    assert rec.stats.acknowledged == FRAMES
    return log


def active(qtbot, w):
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


def ticks(qtbot, w, n: int = 2) -> None:
    """Wait for `n` more display ticks: whatever the client had handed over is shown by then."""
    target = w.bridge.flushes + n
    qtbot.waitUntil(lambda: w.bridge.flushes >= target)


def shown(w, names) -> dict[str, str]:
    return {n: w.telemetry.value_text(n) for n in names}


# ---- recording ------------------------------------------------------------------------------------

def test_ctrl_r_records_what_the_link_receives(qtbot, dictionary, tmp_path):
    client = unconnected(dictionary)
    answers = [None, str(tmp_path / "log")]  # the operator cancels the first time
    w = active(qtbot, MainWindow(client, settings_path=tmp_path / "c.ini",
                                 choose_directory=lambda parent, caption: answers.pop(0)))
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_R, CTRL)
    assert not w.recording and not w.record_action.isChecked() and not w.rec_label.isVisible()
    qtbot.keyClick(w, Qt.Key.Key_R, CTRL)
    assert w.recording and w.record_action.isChecked()
    assert w.rec_label.isVisible() and w.rec_label.text() == "REC 0 frames"

    frames = hk_frames(dictionary, 40)
    reader = threading.Thread(target=lambda: [client.data_received(f) for f in frames])
    reader.start()
    reader.join()
    qtbot.waitUntil(lambda: w.rec_label.text() == "REC 40 frames")
    qtbot.waitUntil(lambda: w.telemetry.value_text("eps.BusVoltage") == "24.88 V")
    w.record_action.trigger()  # the toolbar and menu action, as a click would
    assert not w.recording and not w.rec_label.isVisible()
    assert "Recorded 40 frames" in w.statusBar().currentMessage()
    client.data_received(hk_frames(dictionary, 1)[0])  # after the stop: not recorded, and no error
    assert len(list(ReplayClient(tmp_path / "log").archive.records())) == 40


def test_ctrl_o_switches_the_window_to_a_log_and_back_to_live(qtbot, dictionary, synthetic_log, tmp_path):
    live = unconnected(dictionary)
    w = active(qtbot, MainWindow(live, settings_path=tmp_path / "c.ini",
                                 choose_log=lambda parent, caption: str(synthetic_log),
                                 choose_directory=lambda parent, caption: str(tmp_path / "pass")))
    qtbot.addWidget(w)
    assert w.set_recording(True)  # recording the live pass: opening a log must not stop that
    w.plots.add_channels(["eps.BusVoltage"], 0)
    w.tabs.setCurrentWidget(w.power)
    assert not w.transport.isVisible() and not w.live_action.isEnabled()
    qtbot.keyClick(w, Qt.Key.Key_O, CTRL)
    replay = w.client
    assert isinstance(replay, TelemetrySource) and isinstance(replay.replay, ReplayControl)
    assert replay.replay is replay and not replay.can_command and w.replaying and w.mode_badge.text() == "REPLAY" and "REPLAY" in w.windowTitle()
    assert w.transport.isVisible() and w.live_action.isEnabled()
    assert not w.command_sender.isEnabled()
    frames = hk_frames(dictionary, 3)
    for f in frames:
        live.data_received(f)  # the live link goes on meanwhile...
    qtbot.waitUntil(lambda: w.rec_label.text() == "REC 3 frames")  # ...and so does its recording
    assert w.recording and w.record_action.isEnabled() and w.record_action.isChecked()
    assert not w.note_banner.isVisible()  # the log's own dictionary, kept beside it: nothing to say
    # The operator's arrangement came along.
    assert w.tabs.currentWidget() is w.power and list(w.plots.charts[0].curves) == ["eps.BusVoltage"]
    assert w.transport.span == (T_RX0, T_RX0 + (FRAMES - 1) * FRAME_S)

    qtbot.keyClicks(w.table.filter, "eps batt")  # Space is the transport's, except where text is typed
    assert w.table.filter.text() == "eps batt" and not replay.paused
    w.table.filter.clear()
    w.transport.speed.setCurrentIndex(w.transport.speed.findText("max"))
    w.transport.speed.activated.emit(w.transport.speed.currentIndex())
    assert math.isinf(replay.speed)
    qtbot.waitUntil(replay.finished.is_set, timeout=10_000)
    ticks(qtbot, w)
    assert w.telemetry.value_text("eps.BusVoltage") == f"{20 + (FRAMES - 1) / 8:.2f} V"
    assert w.transport.position.text() == "received " + stamp(T_RX0 + (FRAMES - 1) * FRAME_S) + " · end of log"
    assert w.transport.slider.value() == w.transport.slider.maximum()
    assert w.transport.play_button.text() == "From the start"
    qtbot.keyClick(w, Qt.Key.Key_Space)  # at the end, play plays it again
    qtbot.waitUntil(lambda: replay.frames_replayed == 2 * FRAMES and replay.finished.is_set(), timeout=10_000)
    ticks(qtbot, w)
    assert w.telemetry.value_text("eps.BusVoltage") == f"{20 + (FRAMES - 1) / 8:.2f} V"

    qtbot.keyClick(w, Qt.Key.Key_R, CTRL)  # stopped from the replay
    assert not w.recording and not w.rec_label.isVisible() and not w.record_action.isEnabled()
    assert len(list(ReplayClient(tmp_path / "pass").archive.records())) == 3

    w.live_action.trigger()
    assert w.client is live and w.mode_badge.text() == "LIVE" and not w.transport.isVisible()
    assert w.record_action.isEnabled() and w.command_sender.isEnabled()
    assert not replay._thread.is_alive()  # opened by the window, so closed by it
    assert w.telemetry.value_text("eps.BusVoltage") == ""  # nothing from the log stays on the live display


def test_a_log_that_cannot_be_opened_leaves_the_window_as_it_was(qtbot, window, tmp_path):
    window.choose_log = lambda parent, caption: str(tmp_path)  # a directory with no log in it
    assert not window.open_log()
    assert window.mode_badge.text() == "LIVE" and "no readable segments" in window.statusBar().currentMessage()
    window.choose_log = lambda parent, caption: None
    assert not window.open_log()


def test_seeking_while_paused_shows_the_frame_there(qtbot, dictionary, synthetic_log, tmp_path):
    replay = ReplayClient(synthetic_log, speed=1.0)
    replay.pause()
    w = active(qtbot, MainWindow(replay, settings_path=tmp_path / "c.ini"))
    qtbot.addWidget(w)
    replay.connect()
    try:
        assert w.transport.play_button.text() == "Play" and w.transport.step_button.isEnabled()
        assert w.transport.position.text() == "not started"
        qtbot.keyClick(w, Qt.Key.Key_Period)  # one frame: node.Health, i = 0
        qtbot.waitUntil(lambda: replay.frames_replayed == 1)
        qtbot.waitUntil(lambda: w.telemetry.value_text("node.UptimeS") != "")
        t_mid = T_RX0 + 50 * FRAME_S
        w.transport.seek(t_mid)
        qtbot.waitUntil(lambda: replay.position == pytest.approx(t_mid))
        ticks(qtbot, w)
        assert replay.frames_replayed == 2 and replay.paused
        # A clean display from the seek on: frame 50 is node.Health, so eps.Power is not known yet.
        assert w.telemetry.value_text("node.UptimeS").startswith("50")
        assert w.telemetry.value_text("eps.BusVoltage") == ""
        assert w.transport.position.text() == "received " + stamp(replay.position) + " · paused"
        assert w.transport.slider.value() == round(w.transport.slider.maximum() * 50 / (FRAMES - 1))
    finally:
        w.close()
        replay.close()


def test_the_dictionary_note_is_shown_above_the_tabs(qtbot, dictionary, synthetic_log, tmp_path):
    d = dictionary
    newer = Dictionary(version=d.version + "+next", channels=d.channels, commands=d.commands, events=d.events,
                       parameters=d.parameters, housekeeping=d.housekeeping)
    replay = ReplayClient(synthetic_log, newer)
    w = MainWindow(replay, settings_path=tmp_path / "c.ini")
    qtbot.addWidget(w)
    w.show()
    assert w.note_banner.isVisible() and "decoding with the log's own dictionary" in w.note_banner.text()
    assert dictionary.hash not in w.note_banner.text() and dictionary.hash[:23] + "…" in w.note_banner.text()
    assert w.note_banner.toolTip() == replay.dictionary_note  # the hashes in full
    replay.close()


@pytest.mark.slow
def test_gridfree_console_replays_a_log_headless(synthetic_log, tmp_path):
    png = tmp_path / "replay.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "console", "--replay", str(synthetic_log),
                          "--speed", "max", "--screenshot", str(png), "--seconds", "2",
                          "--settings", str(tmp_path / "c.ini")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert QImage(str(png)).width() >= 800
    bad = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "console", "--link", "tcp://x:1",
                          "--speed", "10"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--speed is for --replay" in bad.stderr


# ---- a live node, recorded and replayed ---------------------------------------------------------------

@pytest.mark.slow
def test_a_replayed_log_shows_what_the_live_console_showed(qtbot, node, dictionary, tmp_path):
    log = tmp_path / "log"
    # the node has keys: its TM frames carry SDLS fields, so the log holds authenticated frames
    client = GroundClient(node.url, dictionary, security=operator(node.keys))
    w = active(qtbot, MainWindow(client, settings_path=tmp_path / "live.ini", confirm=lambda cmd, args: True,
                                 choose_directory=lambda parent, caption: str(log)))
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_R, CTRL)  # recording before the first frame: the log holds all the table shows
    assert w.recording
    client.connect()
    try:
        qtbot.waitUntil(lambda: w.telemetry.value_text("node.Mode") != "", timeout=15_000)
        w.command_sender.select("test.Ping")
        w.command_sender.send_button.click()
        qtbot.waitUntil(lambda: w.history.status(0) == "COMPLETED", timeout=10_000)
        qtbot.waitUntil(lambda: w.recorded_frames >= 7, timeout=20_000)  # a frame a second
    finally:
        client.close()  # no more frames: what the table shows next is all the log has
    ticks(qtbot, w)
    qtbot.waitUntil(lambda: w.rec_label.text() == f"REC {w.recorded_frames} frames")
    qtbot.keyClick(w, Qt.Key.Key_R, CTRL)
    assert not w.recording
    names = [c.name for c in dictionary.channels]
    live = shown(w, names)
    assert sum(1 for v in live.values() if v) > 40
    w.close()

    replay = ReplayClient(log, speed=math.inf)  # as `gridfree console --replay LOG --speed max` opens it
    r = active(qtbot, MainWindow(replay, settings_path=tmp_path / "replay.ini"))
    qtbot.addWidget(r)
    replay.connect()
    try:
        assert r.mode_badge.text() == "REPLAY" and r.mode_badge in r.statusBar().findChildren(type(r.mode_badge))
        qtbot.waitUntil(replay.finished.is_set, timeout=30_000)
        ticks(qtbot, r)
        assert shown(r, names) == live
        end = replay.position
        first = min(s.first_t_rx for s in replay.archive.segments)
        assert r.transport.span == (first, end) and r.transport.position.text().endswith("end of log")

        # From the start at 1x: playing, then Space pauses and the position stays put.
        r.transport.speed.setCurrentIndex(r.transport.speed.findText("1×"))
        r.transport.speed.activated.emit(r.transport.speed.currentIndex())
        slider = r.transport.slider
        slider.setSliderDown(True)
        slider.setValue(0)
        replayed = replay.frames_replayed
        slider.setSliderDown(False)  # released: seek
        qtbot.waitUntil(lambda: replay.frames_replayed >= replayed + 2, timeout=5_000)  # it plays from the start
        assert replay.position < end
        qtbot.keyClick(r, Qt.Key.Key_Space)
        assert replay.paused and r.transport.play_button.text() == "Play"
        ticks(qtbot, r, 1)  # a frame already under way when Space was pressed has landed by now
        held, frames = replay.position, replay.frames_replayed
        ticks(qtbot, r, 25)  # 2.5 s at 1x: two or three frames' worth
        assert replay.position == held and replay.frames_replayed == frames
        assert r.transport.position.text() == "received " + stamp(held) + " · paused"
        r.transport.step_button.click()
        qtbot.waitUntil(lambda: replay.frames_replayed == frames + 1)
        assert replay.paused and replay.position >= held

        # Seek to the middle, play at max: the end is reached again, showing the same last values.
        r.transport.set_speed(math.inf)
        middle = (first + end) / 2
        r.transport.seek(middle)
        qtbot.keyClick(r, Qt.Key.Key_Space)
        assert not replay.paused
        qtbot.waitUntil(lambda: replay.position == end and replay.finished.is_set(), timeout=30_000)
        ticks(qtbot, r)
        again = {n: v for n, v in shown(r, names).items() if v}
        assert len(again) > 40 and all(live[n] == v for n, v in again.items())
        assert r.transport.slider.value() == r.transport.slider.maximum()
    finally:
        r.close()
        replay.close()
