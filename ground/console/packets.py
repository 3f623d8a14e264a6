"""The packet viewer: the last packets off the link, and any one of them in hex and decoded.

When a value looks wrong, an operator wants the bytes it came from. The client hands every good
packet to its subscribers on the reader thread; the viewer only appends it to a bounded ring
there, and a timer moves new ones into the model a few times a second (or not at all while the
view is frozen). One packet is decoded when the operator selects it, not each as it arrives.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from gridfree.ground.console.models import ColumnsModel
from gridfree.ground.link.commands import failure_name
from gridfree.protocols.dictionary import utc_text, value_text
from gridfree.ground.link.source import TelemetrySource
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.pus import PusTm
from gridfree.protocols.services import events as pus5
from gridfree.protocols.services import verification as pus1
from gridfree.protocols.services import housekeeping as pus3

KEEP = 2000
COLUMNS = ("Time (UTC)", "APID", "Type", "Seq", "Octets")


def describe(d: Dictionary, rec) -> str:
    """One line naming the packet as an operator would."""
    kind = f"TM[{rec.service},{rec.subtype}]"
    try:
        tm = PusTm.unpack(rec.raw)
        if (rec.service, rec.subtype) == (3, 25):
            sid = pus3.HkReport.unpack(tm.app_data).sid
            h = d.hk_by_sid.get(sid)
            return f"{kind} housekeeping {h.name if h else f'unknown SID {sid}'}"
        if rec.service == 5:
            event_id = pus5.EventReport.unpack(tm.subtype, tm.app_data).event_id
            ev = d.event_by_id.get(event_id)
            return f"{kind} event {ev.name if ev else event_id}"
        if rec.service == pus1.SERVICE:
            rep = pus1.VerificationReport.unpack(tm.subtype, tm.app_data)
            what = f"{rep.subtype.stage} {'failed' if rep.subtype.failed else 'ok'}"
            code = f" {failure_name(int(rep.failure or 0))}" if rep.subtype.failed else ""
            return f"{kind} verification: {what}{code} (seq {rep.request.seq_count})"
    except (ValueError, KeyError):
        return f"{kind} (undecodable)"
    return {17: f"{kind} test", 20: f"{kind} parameters", 9: f"{kind} time",
            11: f"{kind} schedule", 13: f"{kind} large data"}.get(rec.service, kind)


def decoded_fields(d: Dictionary, raw: bytes) -> list[tuple[str, str]]:
    """The packet's header fields and, where the dictionary describes it, its values."""
    try:
        tm = PusTm.unpack(raw)
    except ValueError as exc:
        return [("error", str(exc))]
    out = [("APID", str(tm.apid)), ("sequence count", str(tm.seq_count)),
           ("service/subtype", f"{tm.service}/{tm.subtype}"), ("message counter", str(tm.msg_counter)),
           ("time", utc_text(tm.time.to_unix())),
           ("application data", f"{len(tm.app_data)} octets")]
    try:
        if (tm.service, tm.subtype) == (3, 25):
            report = pus3.HkReport.unpack(tm.app_data)
            out.append(("SID", str(report.sid)))
            for name, value in d.decode_hk(report.sid, report.values).items():
                out.append((name, value_text(d.channel_by_name[name], value)))
        elif tm.service == 5 and tm.subtype <= 4:
            report = pus5.EventReport.unpack(tm.subtype, tm.app_data)
            ev = d.event_by_id.get(report.event_id)
            out.append(("event", ev.name if ev else f"unknown {report.event_id}"))
            if ev:
                out.append(("text", ev.text(ev.decode_args(report.aux))))
        elif tm.service == pus1.SERVICE:
            rep = pus1.VerificationReport.unpack(tm.subtype, tm.app_data)
            out += [("request", f"APID {rep.request.apid}, sequence count {rep.request.seq_count}"),
                    ("stage", f"{rep.subtype.stage} {'failed' if rep.subtype.failed else 'ok'}")]
            if rep.step is not None:
                out.append(("step", str(rep.step)))
            if rep.subtype.failed:
                out += [("failure code", f"{failure_name(int(rep.failure or 0))} ({int(rep.failure or 0)})"),
                        ("reason", rep.failure_data.decode(errors="replace"))]
    except (ValueError, KeyError) as exc:
        out.append(("decode error", str(exc)))
    return out


def hexdump(raw: bytes, width: int = 16) -> str:
    lines = []
    for at in range(0, len(raw), width):
        chunk = raw[at:at + width]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{at:04x}  {chunk.hex(' '):<{3 * width - 1}}  {text}")
    return "\n".join(lines)


class PacketModel(ColumnsModel):
    def __init__(self, dictionary: Dictionary, keep: int = KEEP, parent=None):
        super().__init__(parent)
        self.dictionary, self.keep = dictionary, keep
        self.rows: list[list] = []  # [record, its cells, made when first shown (None until then)]

    COLUMNS = COLUMNS

    def _row_count(self) -> int:
        return len(self.rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            row = self.rows[index.row()]
            if row[1] is None:
                row[1] = self.cells(row[0])
            return row[1][index.column()]
        return None

    def cells(self, r) -> tuple[str, ...]:
        """The texts of a packet's row. Made on demand: naming a packet means decoding it, and
        a busy link brings far more packets than anyone scrolls through."""
        return utc_text(r.time_s), str(r.apid), describe(self.dictionary, r), str(r.seq_count), str(len(r.raw))

    def append(self, records: list) -> None:
        records = records[-self.keep:]
        drop = max(0, len(self.rows) + len(records) - self.keep)
        if drop:
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            del self.rows[:drop]
            self.endRemoveRows()
        if records:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
            self.rows.extend([r, None] for r in records)
            self.endInsertRows()


class PacketViewer(QWidget):
    def __init__(self, client: TelemetrySource, interval_ms: int = 250, parent=None):
        super().__init__(parent)
        self._ring: deque = deque(maxlen=KEEP)
        self._lock = threading.Lock()
        self.received = 0
        self._stopped = False  # the client keeps its subscribers; a discarded viewer ignores them
        client.subscribe(self._on_item)
        self.model = PacketModel(client.dictionary, parent=self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.verticalHeader().setVisible(False)
        self.view.setColumnWidth(0, 190)
        self.view.setColumnWidth(2, 320)
        self.view.selectionModel().currentRowChanged.connect(self._show)
        self.freeze = QCheckBox("Freeze")
        self.freeze.setToolTip("Stop adding packets while you look at one")
        self.count = QLabel("0 packets")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.hex = QPlainTextEdit(readOnly=True)
        self.hex.setFont(mono)
        self.fields = QPlainTextEdit(readOnly=True)
        self.fields.setFont(mono)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.hex)
        bottom.addWidget(self.fields)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(bottom)
        bar = QHBoxLayout()
        bar.addWidget(self.freeze)
        bar.addStretch(1)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(interval_ms)

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()

    def _on_item(self, kind: str, item: Any) -> None:
        if kind == "packet" and not self._stopped:  # the reader thread: a locked append, nothing else
            with self._lock:
                self._ring.append(item)
                self.received += 1

    def refresh(self) -> None:
        if self.freeze.isChecked():
            return
        with self._lock:
            batch = list(self._ring)
            self._ring.clear()
        if batch:
            self.model.append(batch)
            self.count.setText(f"{self.received} packets, last {len(self.model.rows)} shown")

    def _show(self, current, _previous=None) -> None:
        if not current.isValid():
            return
        rec = self.model.rows[current.row()][0]
        self.hex.setPlainText(hexdump(rec.raw))
        self.fields.setPlainText("\n".join(f"{k:<28} {v}" for k, v in decoded_fields(self.model.dictionary, rec.raw)))
