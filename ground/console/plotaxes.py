"""What a plot's frame says: curve styles, the UTC time axis, unit axes and limit lines.

Colour is never the only cue: curve k of a plot has its own colour, its own line style and its
own marker (drawn at its newest point and in the legend), so two curves stay apart in grey
print or for a colour-blind operator. The time axis says which time it shows, spacecraft
(onboard) or ground receipt, always in UTC with the date, and shows no ticks at all before
there is data to place them (an empty date axis would label fractions of a second of 1970).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pyqtgraph as pg
from PySide6.QtCore import Qt

from gridfree.ground.console.plotstore import GROUND, SPACECRAFT
from gridfree.protocols.dictionary import Channel

#: Grid lines are drawn opaque in this light grey: the raster engine blends translucent lines
#: slowly (measured offscreen: five charts repainted in 171 ms with pyqtgraph's translucent grid,
#: 61 ms with this one).
GRID_COLOUR = "#e6e6e6"
GRID_LEVEL = 1  # pyqtgraph's maxTickLevel: lines at the major and minor ticks, not the finer ones
#: Curve colours: no red, orange or yellow, which mean limits here as everywhere in the console.
PALETTE = ["#1565c0", "#6a1b9a", "#2e7d32", "#00838f", "#ad1457", "#4e342e", "#283593", "#546e7a"]
LINE_STYLES = [Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine]
SYMBOLS = ["o", "s", "t", "d", "+", "x", "star", "t1"]
TIME_AXIS_TITLES = {SPACECRAFT: "Spacecraft (onboard) time", GROUND: "Ground receipt time"}
LIMIT_COLOURS = {"yellow": "#e0a800", "red": "#d32f2f"}


def light_grid(plot: pg.PlotWidget) -> None:
    """Grid lines in GRID_COLOUR, opaque, at the labelled ticks only, behind the curves."""
    plot.showGrid(x=True, y=True)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setStyle(tickAlpha=255, maxTickLevel=GRID_LEVEL)
        axis.setTickPen(pg.mkPen(GRID_COLOUR))
        axis.setZValue(-1)  # opaque lines over a curve would cut it into dashes


@dataclass(frozen=True)
class CurveStyle:
    """How curve number k of a plot is told apart: colour, line style and marker."""

    colour: str
    line: Qt.PenStyle
    symbol: str

    @classmethod
    def nth(cls, k: int) -> "CurveStyle":
        # Line styles cycle with a period prime to the palette's, so no two of the first 8 x 4
        # curves share both colour and dash; the marker changes with every curve.
        return cls(PALETTE[k % len(PALETTE)], LINE_STYLES[k % len(LINE_STYLES)], SYMBOLS[k % len(SYMBOLS)])

    def pen(self):
        # One pixel wide: pyqtgraph draws wider pens segment by segment, about six times the cost.
        return pg.mkPen(self.colour, width=1, style=self.line)


def utc_date(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d")


class TimeAxis(pg.DateAxisItem):
    """A UTC date axis titled with its time base and the date it shows, ticks only over data."""

    def __init__(self, base: str = SPACECRAFT):
        super().__init__(orientation="bottom", utcOffset=0)
        self.base = base
        self.has_data = False
        self.setStyle(showValues=False)
        self._date = ""
        self._title()

    def set_base(self, base: str) -> None:
        self.base = base
        self._title()

    def show_range(self, t_from: float | None, t_to: float | None) -> None:
        """Say which dates the axis spans (None: no data, so no ticks). Restyled only when that
        changes: setStyle throws away the axis' drawing, and this runs on every redraw."""
        has_data = t_from is not None and t_to is not None
        if has_data != self.has_data:
            self.has_data = has_data
            self.setStyle(showValues=has_data)
        date = ""
        if self.has_data:
            a, b = utc_date(t_from), utc_date(t_to)
            date = a if a == b else f"{a} to {b}"
        if date != self._date:
            self._date = date
            self._title()

    def _title(self) -> None:
        title = f"{TIME_AXIS_TITLES[self.base]}, UTC"
        self.setLabel(f"{title} {self._date}" if self._date else title)

    def tickValues(self, minVal, maxVal, size):
        return super().tickValues(minVal, maxVal, size) if self.has_data else []

    def tickStrings(self, values, scale, spacing):
        return super().tickStrings(values, scale, spacing) if self.has_data and values else []


def unit_text(unit: str) -> str:
    return unit if unit else "no unit"


def axis_title(names: list[str], unit: str) -> str:
    """A y axis's label: its channels (or how many) and their unit."""
    text = ", ".join(names) if len(", ".join(names)) <= 40 else f"{len(names)} channels"
    return f"{text} ({unit_text(unit)})"


def limit_lines(ch: Channel, label_at: float = 0.02) -> list[pg.InfiniteLine]:
    """Horizontal lines at a channel's dictionary limits: yellow dashed, red solid, each
    labelled with what it is, `label_at` (0..1) along the line. They count in the y range, so the
    margin to a limit is in sight."""
    lim = ch.limits
    if lim is None:
        return []
    lines = []
    for kind, side, value in (("red", "low", lim.red_low), ("yellow", "low", lim.yellow_low),
                              ("yellow", "high", lim.yellow_high), ("red", "high", lim.red_high)):
        if value is None:
            continue
        style = Qt.PenStyle.DashLine if kind == "yellow" else Qt.PenStyle.SolidLine
        text = f"{ch.name} {kind} {side} {value:g}{(' ' + ch.unit) if ch.unit else ''}"
        line = pg.InfiniteLine(pos=value, angle=0, movable=False,
                               pen=pg.mkPen(LIMIT_COLOURS[kind], width=1, style=style),
                               label=text, labelOpts={"position": label_at, "color": LIMIT_COLOURS[kind],
                                                      "anchors": [(0, 1), (0, 1)] if side == "low" else [(0, 0), (0, 0)]})
        line.limit = (ch.name, kind, side, value)
        line.setToolTip(text)
        line.setZValue(-0.5)  # under the curves, over the grid
        lines.append(line)
    return lines
