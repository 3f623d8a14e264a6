"""The console's main window: tabs for the big views, docks for what stays in sight.

Telemetry, plots, power, thermal and compute are tabs of the central area; the command sender
and link status dock on the right, events, command history and alarms at the bottom, and the
operator may rearrange them; the arrangement is saved with QSettings and restored next time
(the settings file is a parameter, so tests never touch the operator's own configuration).

One timer drives everything: the bridge's tick. Models and views update from its batches and
redraw on it, so the display costs the same whether telemetry comes at 1 Hz or in a flood.
The status bar says LIVE or REPLAY in colour, because commanding a replay, or trusting a replay
as live, is the mistake an operator must not be able to make by accident.

Logs: on a live link, Record (Ctrl+R) writes every received frame into an archive directory
(REC and the frame count in the status bar); File > Open log… (Ctrl+O) replays one in the same
window, through the same decoding path, with a transport bar (Space plays and pauses, "." steps
one frame, a speed, a time slider) and the log's dictionary note, when it has one, above the tabs.
"""
from __future__ import annotations

import os
import re
import time
from typing import Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from gridfree.ground.alarms.board import DEFAULT_LATCHING
from gridfree.ground.console.alarms import AlarmModel
from gridfree.ground.console.alarmview import AlarmPanel
from gridfree.ground.console.bridge import REFRESH_MS, ClientBridge
from gridfree.ground.console.commanding import CommandSender, Confirm
from gridfree.ground.console.compute import ComputeView
from gridfree.ground.console.layout import LAYOUT_VERSION, LayoutPersistence
from gridfree.ground.console.linkstatus import BANNER_STYLE, MISMATCH_TEXT, LinkStatusPanel
from gridfree.ground.console.logmodels import CommandHistoryModel, EventModel
from gridfree.ground.console.logs import ChooseDirectory, LogActions, ask_directory, replay_clock
from gridfree.ground.console.packets import PacketViewer
from gridfree.ground.console.plots import PlotPanel
from gridfree.ground.console.power import PowerView
from gridfree.ground.console.security import SecurityPanel
from gridfree.ground.console.style import BADGE, NOTE_STYLE
from gridfree.ground.console.logviews import EventLog, HistoryTable
from gridfree.ground.console.tables import TelemetryTable
from gridfree.ground.console.telemetrymodel import TelemetryModel
from gridfree.ground.console.thermal import ThermalView
from gridfree.ground.console.transport import SPEEDS, TransportBar
from gridfree.ground.link.source import TelemetrySource

HASH_DIGITS = re.compile(r"(sha256:[0-9a-f]{16})[0-9a-f]+")  # enough of a hash to tell two apart


class MainWindow(LogActions, LayoutPersistence, QMainWindow):
    """The console on one client at a time: a live link, or the replay of a recorded log.

    The window's frame (menus, docks, status bar, transport bar) stays; what shows a client's
    data is built for it by `_attach` and thrown away by `_detach`, when the window switches to
    another client (File > Open log…) or a replay seeks (a display that jumped back in time must
    not keep what it showed from later). The operator's arrangement carries over: tab, plotted
    channels, table columns and filter.
    """

    def __init__(self, client: TelemetrySource, settings_path: str | os.PathLike | None = None, confirm: Confirm | None = None,
                 stale_s: float = 5.0, refresh_ms: int = REFRESH_MS, clock: Callable[[], float] = time.monotonic,
                 choose_directory: ChooseDirectory | None = None, choose_log: ChooseDirectory | None = None,
                 parent=None):
        super().__init__(parent)
        self.settings = (QSettings(str(settings_path), QSettings.Format.IniFormat) if settings_path is not None
                         else QSettings("gridfree", "console"))
        self.confirm, self.stale_s, self.refresh_ms, self.clock = confirm, stale_s, refresh_ms, clock
        self.choose_directory = choose_directory or ask_directory
        self.choose_log = choose_log or ask_directory
        self.client: TelemetrySource | None = None
        self.live_client: TelemetrySource | None = None  # the live link shown last, to return to from a replay
        self._owned: list[TelemetrySource] = []  # clients this window opened, and so closes
        self._tap = None  # a RecordingTap on the live client, made at its first recording
        self._display_paused = False

        self.tabs = QTabWidget()
        self.tabs.setObjectName("views")
        self.banner = QLabel(MISMATCH_TEXT)
        self.banner.setObjectName("mismatchBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setVisible(False)
        self.note_banner = QLabel()
        self.note_banner.setObjectName("dictionaryNote")
        self.note_banner.setWordWrap(True)
        self.note_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note_banner.setStyleSheet(NOTE_STYLE)
        self.note_banner.setVisible(False)
        self.transport = TransportBar()
        self.transport.seekRequested.connect(self.seek)
        self.transport.setVisible(False)
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.transport)
        box.addWidget(self.note_banner)
        box.addWidget(self.banner)
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.docks: dict[str, QDockWidget] = {}
        self._dock("command", "Command", Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("link", "Link", Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("security", "Security", Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["link"], self.docks["security"])
        self.docks["link"].raise_()
        self._dock("alarms", "Alarms", Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("events", "Events", Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("history", "Command history", Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["alarms"], self.docks["events"])
        self.tabifyDockWidget(self.docks["events"], self.docks["history"])
        self.docks["events"].raise_()
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self._status_bar()
        self._actions()
        self._attach(client)

        self.resize(1600, 1000)
        self.resizeDocks([self.docks["command"]], [440], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["events"]], [240], Qt.Orientation.Vertical)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self.restore_layout()

    # ---- what shows one client ----------------------------------------------------------------------
    def _attach(self, client: TelemetrySource, keep: dict | None = None) -> None:
        """Build the models and views for `client` and put them in the window's frame."""
        d = client.dictionary
        self.client = client
        replay = client.replay
        if replay is None:
            self.live_client = client
        self.bridge = ClientBridge(client, self.refresh_ms, parent=self)
        # Values age on the onboard clock; a replay's holds still while paused or at the end (staleness.py).
        self.telemetry = TelemetryModel(d, None if replay is not None else self.clock, self)
        self.events = EventModel(parent=self)
        self.history = CommandHistoryModel(clock=self.clock, parent=self)
        self.alarms = AlarmModel(d, self.clock, self, latching=DEFAULT_LATCHING)

        self.plots = PlotPanel(d, receipt_clock=replay_clock(replay) if replay is not None else time.time)
        self.table = TelemetryTable(self.telemetry, lambda: len(self.plots.charts))
        self.table.plotRequested.connect(self._plot)
        self.power = PowerView(d, self.plots.store, self.telemetry.onboard)
        self.thermal = ThermalView(d, self.plots.store, self.telemetry.onboard)
        self.compute = ComputeView(d, self.telemetry.onboard)
        self.packet_viewer = PacketViewer(client)
        self.link_status = LinkStatusPanel(client, self.bridge)
        self.security_panel = SecurityPanel(client)
        self.command_sender = CommandSender(client, self.history, self.confirm)
        self.event_log = EventLog(self.events)
        self.history_table = HistoryTable(self.history)
        self.alarm_panel = AlarmPanel(self.alarms)

        for widget, title in ((self.table, "Telemetry"), (self.plots, "Plots"), (self.power, "Power"),
                              (self.thermal, "Thermal"), (self.compute, "Compute"), (self.packet_viewer, "Packets")):
            self.tabs.addTab(widget, title)
        for key, widget in (("command", self.command_sender), ("link", self.link_status),
                            ("security", self.security_panel), ("alarms", self.alarm_panel), ("events", self.event_log),
                            ("history", self.history_table)):
            old = self.docks[key].widget()
            self.docks[key].setWidget(widget)
            if old is not None:
                old.deleteLater()

        self.bridge.samples.connect(self._on_samples)
        self.bridge.events.connect(self.events.append)
        self.bridge.events.connect(self.compute.apply_events)
        self.bridge.verifications.connect(self.history.update)
        self.bridge.tick.connect(self._on_tick)
        self.alarms.activeChanged.connect(self._alarm_count)
        self.alarms.floodChanged.connect(lambda _: self._alarm_count(self.alarms.active_count()))
        self.command_sender.sent.connect(lambda _: self.docks["history"].raise_())
        if self._display_paused:
            self.bridge.set_paused(True)
        if keep:
            self._restore_views(keep)

        title = f"gridfree console — {client.url}"
        self.setWindowTitle(title + (" (REPLAY)" if replay is not None else ""))
        self.mode_badge.setText("REPLAY" if replay is not None else "LIVE")
        self.mode_badge.setStyleSheet(BADGE.format(bg="#e37400" if replay is not None else "#188038"))
        self.mode_badge.setToolTip("Replaying a recorded log: nothing here is happening now"
                                   if replay is not None else "Live link to the node")
        note = client.dictionary_note
        self.note_banner.setText("DICTIONARY: " + HASH_DIGITS.sub(r"\1…", note) if note else "")
        self.note_banner.setToolTip(note)  # the hashes in full
        self.note_banner.setVisible(bool(note))
        self.banner.setVisible(False)
        self.transport.set_client(client)
        self.node_mode.setText("node mode —")
        self._alarm_count(0)
        self._sync_actions()

    def _detach(self) -> dict:
        """Throw away what shows the present client; returns the operator's arrangement of it."""
        keep = {"tab": self.tabs.currentIndex(), "plots": self.plots.state(), "filter": self.table.filter.text(),
                "group": self.table.group.currentIndex(),
                "header": self.table.view.horizontalHeader().saveState()}
        self.bridge.stop()
        self.packet_viewer.stop()
        widgets = [self.tabs.widget(i) for i in range(self.tabs.count())]
        self.tabs.clear()
        for w in widgets:
            w.deleteLater()
        for obj in (self.bridge, self.telemetry, self.events, self.history, self.alarms):
            obj.deleteLater()  # after the views that show them: deferred deletes go in order
        return keep

    def _restore_views(self, keep: dict) -> None:
        self.plots.restore(keep["plots"])
        self.table.view.horizontalHeader().restoreState(keep["header"])
        self.table.filter.setText(keep["filter"])
        if 0 <= keep["group"] < self.table.group.count():
            self.table.group.setCurrentIndex(keep["group"])
        self.tabs.setCurrentIndex(keep["tab"])

    def switch_to(self, client: TelemetrySource, owned: bool = False) -> None:
        """Show `client` instead of the present one; `owned`: this window closes it when done with
        it. A recording of the live link goes on while a log is replayed (REC stays in sight)."""
        if client is self.client:
            return
        old = self.client
        keep = self._detach()
        if old in self._owned:
            self._owned.remove(old)
            old.close()
        if owned:
            self._owned.append(client)
        self._attach(client, keep)

    # ---- construction --------------------------------------------------------------------------
    def _dock(self, key: str, title: str, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")  # saveState needs a name for each
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.mode_badge = QLabel()  # LIVE or REPLAY, set for each client
        self.mode_badge.setObjectName("modeBadge")
        self.rec_label = QLabel("")
        self.rec_label.setObjectName("recBadge")
        self.rec_label.setVisible(False)
        self.node_mode = QLabel("node mode —")
        self.alarm_label = QLabel("no alarms")
        self.pause_label = QLabel("")
        self.link_label = QLabel("")
        self.security_label = QLabel("")  # the SA and whether telemetry is authenticated
        for badge in (self.mode_badge, self.security_label, self.rec_label, self.node_mode, self.alarm_label,
                      self.pause_label):
            bar.addPermanentWidget(badge)
        bar.addWidget(self.link_label, 1)

    def _actions(self) -> None:
        def action(menu, text, shortcut, slot, checkable=False) -> QAction:
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setCheckable(checkable)
            act.triggered.connect(slot)
            menu.addAction(act)
            self.addAction(act)
            return act

        mb = self.menuBar()
        file = mb.addMenu("&File")
        self.open_log_action = action(file, "Open log…", "Ctrl+O", lambda: self.open_log())
        self.open_log_action.setToolTip("Replay a recorded log (an archive directory) in this window")
        self.live_action = action(file, "Back to the live link", None, self.return_to_live)
        file.addSeparator()
        self.record_action = action(file, "Record", "Ctrl+R", self.set_recording, checkable=True)
        self.record_action.setToolTip("Record every frame received from the live link into a directory (Ctrl+R)")
        file.addSeparator()
        action(file, "Close", "Ctrl+Q", self.close)
        view = mb.addMenu("&View")
        self.filter_action = action(view, "Filter telemetry", "Ctrl+F", self.focus_filter)
        self.pause_action = action(view, "Pause display", "F5", self.set_paused, checkable=True)
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        action(view, "Reset layout", None, self.reset_layout)
        cmd = mb.addMenu("&Command")
        self.command_action = action(cmd, "Send a command…", "Ctrl+K", self.focus_command)
        alarms = mb.addMenu("&Alarms")
        self.ack_all_action = action(alarms, "Acknowledge all", "Ctrl+Shift+A", self.acknowledge_all)
        replay = mb.addMenu("&Replay")
        self.play_action = action(replay, "Play / pause", "Space", self.transport.toggle)
        self.step_action = action(replay, "Step one frame (paused)", ".", self.transport.step)
        speeds = replay.addMenu("Speed")
        for text, speed in SPEEDS.items():
            speeds.addAction(text).triggered.connect(lambda _=False, x=speed: self.transport.set_speed(x))
        self.speed_menu = speeds

        tools = self.addToolBar("Main")
        tools.setObjectName("toolbar_main")  # saveState needs a name
        tools.setMovable(False)
        for act in (self.open_log_action, self.live_action, self.record_action):
            tools.addAction(act)

    def _sync_actions(self) -> None:
        """What the present client allows: recording and live on a link, the transport on a replay."""
        replay = self.replaying
        self.record_action.setEnabled(not replay or self.recording)  # a replay may stop it, not start it
        self.record_action.setChecked(self.recording)
        self.live_action.setEnabled(replay and self.live_client is not None)
        self.live_action.setVisible(self.live_client is not None)
        for act in (self.play_action, self.step_action):
            act.setEnabled(replay)
        self.speed_menu.setEnabled(replay)

    # ---- operator actions -------------------------------------------------------------------------
    def focus_filter(self) -> None:
        self.tabs.setCurrentWidget(self.table)
        self.table.filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.table.filter.selectAll()

    def focus_command(self) -> None:
        dock = self.docks["command"]
        dock.show()
        dock.raise_()
        self.command_sender.picker.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.command_sender.picker.lineEdit().selectAll()

    def acknowledge_all(self) -> int:
        return self.alarms.acknowledge_all()

    def set_paused(self, paused: bool) -> None:
        self._display_paused = paused
        self.pause_action.setChecked(paused)
        self.bridge.set_paused(paused)
        self.pause_label.setText("PAUSED (F5)" if paused else "")
        self.pause_label.setStyleSheet(BADGE.format(bg="#5f6368") if paused else "")

    @property
    def paused(self) -> bool:
        return self.bridge.paused

    @property
    def replaying(self) -> bool:
        """Whether the window shows a replayed log (its source offers replay controls)."""
        return self.client is not None and self.client.replay is not None

    def _plot(self, names: list[str], plot: int | None) -> None:
        self.plots.add_channels(names, plot)
        self.tabs.setCurrentWidget(self.plots)

    # ---- the beat ------------------------------------------------------------------------------------
    def _on_samples(self, batch: list) -> None:
        self.telemetry.apply_samples(batch)
        self.alarms.apply_samples(batch)
        self.plots.apply_samples(batch)
        self.power.apply_samples(batch)
        self.thermal.apply_samples(batch)
        self.compute.apply_samples(batch)

    def _on_tick(self) -> None:
        v = self.link_status.refresh()
        self.banner.setVisible(v["dictionary"] is True)
        self.link_label.setText(self.link_status.summary())
        self.security_panel.refresh(badge=self.security_label)
        self.transport.refresh()
        if self.rec_label.isVisible():
            self._rec_badge()
        if self.bridge.paused:
            self.pause_label.setText(f"PAUSED (F5): {self.bridge.pending()} held")
            return
        self.telemetry.refresh()
        self.alarms.refresh()
        self.history.refresh()
        if "node.Mode" in self.telemetry.row_of:
            self.node_mode.setText(f"node mode {self.telemetry.value_text('node.Mode') or '—'}")
        if self.plots.isVisible():
            self.plots.redraw()
        for view in (self.power, self.thermal, self.compute):
            if view.isVisible():
                view.refresh()

    def _alarm_count(self, n: int) -> None:
        flood = "ALARM FLOOD · " if self.alarms.board.in_flood() else ""
        self.alarm_label.setText(flood + (f"{n} alarm{'s' if n != 1 else ''} to acknowledge" if n else "no alarms"))
        self.alarm_label.setStyleSheet(BADGE.format(bg="#b3261e") if n or flood else "")
        self.docks["alarms"].setWindowTitle(f"Alarms ({n})" if n else "Alarms")

    def closeEvent(self, event):
        self.save_layout()
        self.set_recording(False)
        self.bridge.stop()
        self.packet_viewer.stop()
        while self._owned:
            self._owned.pop().close()
        super().closeEvent(event)
