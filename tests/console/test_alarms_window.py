"""The alarms in the whole console: a node that cannot measure shows INVALID channels and no
alarms, an acknowledged alarm says so in its row, and a flood reaches the status bar."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from gridfree.ground.alarms.condition import Condition
from gridfree.ground.console.alarms import AlarmModel
from gridfree.ground.console.mainwindow import MainWindow
from gridfree.ground.link.client import GroundClient
from tests.console.conftest import T0
from tests.keys import operator

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")  # see test_window.py


def status(window, name):
    m = window.alarms
    return m.index(m.names().index(name), AlarmModel.STATUS).data()


def show_alarms(qtbot, window):
    window.docks["alarms"].show()
    window.docks["alarms"].raise_()
    qtbot.waitUntil(window.alarm_panel.isVisible)


def test_missing_readings_are_invalid_and_an_acknowledged_alarm_says_so(qtbot, window, fake, tmp_path):
    limited = list(window.alarms.channels)
    for name in limited:
        fake.sample(name, math.nan)  # a node without a power board
    qtbot.waitUntil(lambda: window.alarms.names() == limited)
    assert {window.alarms.board.alarm(n).condition for n in limited} == {Condition.INVALID}
    assert window.alarms.active_count() == 0 and window.alarm_label.text() == "no alarms"
    assert window.alarm_panel.summary.text() == f"0 to acknowledge · {len(limited)} invalid"

    fake.sample("power.Soc", 10.0, T0 + 1)  # the estimator has a value now, and it is low
    qtbot.waitUntil(lambda: window.alarm_label.text() == "1 alarm to acknowledge")
    assert status(window, "power.Soc") == "● UNACK"
    show_alarms(qtbot, window)
    panel = window.alarm_panel
    panel.view.selectRow(window.alarms.names().index("power.Soc"))
    ack = next(b for b in panel.findChildren(QPushButton) if b.text() == "Acknowledge")
    qtbot.mouseClick(ack, Qt.MouseButton.LeftButton)
    assert status(window, "power.Soc") == "✓ ACK"
    assert window.alarm_label.text() == "no alarms" and window.docks["alarms"].windowTitle() == "Alarms"

    shot = tmp_path / "alarms.png"
    assert panel.grab().save(str(shot))
    image = QImage(str(shot))
    assert image.width() == panel.width() and image.height() == panel.height()


def test_a_flood_reaches_the_status_bar(qtbot, window, fake):
    """One chattering channel, eleven times out of limits in a few seconds: EEMUA 191's flood."""
    for k in range(11):
        fake.sample("power.Soc", 25.0, T0 + 2 * k)
        fake.sample("power.Soc", 50.0, T0 + 2 * k + 1)
    qtbot.waitUntil(lambda: window.alarm_label.text() == "ALARM FLOOD · 1 alarm to acknowledge")
    assert window.alarm_panel.flood.text().startswith("⚠ ALARM FLOOD: 11 alarms in 10 min")
    window.acknowledge_all()
    assert window.alarm_label.text() == "ALARM FLOOD · no alarms"  # still a flood: the rate, not the backlog


@pytest.mark.slow
def test_a_node_without_hardware_raises_no_alarm(qtbot, node, dictionary, tmp_path):
    """The issue's seven RED alarms: a real node with no power board sends NaN for every
    limit-checked reading; the console shows them INVALID and raises nothing."""
    client = GroundClient(node.url, dictionary, security=operator(node.keys)).connect()  # the node has keys
    w = MainWindow(client, settings_path=tmp_path / "console.ini")
    qtbot.addWidget(w)
    w.show()
    try:
        limited = set(w.alarms.channels)
        qtbot.waitUntil(lambda: set(w.alarms.names()) == limited, timeout=20_000)
        assert all(math.isnan(client.latest[n].value) for n in limited)
        assert {w.alarms.board.alarm(n).condition for n in limited} == {Condition.INVALID}
        assert w.alarms.active_count() == 0 and w.alarm_label.text() == "no alarms"
        assert w.alarms.board.flood_count() == 0
    finally:
        w.close()
        client.close()
