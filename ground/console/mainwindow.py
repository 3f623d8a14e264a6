"""The console's main window: tabs for the big views, docks for what stays in sight.

Telemetry, plots, power, thermal and compute are tabs of the central area; the command sender
and link status dock on the right, events, command history and alarms at the bottom, and the
operator may rearrange them; the arrangement is saved with QSettings and restored next time
(the settings file is a parameter, so tests never touch the operator's own configuration).

One timer drives everything: the bridge's tick. Models and views update from its batches and
redraw on it, so the display costs the same whether telemetry comes at 1 Hz or in a flood.
The status bar says LIVE or REPLAY in colour, because commanding a replay, or trusting a replay
as live, is the mistake an operator must not be able to make by accident.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from gridfree.ground.console.bridge import REFRESH_MS, ClientBridge
from gridfree.ground.console.commanding import CommandSender, Confirm
from gridfree.ground.console.compute import ComputeView
from gridfree.ground.console.packets import PacketViewer
from gridfree.ground.console.linkstatus import MISMATCH_TEXT, LinkStatusPanel
from gridfree.ground.console.models import AlarmModel, CommandHistoryModel, EventModel, TelemetryModel
from gridfree.ground.console.plots import PlotPanel
from gridfree.ground.console.power import PowerView
from gridfree.ground.console.tables import AlarmPanel, EventLog, HistoryTable, TelemetryTable
from gridfree.ground.console.thermal import ThermalView

LAYOUT_VERSION = 1
BADGE = "QLabel {{ background: {bg}; color: white; font-weight: bold; padding: 2px 10px; border-radius: 3px; }}"


class MainWindow(QMainWindow):
    def __init__(self, client: Any, settings_path: str | os.PathLike | None = None, confirm: Confirm | None = None,
                 stale_s: float = 5.0, refresh_ms: int = REFRESH_MS, clock: Callable[[], float] = time.monotonic,
                 parent=None):
        super().__init__(parent)
        self.client = client
        self.is_replay = bool(getattr(client, "is_replay", False))
        d = client.dictionary
        self.settings = (QSettings(str(settings_path), QSettings.Format.IniFormat) if settings_path is not None
                         else QSettings("gridfree", "console"))
        title = f"gridfree console — {getattr(client, 'url', '')}"
        self.setWindowTitle(title + (" (REPLAY)" if self.is_replay else ""))

        self.bridge = ClientBridge(client, refresh_ms, parent=self)
        self.telemetry = TelemetryModel(d, stale_s, clock, self)
        self.events = EventModel(parent=self)
        self.history = CommandHistoryModel(clock=clock, parent=self)
        self.alarms = AlarmModel(d, clock, self)

        self.plots = PlotPanel(d)
        self.table = TelemetryTable(self.telemetry, lambda: len(self.plots.charts))
        self.table.plotRequested.connect(self._plot)
        self.power = PowerView(d, self.plots.store)
        self.thermal = ThermalView(d, self.plots.store)
        self.compute = ComputeView(d)
        self.packet_viewer = PacketViewer(client)
        self.link_status = LinkStatusPanel(client, self.bridge)
        self.command_sender = CommandSender(client, self.history, confirm)
        self.event_log = EventLog(self.events)
        self.history_table = HistoryTable(self.history)
        self.alarm_panel = AlarmPanel(self.alarms)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("views")
        for widget, title in ((self.table, "Telemetry"), (self.plots, "Plots"), (self.power, "Power"),
                              (self.thermal, "Thermal"), (self.compute, "Compute"), (self.packet_viewer, "Packets")):
            self.tabs.addTab(widget, title)
        self.banner = QLabel(MISMATCH_TEXT)
        self.banner.setObjectName("mismatchBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(self.link_status.banner.styleSheet())
        self.banner.setVisible(False)
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.banner)
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.docks: dict[str, QDockWidget] = {}
        self._dock("command", "Command", self.command_sender, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("link", "Link", self.link_status, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("alarms", "Alarms", self.alarm_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("events", "Events", self.event_log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("history", "Command history", self.history_table, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["alarms"], self.docks["events"])
        self.tabifyDockWidget(self.docks["events"], self.docks["history"])
        self.docks["events"].raise_()
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self._status_bar()
        self._actions()

        self.bridge.samples.connect(self._on_samples)
        self.bridge.events.connect(self.events.append)
        self.bridge.events.connect(self.compute.apply_events)
        self.bridge.verifications.connect(self.history.update)
        self.bridge.tick.connect(self._on_tick)
        self.alarms.activeChanged.connect(self._alarm_count)
        self.command_sender.sent.connect(lambda _: self.docks["history"].raise_())

        self.resize(1600, 1000)
        self.resizeDocks([self.docks["command"]], [440], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["events"]], [240], Qt.Orientation.Vertical)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self.restore_layout()

    # ---- construction --------------------------------------------------------------------------
    def _dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")  # saveState needs a name for each
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.mode_badge = QLabel("REPLAY" if self.is_replay else "LIVE")
        self.mode_badge.setObjectName("modeBadge")
        self.mode_badge.setStyleSheet(BADGE.format(bg="#e37400" if self.is_replay else "#188038"))
        self.mode_badge.setToolTip("Replaying a recorded log: nothing here is happening now"
                                   if self.is_replay else "Live link to the node")
        self.node_mode = QLabel("node mode —")
        self.alarm_label = QLabel("no alarms")
        self.pause_label = QLabel("")
        self.link_label = QLabel("")
        bar.addPermanentWidget(self.mode_badge)
        bar.addPermanentWidget(self.node_mode)
        bar.addPermanentWidget(self.alarm_label)
        bar.addPermanentWidget(self.pause_label)
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
        self.pause_action.setChecked(paused)
        self.bridge.set_paused(paused)
        self.pause_label.setText("PAUSED (F5)" if paused else "")
        self.pause_label.setStyleSheet(BADGE.format(bg="#5f6368") if paused else "")

    @property
    def paused(self) -> bool:
        return self.bridge.paused

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
        self.alarm_label.setText(f"{n} alarm{'s' if n != 1 else ''} to acknowledge" if n else "no alarms")
        self.alarm_label.setStyleSheet(BADGE.format(bg="#b3261e") if n else "")
        self.docks["alarms"].setWindowTitle(f"Alarms ({n})" if n else "Alarms")

    # ---- layout persistence ----------------------------------------------------------------------------
    def save_layout(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(LAYOUT_VERSION))
        s.setValue("window/tab", self.tabs.currentIndex())
        s.setValue("telemetry/header", self.table.view.horizontalHeader().saveState())
        s.setValue("plots", json.dumps(self.plots.state()))
        s.sync()

    def restore_layout(self) -> bool:
        """Restore what `save_layout` saved; False (and the default layout) if there is nothing."""
        s = self.settings
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is None or state is None:
            return False
        self.restoreGeometry(geometry)
        self.restoreState(state, LAYOUT_VERSION)
        header = s.value("telemetry/header")
        if header is not None:
            self.table.view.horizontalHeader().restoreState(header)
        tab = s.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))
        try:
            self.plots.restore(json.loads(s.value("plots", "{}")))
        except (TypeError, ValueError):
            pass  # a damaged entry costs the plot layout, nothing else
        return True

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()

    def screenshot(self, path: str | os.PathLike) -> bool:
        """The window as it is now, as a PNG (works offscreen too)."""
        return self.grab().save(str(path), "PNG")

    def closeEvent(self, event):
        self.save_layout()
        self.bridge.stop()
        super().closeEvent(event)
