"""The command sender, built from the dictionary: pick a command, fill a typed form, send.

Each argument gets the widget its declaration calls for, bounded by the declared range, so
most wrong input cannot even be typed; what a widget cannot bound (64-bit integers, text
length in octets, hex bytes) is checked with the dictionary's own `Field.check` before anything
is sent, and a refusal is shown next to the form, never as a half-sent command. Hazardous
commands ask for confirmation first; the confirmation is a callable so tests (and scripted
operations) can answer without a modal dialog. On a client that can arm (the live GroundClient)
a confirmed hazardous command goes with `arm=True`: node.Arm through the same SA right before it,
both in the history; the node binds the arm to that SA, so nobody else can use it.

What happens to a command after Send goes into the history, truthfully: SENT only when the link
took its bytes; a link that dropped them (no peer, a line gone) or could not write at all makes
it FAILED (not sent) with the link's reason. The client asks for every PUS 1 report (ack flags
ALL), so the history can show acceptance, start and completion as the node reports them.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDoubleValidator, QRegularExpressionValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QCompleter, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from gridfree.ground.link.client import ARM_WINDOW_S
from gridfree.ground.link.commands import CommandHandle, WriteWatch
from gridfree.protocols.dictionary import Command, Field

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
FLOAT_DECIMALS = 6

Confirm = Callable[[Command, dict], bool]


class ArgumentError(ValueError):
    """Input the form cannot turn into a valid argument; the message names the argument."""


def field_range(f: Field) -> tuple[float, float]:
    """The declared range, narrowed by the wire type's own."""
    lo, hi = f.wire.range()
    return (lo if f.min is None else max(lo, f.min)), (hi if f.max is None else min(hi, f.max))


def help_text(f: Field) -> str:
    parts = [f.description] if f.description else []
    if f.enum is not None:
        parts.append("one of " + ", ".join(f.enum))
    elif f.wire.kind in ("uint", "int", "float"):
        lo, hi = field_range(f)
        if f.min is not None or f.max is not None or f.wire.kind != "float":
            parts.append(f"{lo:g} .. {hi:g}{' ' + f.unit if f.unit else ''}")
        elif f.unit:
            parts.append(f"in {f.unit}")
    elif f.wire.kind == "string":
        parts.append(f"text, at most {f.wire.size} octets")
    elif f.wire.kind == "bytes":
        parts.append(f"hex, at most {f.wire.size} octets")
    return f"{f.type}: " + "; ".join(parts) if parts else f.type


class ArgumentInput:
    """A widget for one argument and the way to read a checked value out of it."""

    def __init__(self, f: Field):
        self.field = f
        self.widget = self._make(f)
        self.widget.setObjectName(f"arg_{f.name}")
        self.widget.setToolTip(help_text(f))

    def _make(self, f: Field) -> QWidget:
        kind = f.wire.kind
        if f.enum is not None:
            w = QComboBox()
            for label, value in sorted(f.enum.items(), key=lambda kv: kv[1]):
                w.addItem(label, value)
            return w
        if kind == "bool":
            return QCheckBox()
        if kind in ("uint", "int"):
            lo, hi = field_range(f)
            if INT32_MIN <= lo and hi <= INT32_MAX:
                w = QSpinBox()
                w.setRange(int(lo), int(hi))
                w.setValue(int(max(lo, min(0, hi))))
                if f.unit:
                    w.setSuffix(f" {f.unit}")
                return w
            w = QLineEdit(str(int(max(lo, min(0, hi)))))  # wider than a QSpinBox can hold
            w.setValidator(QRegularExpressionValidator(r"-?\d*"))
            w.setPlaceholderText(f"{lo:.0f} .. {hi:.0f}")
            return w
        if kind == "float":
            if f.min is not None and f.max is not None:
                w = QDoubleSpinBox()
                w.setDecimals(FLOAT_DECIMALS)
                w.setRange(f.min, f.max)
                w.setValue(max(f.min, min(0.0, f.max)))
                w.setSingleStep(_step(f.max - f.min))
                if f.unit:
                    w.setSuffix(f" {f.unit}")
                return w
            w = QLineEdit("0")
            v = QDoubleValidator()
            v.setNotation(QDoubleValidator.Notation.ScientificNotation)
            w.setValidator(v)
            return w
        w = QLineEdit()
        if kind == "string":
            w.setMaxLength(f.wire.size)
        else:
            w.setPlaceholderText("hex, e.g. 0a1b2c")
        return w

    def value(self) -> Any:
        """The argument as the dictionary wants it; ArgumentError if the input does not make one."""
        f, w = self.field, self.widget
        if isinstance(w, QComboBox):
            raw = w.currentData()
        elif isinstance(w, QCheckBox):
            raw = w.isChecked()
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            raw = w.value()
        else:
            text = w.text().strip()
            try:
                if f.wire.kind in ("uint", "int"):
                    raw = int(text)
                elif f.wire.kind == "float":
                    raw = float(text)
                elif f.wire.kind == "bytes":
                    raw = bytes.fromhex(text)
                else:
                    raw = w.text()
            except ValueError:
                raise ArgumentError(f"{f.name}: {text!r} is not a valid {f.type}") from None
        try:
            return f.check(raw, f.name)
        except ValueError as exc:
            raise ArgumentError(str(exc)) from None

    def set(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            i = w.findData(self.field.enum.get(value, value) if isinstance(value, str) else value)
            w.setCurrentIndex(i)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(value)
        else:
            w.setText(value.hex() if isinstance(value, bytes) else str(value))


def args_text(cmd: Command, args: dict) -> str:
    """Arguments as an operator reads them: enum labels, not their numbers."""
    parts = []
    for f in cmd.arguments:
        v = args[f.name]
        text = f.label(v) if f.enum is not None else f"{v:.10g}" if isinstance(v, float) else (
            v.hex() if isinstance(v, bytes) else repr(v) if isinstance(v, str) else str(v))
        parts.append(f"{f.name}={text}")
    return ", ".join(parts)


def _step(span: float) -> float:
    step = 1.0
    while step * 10 > span and step > 1e-6:
        step /= 10
    return step


def ask_operator(parent: QWidget, arms: bool = False) -> Confirm:
    """The default confirmation: a modal question naming the command and its arguments (and,
    when `arms`, that Yes sends node.Arm first)."""
    then = ("Yes sends node.Arm through the same SA, then the command." if arms else
            "The node runs it only inside a window opened by node.Arm. Send it?")

    def confirm(cmd: Command, args: dict) -> bool:
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items()) or "no arguments"
        answer = QMessageBox.warning(
            parent, "Hazardous command",
            f"{cmd.name} is hazardous.\n\n{cmd.description}\n\nArguments: {shown}\n\n{then}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
    return confirm


class CommandSender(QWidget):
    """Pick a command, fill its arguments, send; the sent command goes into the history."""

    sent = Signal(object)  # the CommandHandle

    def __init__(self, client: Any, history=None, confirm: Confirm | None = None, parent=None):
        super().__init__(parent)
        self.client, self.history = client, history
        #: Whether a confirmed hazardous command is sent with its node.Arm (a client that takes arm=True).
        self.arms = bool(getattr(client, "can_arm", False))
        self.confirm = confirm or ask_operator(self, self.arms)
        # Commands whose data is laid out by their PUS service (parameter sets, schedule inserts)
        # need structured editors of their own; they are left to scripts and `gridfree cmd`.
        self.commands = {c.name: c for c in client.dictionary.commands if not c.raw}
        self.inputs: dict[str, ArgumentInput] = {}

        self.picker = QComboBox()
        self.picker.setObjectName("commandPicker")
        self.picker.setEditable(True)
        self.picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.picker.addItems(sorted(self.commands))
        completer = QCompleter(sorted(self.commands), self.picker)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.picker.setCompleter(completer)
        self.picker.currentTextChanged.connect(self._select)

        self.description = QLabel()
        self.description.setWordWrap(True)
        self.hazard = QLabel()
        self.hazard.setStyleSheet("color: white; background: #b3261e; padding: 3px; font-weight: bold;")
        self.hazard.setVisible(False)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.error = QLabel()
        self.error.setObjectName("commandError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addWidget(self.description)
        layout.addWidget(self.hazard)
        layout.addLayout(self.form)
        row = QHBoxLayout()
        row.addWidget(self.error, 1)
        row.addWidget(self.send_button)
        layout.addLayout(row)
        layout.addStretch(1)

        if not client.can_command:
            self.setEnabled(False)
            self.error.setText("Commanding is off: this console is replaying a recorded log."
                               if client.replay is not None else "Commanding is off: this source cannot send.")
        self._select(self.picker.currentText())

    @property
    def command(self) -> Command | None:
        return self.commands.get(self.picker.currentText())

    def select(self, name: str) -> None:
        self.picker.setCurrentText(name)

    def _select(self, name: str) -> None:
        cmd = self.commands.get(name)
        while self.form.rowCount():
            self.form.removeRow(0)
        self.inputs = {}
        if self.client.can_command:
            self.error.clear()
        self.send_button.setEnabled(cmd is not None)
        if cmd is None:
            self.description.setText("")
            self.hazard.setVisible(False)
            return
        self.description.setText(cmd.description or "(no description)")
        self.hazard.setText("HAZARDOUS: asks for confirmation, then sends node.Arm through this SA right before it"
                            if self.arms else "HAZARDOUS: asks for confirmation; the node needs node.Arm first")
        self.hazard.setVisible(cmd.hazardous)
        for f in cmd.arguments:
            inp = ArgumentInput(f)
            self.inputs[f.name] = inp
            hint = QLabel(help_text(f))
            hint.setWordWrap(True)
            hint.setStyleSheet("color: #666; font-size: small;")
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(inp.widget)
            box.addWidget(hint)
            self.form.addRow(f"{f.name}{' [' + f.unit + ']' if f.unit else ''}", box)

    def arguments(self) -> dict:
        """Checked arguments of the form; ArgumentError names the first bad one."""
        return {name: inp.value() for name, inp in self.inputs.items()}

    def send(self) -> Any:
        """Check, confirm if hazardous, send, record; returns the handle (its state says whether
        the link took it), or None when the form refused the input and nothing was tried."""
        cmd = self.command
        if cmd is None:
            self.error.setText(f"no command {self.picker.currentText()!r} in the dictionary")
            return None
        try:
            args = self.arguments()
        except ArgumentError as exc:
            self.error.setText(f"Not sent: {exc}")
            return None
        if cmd.hazardous and not self.confirm(cmd, args):
            self.error.setText(f"Not sent: {cmd.name} was not confirmed.")
            return None
        try:
            handle = self._hand_to_link(cmd, args)
        except (KeyError, ValueError) as exc:  # the encoder refused the arguments: nothing left the form
            self.error.setText(f"Not sent: {exc}")
            return None
        self.error.setText(f"Not sent: {handle.not_sent}" if handle.not_sent is not None else "")
        if self.history is not None:
            arm = getattr(handle, "armed_by", None)
            if arm is not None:
                self.history.add(arm, f"window_s={ARM_WINDOW_S}")
            self.history.add(handle, args_text(cmd, args))
        self.sent.emit(handle)
        return handle

    def _hand_to_link(self, cmd: Command, args: dict) -> CommandHandle:
        """The command's handle, SENT if the link took its bytes, FAILED (not sent) with the
        link's reason if it dropped them or could not write at all."""
        watch = WriteWatch(self.client)
        if watch.unconnected is not None:
            handle = CommandHandle(cmd.name, None)
            handle.mark_not_sent(watch.unconnected)
            return handle
        arm = {"arm": True} if cmd.hazardous and self.arms else {}
        try:
            handle = self.client.send(cmd.name, **arm, **args)
        except (OSError, RuntimeError) as exc:  # a closed or broken link (or the audit) raises rather than drops
            handle = CommandHandle(cmd.name, None)
            handle.mark_not_sent(watch.lost() or f"{type(exc).__name__}: {exc}")
            return handle
        lost = watch.lost()
        for h in (getattr(handle, "armed_by", None), handle):
            if h is None:
                continue
            if lost is None:
                h.mark_sent()
            else:
                h.mark_not_sent(lost)
        return handle
