"""Small display pieces the power and thermal views share: a labelled readout, a state lamp,
a gauge that draws a value against its red and yellow limits, and the newest values of the
channels a view shows.

They are set from the views' refresh (a few times a second), never per sample, and colour
themselves with the same limit colours as the telemetry table so one colour means one thing
everywhere in the console.
"""
from __future__ import annotations

import math
from operator import attrgetter
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gridfree.ground.console.models import COLOURS, format_value, limit_state
from gridfree.ground.link.utc import is_absolute_time
from gridfree.protocols.dictionary import Dictionary, Limits

NO_DATA = "—"
_CHANNEL = attrgetter("channel")
_TIME = attrgetter("time_s")


def _first(*values):
    return next(v for v in values if v is not None)


class Readout(QFrame):
    """A title over a large value, its background coloured by limit state when it has one."""

    def __init__(self, title: str, tooltip: str = "", parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setToolTip(tooltip)
        self.title = QLabel(title)
        self.title.setStyleSheet("color: #555;")
        self.value = QLabel(NO_DATA)
        font = QFont()
        font.setPointSize(font.pointSize() + 5)
        font.setBold(True)
        self.value.setFont(font)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        self.state: str | None = None

    def set(self, text: str, state: str | None = None) -> None:
        self.value.setText(text)
        self.state = state
        colour = COLOURS.get(state) if state else None
        self.setStyleSheet(f"Readout {{ background: {colour.name()}; }}" if colour is not None else "")

    def text(self) -> str:
        return self.value.text()


class Lamp(QLabel):
    """An on/off indicator: lit in its colour with `on_text`, dark with `off_text`."""

    def __init__(self, on_text: str, off_text: str, on_colour: str = "#f9ab00", parent=None):
        super().__init__(NO_DATA, parent)
        self.on_text, self.off_text, self.on_colour = on_text, off_text, on_colour
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(120)
        self.on: bool | None = None
        self._style("#e0e0e0", "#777")

    def set(self, on: bool | None) -> None:
        self.on = on
        if on is None:
            self.setText(NO_DATA)
            self._style("#e0e0e0", "#777")
        else:
            self.setText(self.on_text if on else self.off_text)
            self._style(self.on_colour if on else "#eeeeee", "black" if on else "#555")

    def _style(self, background: str, colour: str) -> None:
        self.setStyleSheet(f"QLabel {{ background: {background}; color: {colour}; border: 1px solid #999;"
                           " border-radius: 4px; padding: 4px 10px; font-weight: bold; }")


class LimitGauge(QWidget):
    """A horizontal scale with the red, yellow and green bands of a channel's limits and a
    marker at the present value. Without limits it shows the value on a plain scale."""

    def __init__(self, limits: Limits | None, unit: str = "", span: tuple[float, float] = (-40.0, 100.0),
                 parent=None):
        super().__init__(parent)
        self.limits, self.unit = limits, unit
        self.lo, self.hi = self._span(limits, span)
        self.value: float | None = None
        self.setMinimumSize(220, 26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    @staticmethod
    def _span(limits: Limits | None, default: tuple[float, float]) -> tuple[float, float]:
        if limits is None:
            return default
        marks = [v for v in (limits.red_low, limits.yellow_low, limits.yellow_high, limits.red_high) if v is not None]
        lo, hi = min(marks), max(marks)
        pad = max(5.0, 0.25 * (hi - lo))
        return lo - pad, hi + pad

    def set_value(self, value: float | None) -> None:
        self.value = value
        self.update()

    def state(self) -> str | None:
        if self.value is None or self.limits is None:
            return None
        return self.limits.state(self.value)

    def bands(self) -> list[tuple[float, float, str]]:
        """(from, to, colour) of the limit bands across the scale; none without limits."""
        lim = self.limits
        if lim is None:
            return []
        out = []
        if lim.red_low is not None:
            out.append((self.lo, lim.red_low, "red"))
        if lim.yellow_low is not None:
            out.append((_first(lim.red_low, self.lo), lim.yellow_low, "yellow"))
        out.append((_first(lim.yellow_low, lim.red_low, self.lo), _first(lim.yellow_high, lim.red_high, self.hi),
                    "green"))
        if lim.yellow_high is not None:
            out.append((lim.yellow_high, _first(lim.red_high, self.hi), "yellow"))
        if lim.red_high is not None:
            out.append((lim.red_high, self.hi, "red"))
        return [(a, b, c) for a, b, c in out if b > a]

    def _x(self, v: float, width: float) -> float:
        return (min(max(v, self.lo), self.hi) - self.lo) / (self.hi - self.lo) * width

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width() - 1, self.height() - 1
        bar = QRectF(0, 4, w, h - 8)
        p.fillRect(bar, QColor("#f3f3f3"))
        for a, b, colour in self.bands():
            x0, x1 = self._x(a, w), self._x(b, w)
            p.fillRect(QRectF(x0, 4, x1 - x0, h - 8), COLOURS[colour])
        p.setPen(QPen(QColor("#999")))
        p.drawRect(bar)
        if self.value is not None and math.isfinite(self.value):
            x = self._x(self.value, w)
            p.setPen(QPen(QColor("black"), 3))
            p.drawLine(int(x), 0, int(x), h)
        p.end()


class LatestValues:
    """The newest sample of a few channels, for views that show values rather than history."""

    def __init__(self, dictionary: Dictionary, names: list[str]):
        self.channels = {n: dictionary.channel_by_name[n] for n in names if n in dictionary.channel_by_name}
        self.samples: dict[str, Any] = {}
        self.latest_time: float | None = None
        self.dirty = False

    def apply(self, batch) -> None:
        if not batch:
            return
        channels = self.channels
        mine = [s for s in batch if s.channel in channels]
        if mine:
            self.samples.update(zip(map(_CHANNEL, mine), mine))
            self.dirty = True
        newest = max(map(_TIME, batch))
        if self.latest_time is None or newest > self.latest_time:
            self.latest_time = newest

    def value(self, name: str) -> Any:
        s = self.samples.get(name)
        return None if s is None else s.value

    def text(self, name: str, digits: int | None = None) -> str:
        """The value as the table shows it, or, with `digits`, a number rounded to that many
        significant digits (a readout read from across the room, not a measurement to copy)."""
        s = self.samples.get(name)
        if s is None:
            return NO_DATA
        ch, v = self.channels[name], s.value
        if isinstance(v, float) and math.isnan(v):
            return NO_DATA  # the node's "no value" (no plan, no RAPL, not measured yet)
        if (digits is not None and isinstance(v, float) and ch.enum is None and math.isfinite(v)
                and not is_absolute_time(ch)):
            text = f"{v:.0f}" if abs(v) >= 10 ** digits else f"{v:.{digits}g}"
            return f"{text} {ch.unit}" if ch.unit else text
        return format_value(ch, v)[0]

    def state(self, name: str) -> str | None:
        s = self.samples.get(name)
        return None if s is None else limit_state(self.channels[name], s.value)

    def take_dirty(self) -> bool:
        dirty, self.dirty = self.dirty, False
        return dirty
