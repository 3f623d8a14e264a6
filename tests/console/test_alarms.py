"""The alarm table an operator works: missing data reads INVALID (never RED), every state is
written in its cell, and the panel's actions acknowledge, shelve, reset, take out of service,
assign and annotate, refusing in one line what does not apply."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from gridfree.ground.alarms.board import DEFAULT_LATCHING
from gridfree.ground.console.alarms import INVALID_COLOUR, AlarmModel
from gridfree.ground.console.alarmview import AlarmPanel
from gridfree.ground.console.models import COLOURS, format_value
from gridfree.ground.link.records import Sample
from gridfree.ground.link.utc import stamp
from tests.console.conftest import T0

# The offscreen platform cannot pass size hints to a window system (see test_window.py).
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

M = AlarmModel
WALL_T = T0 + 3600.0


def row(model, name):
    return model.names().index(name)


def cell(model, name, column, role=Qt.ItemDataRole.DisplayRole):
    return model.index(row(model, name), column).data(role)


def texts(model, name):
    return [cell(model, name, c) for c in range(model.columnCount())]


@pytest.fixture
def model(dictionary, clock):
    return AlarmModel(dictionary, clock, latching=DEFAULT_LATCHING, wall_clock=lambda: WALL_T)


class Answers:
    """What the operator types into the owner, note and channel dialogs."""

    def __init__(self, *answers):
        self.answers, self.asked = list(answers), []

    def __call__(self, title, label, choices_or_text):
        self.asked.append(title)
        return self.answers.pop(0)


@pytest.fixture
def panel(qtbot, model):
    p = AlarmPanel(model, ask_text=Answers(), ask_choice=Answers())
    qtbot.addWidget(p)
    p.resize(1300, 260)
    p.show()
    qtbot.waitExposed(p)
    return p


def menu_action(menu, text):
    for act in menu.actions():
        if act.text() == text:
            return act
        if act.menu() is not None:
            found = menu_action(act.menu(), text)
            if found is not None:
                return found
    return None


def test_the_model_stays_consistent_through_every_kind_of_row(qtmodeltester, model, clock):
    qtmodeltester.check(model)
    model.apply_samples([Sample("power.CapacityFadePct", math.nan, T0), Sample("power.Soc", 10.0, T0),
                         Sample("eps.BatteryVoltage", 23.0, T0), Sample("eps.BatteryTemp", 20.0, T0)])
    model.shelve("power.Soc", 60.0)
    model.acknowledge("eps.BatteryVoltage")
    model.apply_samples([Sample("eps.BatteryVoltage", 28.0, T0 + 1), Sample("power.CapacityFadePct", 1.0, T0 + 1)])
    model.remove_from_service("eps.PayloadTemp")
    clock.advance(61.0)
    model.refresh()
    model.reset("eps.BatteryVoltage")
    assert model.names() == ["power.Soc", "eps.PayloadTemp"]


def test_missing_data_shows_invalid_with_its_own_cue_and_raises_no_alarm(model):
    """A node without hardware reports NaN for every reading it could not make."""
    counts = []
    model.activeChanged.connect(counts.append)
    limited = [n for n in model.channels]
    model.apply_samples([Sample(n, math.nan, T0) for n in limited])
    assert model.names() == limited and model.active_count() == 0 and counts == []
    fade = texts(model, "power.CapacityFadePct")
    assert fade == ["power.CapacityFadePct", "? INVALID", "", "no reading", "", "no alarm", "", ""]
    assert cell(model, "power.CapacityFadePct", M.CONDITION, Qt.ItemDataRole.BackgroundRole) == INVALID_COLOUR
    assert INVALID_COLOUR not in (COLOURS["green"], COLOURS["yellow"], COLOURS["red"], COLOURS["stale"])
    assert cell(model, "power.CapacityFadePct", M.CONDITION, Qt.ItemDataRole.FontRole).italic()
    assert "no measurement (NaN); not a limit alarm" in cell(model, "power.CapacityFadePct", 0, Qt.ItemDataRole.ToolTipRole)
    assert model.summary() == f"0 to acknowledge · {len(limited)} invalid"
    assert "nan" not in " ".join(" ".join(texts(model, n)) for n in limited).lower()


def test_each_alarm_state_is_written_not_only_coloured(model, clock):
    model.apply_samples([Sample("power.Soc", 25.0, T0)])
    value_text = format_value(model.channels["power.Soc"], 25.0)[0]  # the console's one number format
    assert texts(model, "power.Soc")[:6] == ["power.Soc", "▼ LO", "YELLOW", value_text, stamp(T0), "● UNACK"]
    assert cell(model, "power.Soc", M.STATUS, Qt.ItemDataRole.FontRole).bold()
    model.acknowledge("power.Soc")
    assert cell(model, "power.Soc", M.STATUS) == "✓ ACK"
    assert not cell(model, "power.Soc", M.STATUS, Qt.ItemDataRole.FontRole)  # seen: no longer bold
    model.apply_samples([Sample("power.Soc", 12.0, T0 + 1)])
    assert (cell(model, "power.Soc", M.CONDITION), cell(model, "power.Soc", M.STATUS)) == ("▼▼ LOLO", "● UNACK")
    model.apply_samples([Sample("power.Soc", 50.0, T0 + 2)])
    assert (cell(model, "power.Soc", M.CONDITION), cell(model, "power.Soc", M.STATUS)) == ("✓ NORMAL", "● RTN UNACK")
    assert cell(model, "power.Soc", M.WORST) == "RED"
    model.apply_samples([Sample("eps.BatteryTemp", 47.0, T0 + 2), Sample("eps.BatteryTemp", 20.0, T0 + 3)])
    assert cell(model, "eps.BatteryTemp", M.STATUS) == "◆ LATCHED · UNACK"
    model.acknowledge("eps.BatteryTemp")
    assert cell(model, "eps.BatteryTemp", M.STATUS) == "◆ LATCHED · RESET"
    model.shelve("power.Soc", 900.0)
    assert cell(model, "power.Soc", M.STATUS) == "◷ SHELVED 15 min · UNACK"
    assert cell(model, "power.Soc", M.STATUS, Qt.ItemDataRole.FontRole).italic()
    clock.advance(870.0)
    model.refresh()
    assert cell(model, "power.Soc", M.STATUS) == "◷ SHELVED 30 s · UNACK"
    model.remove_from_service("power.Soc")
    assert cell(model, "power.Soc", M.STATUS) == "⊘ OUT OF SERVICE"


def test_the_panel_acts_on_the_selected_rows_and_says_why_it_refuses(qtbot, panel, model):
    model.apply_samples([Sample("power.Soc", 10.0, T0), Sample("eps.BatteryVoltage", 23.0, T0)])
    panel.view.selectRow(row(model, "eps.BatteryVoltage"))
    menu = panel.context_menu(panel.selected())
    assert not menu_action(menu, "Reset latch").isEnabled()  # unacknowledged: acknowledge first
    menu_action(menu, "Acknowledge").trigger()
    assert cell(model, "eps.BatteryVoltage", M.STATUS) == "✓ ACK"
    assert panel.run("reset") == ["eps.BatteryVoltage is still LOLO: it can be reset once back in limits"]
    assert panel.message.text() == "Not done: eps.BatteryVoltage is still LOLO: it can be reset once back in limits"
    model.apply_samples([Sample("eps.BatteryVoltage", 28.0, T0 + 1)])
    menu = panel.context_menu(panel.selected())
    assert menu_action(menu, "Reset latch").isEnabled()
    menu_action(menu, "Reset latch").trigger()
    assert model.names() == ["power.Soc"] and panel.message.text() == ""

    menu = panel.context_menu(["power.Soc"])
    menu_action(menu, "Shelve until it clears (one-shot)").trigger()
    assert cell(model, "power.Soc", M.STATUS) == "◷ SHELVED until normal · UNACK"
    assert model.active_count() == 0 and panel.summary.text() == "0 to acknowledge · 1 shelved"
    menu_action(panel.context_menu(["power.Soc"]), "Out of service").trigger()
    assert cell(model, "power.Soc", M.STATUS) == "⊘ OUT OF SERVICE"
    menu_action(panel.context_menu(["power.Soc"]), "Shelve 15 min").trigger()
    assert "return it to service before shelving it" in panel.message.text()
    menu_action(panel.context_menu(["power.Soc"]), "Return to service").trigger()
    assert cell(model, "power.Soc", M.STATUS) == "● UNACK"  # still low: a new alarm


def test_owner_and_notes_from_the_panel(qtbot, panel, model):
    model.apply_samples([Sample("power.Soc", 25.0, T0)])
    panel.ask_text = Answers("Ana", "eclipse longer than planned", "   ")
    panel.set_owner(["power.Soc"])
    panel.add_note(["power.Soc"])
    assert cell(model, "power.Soc", M.OWNER) == "Ana" and cell(model, "power.Soc", M.NOTE) == "eclipse longer than planned"
    tip = cell(model, "power.Soc", 0, Qt.ItemDataRole.ToolTipRole)
    assert "Owner: Ana" in tip and f"{stamp(WALL_T)}  eclipse longer than planned" in tip
    panel.add_note(["power.Soc"])
    assert panel.message.text() == "Not done: a note needs some text"
    panel.ask_choice = Answers("eps.PayloadTemp")
    panel.take_out_of_service()
    assert cell(model, "eps.PayloadTemp", M.STATUS) == "⊘ OUT OF SERVICE"
    model.apply_samples([Sample("eps.PayloadTemp", 95.0, T0 + 1)])
    assert model.active_count() == 1  # power.Soc only


def test_the_panel_shows_the_flood(qtbot, panel, model, clock):
    """Eleven annunciations in ten minutes (one chattering channel is enough) is a flood."""
    flooded = []
    model.floodChanged.connect(flooded.append)
    for k in range(11):
        model.apply_samples([Sample("power.Soc", 25.0, T0 + 2 * k), Sample("power.Soc", 50.0, T0 + 2 * k + 1)])
        clock.advance(30.0)
        model.refresh()
        if k == 9:
            assert panel.flood.text() == "10 alarms raised in the last 10 min" and flooded == []
    assert panel.flood.text() == "⚠ ALARM FLOOD: 11 alarms in 10 min (EEMUA 191: more than 10)"
    assert flooded == [True] and "background" in panel.flood.styleSheet()
    clock.advance(270.0)  # ten minutes after the first annunciation: it leaves the window
    model.refresh()
    assert flooded == [True, False] and panel.flood.text() == "10 alarms raised in the last 10 min"
