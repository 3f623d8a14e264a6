"""The console on real links: a node process over TCP, a hostile byte stream, and the
`gridfree console` command run headless."""
from __future__ import annotations

import binascii
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage

from gridfree.ground.console.bridge import LATE_S, REFRESH_MS, YIELD_S, ClientBridge
from gridfree.ground.console.mainwindow import MainWindow
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.pus import CucTime, PusTm
from gridfree.protocols.services import housekeeping as pus3
from tests.keys import operator

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]  # see test_window.py


@pytest.fixture
def live(qtbot, node, dictionary, tmp_path):
    client = GroundClient(node.url, dictionary, security=operator(node.keys)).connect()  # the node has keys
    w = MainWindow(client, settings_path=tmp_path / "console.ini", confirm=lambda cmd, args: True)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    client.close()


def test_the_console_shows_a_node_and_commands_it(qtbot, live):
    t = live.telemetry
    qtbot.waitUntil(lambda: t.value_text("node.Mode") in ("SAFE", "NOMINAL", "BOOT"), timeout=15_000)
    qtbot.waitUntil(lambda: all(t.value_text(n) for n in ("power.Soc", "power.GrantPowerW", "eps.BatteryVoltage")),
                    timeout=5_000)
    # a node without hardware has no estimate yet: NaN reads "no value", never "nan %"
    assert t.value_text("power.Soc").endswith((" %", "no value")) and t.value_text("power.GrantPowerW").endswith(
        (" W", "no value"))
    assert live.node_mode.text().startswith("node mode ")
    qtbot.waitUntil(lambda: live.link_status.values.get("dictionary") is False, timeout=5_000)

    live.command_sender.select("test.Ping")
    live.command_sender.send_button.click()
    now = t.value_text("node.Mode")
    target = "NOMINAL" if now == "SAFE" else "SAFE"
    live.command_sender.select("node.SetMode")
    live.command_sender.inputs["mode"].set(target)
    live.command_sender.send_button.click()
    h = live.history
    # SetMode is hazardous since issue 17: once confirmed it goes with its node.Arm through the same
    # SA, and the history shows both
    assert [h.index(r, 1).data() for r in range(h.rowCount())] == ["test.Ping", "node.Arm", "node.SetMode"]
    assert h.index(2, 2).data() == f"mode={target}"
    qtbot.waitUntil(lambda: all(h.status(r) == "COMPLETED" for r in range(3)), timeout=10_000)
    assert h.index(0, 4).data().startswith("SENT → ACCEPTED +")  # each state with its time
    qtbot.waitUntil(lambda: t.value_text("node.Mode") == target, timeout=5_000)
    ev = live.events
    qtbot.waitUntil(lambda: any(ev.index(r, 3).data() == f"mode {now} -> {target}: ground request"
                                for r in range(ev.rowCount())), timeout=5_000)
    assert live.link_status.values["frames_bad"] == 0 and live.link_status.values["decode_errors"] == 0


# ---- a hostile downlink ------------------------------------------------------------------------

def _with_pec(packet: bytearray) -> bytes:
    packet[-2:] = binascii.crc_hqx(bytes(packet[:-2]), 0xFFFF).to_bytes(2, "big")
    return bytes(packet)


def hostile_chunk() -> tuple[bytes, int]:
    """Garbage, good frames full of packets no dictionary knows, and frames that fail their
    FECF; returns the bytes and how many frames in them are bad."""
    enc = TmFrameEncoder()
    frames = []
    for i in range(600):
        unknown_sid = PusTm(apid=0x3AB, service=3, subtype=pus3.Subtype.HK_REPORT, seq_count=i & 0x3FFF,
                            app_data=struct.pack(">H", 0xBEEF) + bytes(8), time=CucTime.from_unix(1.8e9)).pack()
        not_pus = bytearray(PusTm(apid=0x155, service=8, subtype=1, app_data=bytes(20), seq_count=i & 0x3FFF).pack())
        not_pus[6] = 0x00  # PUS version 0: a space packet with a good CRC that is not PUS-C
        frames += enc.add_packet(0, unknown_sid) + enc.add_packet(0, _with_pec(not_pus))
    frames += enc.flush_all()
    bad = 0
    for i in range(0, len(frames), 7):
        f = bytearray(frames[i])
        f[100] ^= 0xFF
        frames[i] = bytes(f)
        bad += 1
    garbage = os.urandom(5000)
    return garbage + b"".join(frames) + garbage[:333], bad


class HostileServer(threading.Thread):
    """A 'node' that floods whoever connects, as fast as TCP will take it, until stopped."""

    def __init__(self, chunk: bytes):
        super().__init__(daemon=True)
        self.chunk = chunk
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.stop = threading.Event()

    def run(self):
        conn, _ = self.sock.accept()
        with conn:
            try:
                while not self.stop.is_set():
                    conn.sendall(self.chunk)
                    self.sent += len(self.chunk)
            except OSError:
                pass  # the console went away: the flood is over
        self.sock.close()


def test_the_console_stays_responsive_under_a_hostile_stream(qtbot, dictionary, tmp_path):
    chunk, _ = hostile_chunk()
    server = HostileServer(chunk)
    server.start()
    client = GroundClient(f"tcp://127.0.0.1:{server.port}", dictionary).connect()
    w = MainWindow(client, settings_path=tmp_path / "console.ini")
    qtbot.addWidget(w)
    w.show()
    shown = time.monotonic()
    beats: list[float] = []
    heart = QTimer(w)
    heart.setInterval(20)
    heart.timeout.connect(lambda: beats.append(time.monotonic()))
    heart.start()
    try:
        # Megabytes of flood, and at least a second of it, while the GUI thread must keep beating.
        qtbot.waitUntil(lambda: server.sent > 4_000_000 and len(beats) > 50, timeout=30_000)
        during = list(beats)
        gaps = [b - a for a, b in zip(during, during[1:])]
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        assert gaps[worst] < 1.0, (f"the GUI thread stalled for {gaps[worst]:.2f} s, {during[worst] - shown:.2f} s "
                                   f"after show(); the reader paused {w.bridge.reader_pauses} times for it")
        qtbot.waitUntil(lambda: w.link_status.values.get("frames_bad", 0) > 0
                        and w.link_status.values.get("decode_errors", 0) > 0, timeout=5_000)
        v = w.link_status.values
        assert w.link_status.labels["frames_bad"].text() == str(v["frames_bad"])
        assert v["resyncs"] > 0 and v["bytes_skipped"] > 0 and v["rate"] > 0
        assert "b3261e" in w.link_status.labels["decode_errors"].styleSheet()
        # Nothing decodable means nothing shown as if it were: every channel still says no data.
        assert all(w.telemetry.value_text(c.name) == "" for c in dictionary.channels)
    finally:
        server.stop.set()
        heart.stop()
        w.close()
        client.close()
        server.join(5)


def test_a_flooding_reader_stands_aside_while_the_gui_thread_is_starved(qtbot, dictionary):
    """What keeps the test above passing: a reader thread feeding a console whose flush is overdue
    sleeps about half the time, so the GUI thread gets the GIL; once the GUI thread has flushed
    again the reader runs flat out. Items fed on the GUI thread itself (tests, benchmarks) never
    wait."""
    from tests.console.conftest import FakeClient

    client = FakeClient(dictionary)
    behind_s = [0.0]
    bridge = ClientBridge(client, clock=lambda: time.monotonic() + behind_s[0])

    def flood(seconds: float) -> int:
        """Feed items from another thread for `seconds`; returns how many went in."""
        fed = []

        def run():
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                client.emit("sample", None)
                fed.append(1)
        reader = threading.Thread(target=run)
        reader.start()
        reader.join()
        return len(fed)

    behind_s[0] = REFRESH_MS / 1000 + LATE_S + 0.05  # the bridge's clock says the last flush is that overdue
    flood(12 * YIELD_S)
    assert 3 <= bridge.reader_pauses <= 7  # every other YIELD_S: the reader keeps half the link
    pauses = bridge.reader_pauses
    client.emit("sample", None)  # on the GUI thread itself: no pause, however late
    assert bridge.reader_pauses == pauses
    qtbot.waitUntil(lambda: bridge.flushes > 0)  # the GUI thread has caught up
    assert flood(3 * YIELD_S) > 0 and bridge.reader_pauses == pauses
    bridge.stop()


def test_gridfree_console_runs_headless_and_saves_a_screenshot(node, dictionary, tmp_path):
    dict_path = tmp_path / "dictionary.json"
    dict_path.write_text(dictionary.to_json())
    png = tmp_path / "console.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "console", "--link", node.url,
                          "--keys", str(node.keys.ground), "--dict", str(dict_path), "--screenshot", str(png),
                          "--seconds", "3", "--settings", str(tmp_path / "console.ini")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    image = QImage(str(png))
    assert image.width() >= 800 and image.height() >= 600
    assert (tmp_path / "console.ini").exists()  # the layout was saved on the way out
