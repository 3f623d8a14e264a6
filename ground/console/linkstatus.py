"""Link status: is the downlink healthy, and is the ground decoding it with the right dictionary.

Counters come from the source's decoder (`TelemetrySource.stats` and its counts), read on the
display timer; the data rate is the growth of received bytes over the last few seconds. A dictionary hash that
differs from the node's is the one condition that makes every other number on the console
suspect, so it raises a banner meant to be seen from across the room, not a line in a table.
Hashes are written in hex, the first 16 digits (the 64 bits the node reports), as `gridfree dict`
writes the start of the same hash.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable

from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from gridfree.ground.link.source import TelemetrySource
from gridfree.protocols.dictionary import value_text

RATE_WINDOW_S = 3.0
#: The channel by which the node reports the first 64 bits of its dictionary's hash.
HASH_CHANNEL = "node.DictionaryHash"
#: Hex digits of a hash shown: the 64 bits the node reports.
HASH_DIGITS = 16

ROWS = [  # (key, label, is a count of trouble)
    ("connection", "Connection", False),
    ("frames_ok", "Frames ok", False),
    ("frames_bad", "Frames bad (FECF)", True),
    ("frames_lost", "Frames lost (counter gaps)", True),
    ("resyncs", "Resynchronisations", True),
    ("bytes_skipped", "Bytes skipped", True),
    ("rate", "Data rate", False),
    ("packets", "Packets decoded", False),
    ("packets_bad_crc", "Packets with bad CRC", True),
    ("decode_errors", "Decode errors", True),
    ("reader_errors", "Reader errors", True),
    ("dictionary", "Dictionary", False),
    ("held", "Display", False),
]

BANNER_STYLE = "QLabel { background: #b3261e; color: white; font-weight: bold; font-size: 14pt; padding: 8px; }"
MISMATCH_TEXT = ("DICTIONARY MISMATCH: the node reports a different dictionary hash than the one loaded "
                 "here. Values, events and commands may be decoded or encoded wrongly.")


def hash_texts(client: TelemetrySource) -> tuple[str, str | None]:
    """(the loaded dictionary's hash, the node's, or None before it reported), both in hex and
    HASH_DIGITS wide, the node's in its channel's dictionary format."""
    ours = client.dictionary.hash.split(":", 1)[-1][:HASH_DIGITS]
    sample = client.latest.get(HASH_CHANNEL)
    ch = client.dictionary.channel_by_name.get(HASH_CHANNEL)
    if sample is None or ch is None:
        return ours, None
    return ours, value_text(ch, sample.value)


def _rate(bps: float) -> str:
    for unit, scale in (("MB/s", 1e6), ("kB/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.1f} {unit}"
    return f"{bps:.0f} B/s"


class LinkStatusPanel(QWidget):
    def __init__(self, client: TelemetrySource, bridge=None, clock: Callable[[], float] = time.monotonic, parent=None):
        super().__init__(parent)
        self.client, self.bridge, self.clock = client, bridge, clock
        self._bytes: deque[tuple[float, int]] = deque()
        self.values: dict[str, Any] = {}
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, label, _ in ROWS:
            value = QLabel("—")
            value.setObjectName(f"link_{key}")
            self.labels[key] = value
            form.addRow(label, value)
        self.banner = QLabel(MISMATCH_TEXT)
        self.banner.setObjectName("hashMismatchBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addStretch(1)

    def snapshot(self) -> dict[str, Any]:
        """The numbers shown, as plain values (also what tests read)."""
        c = self.client
        stats = c.stats

        def get(name: str) -> int:
            return getattr(stats, name)

        now = self.clock()
        self._bytes.append((now, get("bytes_in")))
        while len(self._bytes) > 2 and now - self._bytes[0][0] > RATE_WINDOW_S:
            self._bytes.popleft()
        (t0, b0), (t1, b1) = self._bytes[0], self._bytes[-1]
        return {
            "connection": c.connection,
            "frames_ok": get("frames_ok"),
            "frames_bad": get("frames_bad"),
            "frames_lost": get("frames_lost"),
            "resyncs": get("resyncs"),
            "bytes_skipped": get("bytes_skipped"),
            "rate": (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0,
            "bytes_in": get("bytes_in"),
            "packets": c.packets,
            "packets_bad_crc": get("packets_bad_crc"),
            "decode_errors": c.decode_errors,
            "reader_errors": c.reader_errors,
            "dictionary": c.hash_mismatch,
            "held": (self.bridge.dropped, self.bridge.pending() if self.bridge.paused else 0)
            if self.bridge is not None else (0, 0),
        }

    def refresh(self) -> dict[str, Any]:
        v = self.values = self.snapshot()
        for key, _, trouble in ROWS:
            value = v[key]
            if key == "rate":
                text = _rate(value)
            elif key == "dictionary":
                ours, node = hash_texts(self.client)
                text = {None: f"ours {ours}, the node's not reported yet", True: f"MISMATCH: node {node}, ours {ours}",
                        False: f"matches the node: {ours}"}[value]
            elif key == "held":
                dropped, held = value
                text = (f"{held} items held while paused" if held else "up to date") + (
                    f"; {dropped} dropped (console too slow)" if dropped else "")
            else:
                text = str(value)
            label = self.labels[key]
            label.setText(text)
            bad = (trouble and value) or (key == "dictionary" and value is True) or (
                key == "held" and value[0])
            label.setStyleSheet("color: #b3261e; font-weight: bold;" if bad else "")
        self.banner.setVisible(v["dictionary"] is True)
        return v

    def summary(self) -> str:
        v = self.values
        if not v:
            return ""
        return (f"frames {v['frames_ok']} ok / {v['frames_bad']} bad / {v['frames_lost']} lost · "
                f"{_rate(v['rate'])} · decode errors {v['decode_errors']}")
