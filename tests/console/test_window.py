"""The main window: data flows from the client thread to the tables, the operator's shortcuts
do what they say, the layout comes back, and LIVE never looks like REPLAY."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from gridfree.ground.console.mainwindow import MainWindow
from tests.console.conftest import T0, FakeClient, FakeReplay

# The offscreen platform cannot pass size hints to a window system, and says so when a shown
# window's size constraints change; that is the test platform talking, not the console.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def active(qtbot, w):
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


def test_the_fakes_offer_what_a_real_source_does(dictionary, tmp_path):
    """The console is tested on fakes: they must have every member the interface declares, as
    the live client and the replay have."""
    from gridfree.ground.link.client import GroundClient
    from gridfree.ground.link.source import ReplayControl, TelemetrySource

    assert isinstance(FakeClient(dictionary), TelemetrySource) and isinstance(FakeReplay(), ReplayControl)
    assert isinstance(GroundClient("tcp://127.0.0.1:9", dictionary), TelemetrySource)
    # and a ReplayClient: tests/console/test_replay.py


def test_status_bar_says_live_or_replay(qtbot, window, dictionary, tmp_path):
    assert window.mode_badge.text() == "LIVE"
    replay = MainWindow(FakeClient(dictionary, replay=FakeReplay()), settings_path=tmp_path / "r.ini")
    qtbot.addWidget(replay)
    assert replay.mode_badge.text() == "REPLAY" and "REPLAY" in replay.windowTitle()
    assert not replay.command_sender.isEnabled()


def test_samples_from_the_reader_thread_reach_the_table_in_batches(qtbot, window, fake):
    repaints = []
    window.telemetry.refreshed.connect(lambda lo, hi: repaints.append((lo, hi)))

    def reader():  # what the client's reader thread does: call subscribers, nothing else
        for i in range(3000):
            fake.sample("eps.BatteryVoltage", 24.0 + i / 1000, T0 + i / 100)
            fake.sample("node.Mode", 2, T0 + i / 100)

    t = threading.Thread(target=reader)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: window.telemetry.value_text("eps.BatteryVoltage") == "27.00 V")
    assert window.telemetry.value_text("node.Mode") == "NOMINAL"
    assert len(repaints) <= window.bridge.flushes  # never more than one repaint per tick
    assert window.bridge.dropped == 0
    qtbot.waitUntil(lambda: window.node_mode.text() == "node mode NOMINAL")


def test_f5_pauses_the_display_and_resuming_catches_up(qtbot, window, fake):
    active(qtbot, window)
    fake.sample("power.Soc", 80.0)
    qtbot.waitUntil(lambda: window.telemetry.value_text("power.Soc") == "80.0 %")
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert window.paused
    fake.sample("power.Soc", 70.0)
    flushes = window.bridge.flushes
    qtbot.waitUntil(lambda: window.bridge.flushes >= flushes + 3)
    assert window.telemetry.value_text("power.Soc") == "80.0 %"  # held, not shown...
    assert "1 held" in window.pause_label.text()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.telemetry.value_text("power.Soc") == "70.0 %")  # ...nor lost
    assert not window.paused


def test_keyboard_shortcuts_reach_filter_sender_and_alarms(qtbot, window, fake):
    active(qtbot, window)
    window.tabs.setCurrentWidget(window.power)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.table
    assert window.focusWidget() is window.table.filter
    qtbot.keyClicks(window.table.filter, "radiatortemp")
    assert window.table.proxy.channel_names() == ["eps.RadiatorTemp"]

    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.focusWidget() in (window.command_sender.picker, window.command_sender.picker.lineEdit())

    fake.sample("power.Soc", 10.0)
    fake.sample("eps.BatteryTemp", 50.0)
    qtbot.waitUntil(lambda: window.alarms.active_count() == 2)
    assert window.alarm_label.text() == "2 alarms to acknowledge"
    qtbot.keyClick(window, Qt.Key.Key_A, CTRL_SHIFT)
    assert window.alarms.active_count() == 0
    assert window.alarm_label.text() == "no alarms"


def test_right_click_plots_the_selected_channels(qtbot, window, fake):
    menu = window.table.context_menu(["power.Soc", "power.SocSigma"])
    new_plot = next(a for a in menu.actions() if a.text() == "Plot on a new plot")
    charts = len(window.plots.charts)
    new_plot.trigger()
    assert len(window.plots.charts) == charts + 1
    assert list(window.plots.charts[-1].curves) == ["power.Soc", "power.SocSigma"]
    assert window.tabs.currentWidget() is window.plots
    fake.sample("power.Soc", 55.0)
    qtbot.waitUntil(lambda: len(window.plots.charts[-1].curves["power.Soc"].getData()[1] or []) == 1)


def test_the_layout_is_restored_from_the_settings_file(qtbot, dictionary, tmp_path):
    settings = tmp_path / "layout.ini"
    first = MainWindow(FakeClient(dictionary), settings_path=settings)
    qtbot.addWidget(first)
    first.show()
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.docks["command"])
    first.docks["link"].hide()
    first.tabs.setCurrentWidget(first.thermal)
    first.plots.add_channels(["eps.BusVoltage"], 0)
    first.table.view.setColumnWidth(1, 333)
    first.close()  # closing saves
    assert settings.exists()

    second = MainWindow(FakeClient(dictionary), settings_path=settings)
    qtbot.addWidget(second)
    second.show()
    assert second.dockWidgetArea(second.docks["command"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert second.docks["link"].isHidden()
    assert second.tabs.currentWidget() is second.thermal
    assert list(second.plots.charts[0].curves) == ["eps.BusVoltage"]
    assert second.table.view.columnWidth(1) == 333

    second.reset_layout()
    assert second.dockWidgetArea(second.docks["command"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert not second.docks["link"].isHidden()
    fresh = MainWindow(FakeClient(dictionary), settings_path=tmp_path / "none.ini")
    qtbot.addWidget(fresh)
    assert not fresh.restore_layout()  # nothing saved: the default layout, no error


def test_screenshot_writes_the_window_as_a_png(qtbot, window, fake, tmp_path):
    fake.sample("eps.BatteryVoltage", 23.0)
    qtbot.waitUntil(lambda: window.telemetry.state("eps.BatteryVoltage") == "red")
    path = tmp_path / "console.png"
    assert window.screenshot(path)
    image = QImage(str(path))
    assert (image.width(), image.height()) == (window.width(), window.height())
    assert path.stat().st_size > 20_000
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20  # text, tables, badges: not a blank rectangle


def test_a_dictionary_mismatch_raises_a_banner_over_every_tab(qtbot, window, fake):
    assert not window.banner.isVisibleTo(window)
    fake.hash_mismatch = True
    qtbot.waitUntil(lambda: window.banner.isVisibleTo(window))
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        assert window.banner.isVisible()
