"""Small display pieces the power and thermal views share: a labelled readout, a state lamp,
a gauge that draws a value against its red and yellow limits, and the newest values of the
channels a view shows.

They are set from the views' refresh (a few times a second), never per sample, and colour
themselves with the same limit colours as the telemetry table so one colour means one thing
everywhere in the console. Values are written in their channel's dictionary format, as in the
table, and each carries its age; a stale one (staleness.py) greys, turns italic and says
"STALE 12 s", as the table's rows do.
"""
from __future__ import annotations

import math
import time
from operator import attrgetter
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gridfree.ground.console.models import COLOURS, limit_state
from gridfree.ground.console.staleness import (STALE_PERIODS, OnboardClock, age_text, expected_periods,
                                               period_text, stale_cue)
from gridfree.protocols.dictionary import Dictionary, Limits, value_text

NO_DATA = "—"
STALE_TEXT = "color: #6b6b6b; font-style: italic;"
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
        self.age = QLabel("")  # "3 s old", or "STALE 12 s"
        self.age.setObjectName("readoutAge")
        self.age.setStyleSheet("color: #777;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.age)
        self.state: str | None = None
        self.stale = False
        self._shown: tuple | None = None

    def set(self, text: str, state: str | None = None, age: str = "", stale: bool = False) -> None:
        """Show `text`, coloured by limit `state`; `age` under it; stale: greyed, italic, and the
        age line says so (grey beats the limit colour, as in the table)."""
        if (text, state, age, stale) == self._shown:
            return
        self._shown = (text, state, age, stale)
        self.value.setText(text)
        self.state, self.stale = state, stale
        self.age.setText(age)
        self.age.setStyleSheet("color: #333; font-weight: bold;" if stale else "color: #777;")
        font = self.value.font()
        font.setItalic(stale)
        self.value.setFont(font)
        colour = COLOURS["stale"] if stale else COLOURS.get(state) if state else None
        self.setStyleSheet(f"Readout {{ background: {colour.name()}; }}" if colour is not None else "")

    def show_channel(self, values: "LatestValues", name: str, text: str | None = None) -> None:
        """Show channel `name` from `values`: its text (or `text`), limit state, age and staleness."""
        self.set(values.text(name) if text is None else text, values.state(name), values.age_line(name),
                 values.stale(name))

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
        self.stale = False
        self._style("#e0e0e0", "#777")

    def set(self, on: bool | None, stale_cue: str = "") -> None:
        """Lit or dark by `on` (None: never reported); with a `stale_cue` ("STALE 12 s") the
        lamp greys out and says it, whatever it last showed."""
        self.on, self.stale = on, bool(stale_cue)
        if on is None:
            self.setText(NO_DATA)
            self._style("#e0e0e0", "#777")
        elif stale_cue:
            self.setText(f"{self.on_text if on else self.off_text} · {stale_cue}")
            self._style(COLOURS["stale"].name(), "#555", italic=True)
        else:
            self.setText(self.on_text if on else self.off_text)
            self._style(self.on_colour if on else "#eeeeee", "black" if on else "#555")

    def show_channel(self, values: "LatestValues", name: str) -> None:
        self.set(values.value(name), stale_cue(values.age(name)) if values.stale(name) else "")

    def _style(self, background: str, colour: str, italic: bool = False) -> None:
        self.setStyleSheet(f"QLabel {{ background: {background}; color: {colour}; border: 1px solid #999;"
                           " border-radius: 4px; padding: 4px 10px; font-weight: bold;"
                           f"{' font-style: italic;' if italic else ''} }}")


class LimitGauge(QWidget):
    """A horizontal scale with the red, yellow and green bands of a channel's limits and a
    marker at the present value. Without limits it shows the value on a plain scale."""

    def __init__(self, limits: Limits | None, unit: str = "", span: tuple[float, float] = (-40.0, 100.0),
                 parent=None):
        super().__init__(parent)
        self.limits, self.unit = limits, unit
        self.lo, self.hi = self._span(limits, span)
        self.value: float | None = None
        self.stale = False
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

    def set_value(self, value: float | None, stale: bool = False) -> None:
        """Mark `value`; a stale one with a grey dashed marker (its label says how old)."""
        if (value, stale) != (self.value, self.stale):
            self.value, self.stale = value, stale
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
            pen = QPen(QColor("#8a8a8a") if self.stale else QColor("black"), 3)
            if self.stale:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(int(x), 0, int(x), h)
        p.end()


class LatestValues:
    """The newest sample of a few channels, for views that show values rather than history, with
    each value's age on `onboard`, the onboard clock the telemetry table runs on (a view made
    alone, in a test, gets its own on the ground's monotonic clock)."""

    def __init__(self, dictionary: Dictionary, names: list[str], onboard: OnboardClock | None = None):
        self.channels = {n: dictionary.channel_by_name[n] for n in names if n in dictionary.channel_by_name}
        periods = expected_periods(dictionary)
        self.period_s = {n: periods.get(n, math.inf) for n in self.channels}
        self.onboard = onboard if onboard is not None else OnboardClock(time.monotonic)
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
        self.onboard.observe(newest)  # a clock shared with the table has seen it already: no-op
        if self.latest_time is None or newest > self.latest_time:
            self.latest_time = newest

    def age(self, name: str) -> float | None:
        """Onboard seconds since the channel's last report (None: never reported)."""
        s, now = self.samples.get(name), self.onboard.now()
        return None if s is None or now is None else max(0.0, now - s.time_s)

    def stale(self, name: str) -> bool:
        age = self.age(name)
        return age is not None and age > STALE_PERIODS * self.period_s.get(name, math.inf)

    def age_line(self, name: str) -> str:
        """What a readout writes under a value: its age against its period, or the stale cue."""
        age = self.age(name)
        if age is None:
            return ""
        if self.stale(name):
            return stale_cue(age)
        period = self.period_s.get(name, math.inf)
        return f"{age_text(age)} old" + (f" (every {period_text(period)})" if math.isfinite(period) else "")

    def value(self, name: str) -> Any:
        s = self.samples.get(name)
        return None if s is None else s.value

    def text(self, name: str) -> str:
        """The value as the table shows it, in the channel's dictionary format; NO_DATA if never
        reported."""
        s = self.samples.get(name)
        if s is None:
            return NO_DATA
        return value_text(self.channels[name], s.value)

    def state(self, name: str) -> str | None:
        s = self.samples.get(name)
        return None if s is None else limit_state(self.channels[name], s.value)

    def take_dirty(self) -> bool:
        dirty, self.dirty = self.dirty, False
        return dirty
