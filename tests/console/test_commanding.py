"""The command sender: the form is the dictionary's declaration, bad input never leaves the
ground, and a hazardous command needs a yes."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from gridfree.ground.console.commanding import CommandSender, field_range
from gridfree.ground.console.logmodels import CommandHistoryModel
from tests.console.conftest import FakeClient, FakeReplay


@pytest.fixture
def sender(qtbot, fake):
    answers = []
    history = CommandHistoryModel()
    s = CommandSender(fake, history, confirm=lambda cmd, args: answers.append(cmd.name) or s.answer)
    s.answer, s.asked = True, answers
    qtbot.addWidget(s)
    return s


def test_every_form_widget_matches_its_argument_declaration(sender, dictionary):
    formed = [c for c in dictionary.commands if not c.raw]
    assert set(sender.commands) == {c.name for c in formed}
    for cmd in formed:
        sender.select(cmd.name)
        assert list(sender.inputs) == [f.name for f in cmd.arguments], cmd.name
        for f in cmd.arguments:
            w = sender.inputs[f.name].widget
            lo, hi = field_range(f)
            if f.enum is not None:
                assert isinstance(w, QComboBox)
                assert {w.itemText(i): w.itemData(i) for i in range(w.count())} == f.enum
            elif f.wire.kind == "bool":
                assert isinstance(w, QCheckBox)
            elif f.wire.kind in ("uint", "int") and hi < 2 ** 31:
                assert isinstance(w, QSpinBox) and (w.minimum(), w.maximum()) == (lo, hi), f"{cmd.name}.{f.name}"
            elif f.wire.kind == "float" and f.min is not None and f.max is not None:
                assert isinstance(w, QDoubleSpinBox) and (w.minimum(), w.maximum()) == (f.min, f.max)
            else:  # 64-bit integers, unbounded floats, text: checked on send
                assert isinstance(w, QLineEdit), f"{cmd.name}.{f.name}"


def test_a_real_command_form_and_what_it_sends(sender, fake):
    sender.select("node.SetMode")
    combo = sender.inputs["mode"].widget
    assert [combo.itemText(i) for i in range(combo.count())] == ["BOOT", "SAFE", "NOMINAL"]
    assert "guards may refuse" in sender.description.text()
    combo.setCurrentText("NOMINAL")
    sender.send_button.click()
    assert fake.sent == [("node.SetMode", {"mode": 2})]
    assert sender.history.rowCount() == 1
    assert sender.history.index(0, 2).data() == "mode=NOMINAL"

    sender.select("node.Arm")
    spin = sender.inputs["window_s"].widget
    # an arm lasts seconds since issue 17 (60 s at most), not ten minutes
    assert (spin.minimum(), spin.maximum(), spin.suffix()) == (1, 60, " s")
    assert spin.toolTip() == "u16: 1 .. 60 s"
    sender.select("power.SetOrbit")  # help comes from the argument's description
    assert sender.inputs["nodal_period_s"].widget.toolTip() == "f64: 0: derive from a_km; 0 .. 200000 s"


def test_out_of_range_input_is_refused_before_sending(qtbot, sender, fake):
    sender.select("time.Correlate")  # an i64 in ±86400 s: wider than any spin box
    edit = sender.inputs["offset_us"].widget
    edit.setText("86400000001")
    qtbot.mouseClick(sender.send_button, Qt.MouseButton.LeftButton)
    assert fake.sent == []
    assert "above the maximum" in sender.error.text()
    assert sender.history.rowCount() == 0
    edit.setText("-1500")
    sender.send_button.click()
    assert fake.sent == [("time.Correlate", {"offset_us": -1500})]
    assert sender.error.text() == ""

    sender.select("node.Arm")  # a spin box cannot even hold a value above its maximum
    spin = sender.inputs["window_s"].widget
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "9999")
    assert spin.value() <= 60
    sender.select("power.SetOrbit")
    sender.inputs["epoch_unix_s"].widget.setText("not a time")
    sender.send_button.click()
    assert "epoch_unix_s" in sender.error.text() and len(fake.sent) == 1


def test_a_hazardous_command_is_not_sent_when_the_operator_declines(sender, fake):
    sender.select("node.Reboot")
    assert sender.hazard.isVisibleTo(sender)
    sender.answer = False
    sender.send_button.click()
    assert sender.asked == ["node.Reboot"] and fake.sent == []
    assert "not confirmed" in sender.error.text()
    sender.answer = True
    sender.send_button.click()
    assert fake.sent == [("node.Reboot", {})]
    assert "node needs node.Arm first" in sender.hazard.text()  # this client cannot arm for the operator
    sender.select("test.Ping")  # not hazardous: no question asked
    assert not sender.hazard.isVisibleTo(sender)
    sender.send_button.click()
    assert sender.asked == ["node.Reboot", "node.Reboot"]


def test_a_confirmed_hazardous_command_goes_with_its_arm_on_a_client_that_can_arm(qtbot, dictionary):
    """On an authenticated live link the confirmation's yes also sends node.Arm right before the
    command (the node binds an arm to the SA that sent it); a no sends neither, and a command that
    is not hazardous gets no arm (an open arm window is a risk of its own)."""
    client = FakeClient(dictionary)
    client.can_arm = True
    history = CommandHistoryModel()
    answers = iter([False, True])
    s = CommandSender(client, history, confirm=lambda cmd, args: next(answers))
    qtbot.addWidget(s)
    s.select("node.Reboot")
    assert "sends node.Arm" in s.hazard.text()
    s.send_button.click()
    assert client.sent == [] and history.rowCount() == 0
    s.send_button.click()
    assert [name for name, _ in client.sent] == ["node.Arm", "node.Reboot"]
    assert [history.index(r, 1).data() for r in range(history.rowCount())] == ["node.Arm", "node.Reboot"]
    s.select("test.Ping")
    s.send_button.click()
    assert [name for name, _ in client.sent] == ["node.Arm", "node.Reboot", "test.Ping"]


def test_commanding_is_off_when_replaying_a_log(qtbot, dictionary):
    replay = FakeClient(dictionary, replay=FakeReplay())
    s = CommandSender(replay, confirm=lambda *_: True)
    qtbot.addWidget(s)
    assert not s.isEnabled() and "replaying" in s.error.text()
