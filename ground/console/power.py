"""The power view: what the node has, what it spends, what it may give the compute payload, and
when the next shadows come.

The state of charge is an estimate, so it is shown with its 1-sigma uncertainty as a band around
its history, and as "± x %" beside the number when that is at least the number's last digit.
(The node's Kalman filter takes the voltage model's error for fresh noise at every 1 Hz reading,
so after a while in sunlight its sigma shrinks to a few hundredths of a percent: written with one
decimal that read "± 0.0 %", a spread the estimate does not have. It is shown again as soon as it
is visible at the readout's resolution, at boot or after a silent EPS line.)

Depth of discharge is shown twice, because the node and the scenario report mean different
things by it: the node's DodOrbit is the drawdown now from the highest SOC of the last orbit (0
whenever the battery is at its orbit's peak, as it is in sunlight once full); the report's is
the deepest such drawdown at any moment of the run. The view computes the latter from the SOC
history it holds, by the report's rule, so the two can be compared. The eclipse timeline is drawn from the node's own prediction
(next entry and exit, UTC, and the share of the orbit in shadow), repeated once per orbit period
derived from those two, with the node's net energy forecast written under each orbit.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gridfree.ground.console.plots import SeriesStore, light_grid
from gridfree.ground.console.staleness import OnboardClock
from gridfree.ground.console.widgets import Lamp, LatestValues, Readout
from gridfree.protocols.dictionary import Dictionary, number_text, value_text

SOC_REDRAW_S = 0.5  # the SOC history's redraw interval, wall time

READOUTS = [  # (channel, title)
    ("node.Mode", "Mode"),
    ("power.Soc", "State of charge"),
    ("eps.BatteryVoltage", "Battery"),
    ("eps.ArrayPower", "Array power"),
    ("power.LoadW", "Load"),
    ("eps.PayloadPower", "Payload power"),
    ("power.GrantPowerW", "Compute grant"),
    ("power.GrantEnergyWh", "Grant energy"),
    ("power.BudgetMarginW", "Budget margin"),
    ("power.ForecastMinSocPct", "Lowest SOC forecast"),
    ("power.DodOrbit", "Discharge from orbit peak"),
]
DEEPEST = "Deepest discharge in an orbit"
#: The window of the deepest discharge when the node has predicted no eclipse to derive the
#: orbit period from, and the dictionary declares no power.OrbitPeriodS (a LEO's 95 minutes).
DEFAULT_ORBIT_S = 5700.0
ECLIPSE = ["power.NextEclipseEntry", "power.NextEclipseExit", "power.EclipseFraction"]
FORECASTS = ["power.ForecastNetWh1", "power.ForecastNetWh2", "power.ForecastNetWh3"]
ORBITS_SHOWN = 3


@dataclass(frozen=True)
class EclipsePlan:
    now_s: float
    period_s: float
    eclipses: list[tuple[float, float]]  # (entry, exit) UTC seconds, the first may have begun


def eclipse_plan(now_s: float, entry_s: float, exit_s: float, fraction_pct: float,
                 orbits: int = ORBITS_SHOWN) -> EclipsePlan | None:
    """Shadows over the next `orbits` orbits from one predicted eclipse and the orbit's shadow
    share; None when the node has no prediction (entry 0, or an empty or inverted interval)."""
    if not (entry_s > 0 and exit_s > entry_s and math.isfinite(fraction_pct) and 0 < fraction_pct < 100):
        return None
    duration = exit_s - entry_s
    period = duration / (fraction_pct / 100.0)
    end = now_s + orbits * period
    start = entry_s
    if start > now_s:  # a prediction older than the orbit before it: step back to cover now
        start -= math.ceil((start - now_s) / period) * period
    out = []
    while start < end:
        if start + duration > now_s:
            out.append((start, start + duration))
        start += period
    return EclipsePlan(now_s, period, out)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


class DeepestDischarge:
    """The deepest discharge from the highest SOC within any one-orbit window, over the SOC
    history added so far (the scenario report's max_dod_pct, the same rule); points are added
    as they come, each in O(1) amortised, with a deque of the window's falling maxima."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self.deepest: float | None = None  # percentage points; None before the first SOC
        self.last_t = -math.inf
        self._peaks: deque[tuple[float, float]] = deque()  # (t, soc), soc falling

    def add(self, t: np.ndarray, soc: np.ndarray) -> None:
        peaks = self._peaks
        for ti, si in zip(t.tolist(), soc.tolist()):
            if ti <= self.last_t or not math.isfinite(si):
                continue
            self.last_t = ti
            while peaks and peaks[0][0] < ti - self.period_s:
                peaks.popleft()
            while peaks and peaks[-1][1] <= si:
                peaks.pop()
            peaks.append((ti, si))
            dod = peaks[0][1] - si
            self.deepest = dod if self.deepest is None else max(self.deepest, dod)


def _minutes(s: float) -> str:
    return f"{s / 60:.0f} min" if abs(s) < 3 * 3600 else f"{s / 3600:.1f} h"


class EclipseTimeline(QWidget):
    """Sunlight and shadow for the next orbits, now at the left edge."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plan: EclipsePlan | None = None
        self.forecasts: list[float | None] = [None] * ORBITS_SHOWN
        self.energy_text = lambda wh: f"{wh:.1f} Wh"  # the PowerView gives the forecast channel's format
        self.setMinimumHeight(84)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_plan(self, plan: EclipsePlan | None, forecasts: list[float | None]) -> None:
        self.plan, self.forecasts = plan, forecasts
        self.update()

    def caption(self) -> str:
        p = self.plan
        if p is None:
            return "No eclipse prediction from the node yet (no orbit uploaded, or no shadow on this orbit)."
        if not p.eclipses:
            return f"No shadow in the next {ORBITS_SHOWN} orbits."
        entry, exit_ = p.eclipses[0]
        if entry <= p.now_s:
            return f"In shadow now: sunlight in {_minutes(exit_ - p.now_s)}. Orbit period {_minutes(p.period_s)}."
        return (f"Next shadow in {_minutes(entry - p.now_s)}, for {_minutes(exit_ - entry)}. "
                f"Orbit period {_minutes(p.period_s)}.")

    def paintEvent(self, event):
        p = QPainter(self)
        w, h = self.width() - 1, self.height() - 1
        bar = QRectF(0, 18, w, 30)
        plan = self.plan
        if plan is None:
            p.fillRect(bar, QColor("#eeeeee"))
            p.setPen(QColor("#666"))
            p.drawText(bar, Qt.AlignmentFlag.AlignCenter, "no prediction")
            p.end()
            return
        span = ORBITS_SHOWN * plan.period_s

        def x(t: float) -> float:
            return (t - plan.now_s) / span * w

        p.fillRect(bar, QColor("#ffd54f"))
        for entry, exit_ in plan.eclipses:
            x0, x1 = max(0.0, x(entry)), min(float(w), x(exit_))
            if x1 > x0:
                p.fillRect(QRectF(x0, 18, x1 - x0, 30), QColor("#263238"))
        p.setPen(QPen(QColor("#333")))
        p.drawRect(bar)
        for k in range(ORBITS_SHOWN + 1):
            xk = k * w / ORBITS_SHOWN
            p.drawLine(int(xk), 14, int(xk), 52)
            if k < ORBITS_SHOWN:
                p.drawText(QRectF(xk + 4, 0, w / ORBITS_SHOWN - 8, 16), Qt.AlignmentFlag.AlignLeft,
                           "now" if k == 0 else f"+{_minutes(k * plan.period_s)}")
                fc = self.forecasts[k] if k < len(self.forecasts) else None
                text = (f"orbit {k + 1}: net {'+' if fc >= 0 else ''}{self.energy_text(fc)}" if fc is not None
                        else f"orbit {k + 1}: no forecast")
                p.setPen(QColor("#2e7d32") if fc is not None and fc >= 0 else QColor("#b3261e") if fc is not None
                         else QColor("#666"))
                p.drawText(QRectF(xk + 4, 52, w / ORBITS_SHOWN - 8, h - 52), Qt.AlignmentFlag.AlignLeft, text)
                p.setPen(QPen(QColor("#333")))
        p.end()


class PowerView(QWidget):
    def __init__(self, dictionary: Dictionary, store: SeriesStore, onboard: OnboardClock | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        names = [n for n, _ in READOUTS] + ["power.SocSigma", "power.PayloadShed"] + ECLIPSE + FORECASTS
        self.values = LatestValues(dictionary, names, onboard)
        period = dictionary.parameter_by_name.get("power.OrbitPeriodS")
        self.deepest = DeepestDischarge(float(period.default) if period is not None else DEFAULT_ORBIT_S)
        self._deepest_drawn = -1
        self.readouts: dict[str, Readout] = {}
        grid = QGridLayout()
        for i, (name, title) in enumerate(READOUTS):
            ch = dictionary.channel_by_name.get(name)
            if ch is None:
                continue
            r = Readout(title, f"{name}: {ch.description}")
            self.readouts[name] = r
            grid.addWidget(r, i // 6, i % 6)
        self.deepest_readout = Readout(DEEPEST, "The deepest discharge from the highest SOC within any one-orbit "
                                                "window of the SOC history shown below: the scenario report's "
                                                "max_dod_pct, by the same rule, from the node's SOC estimate")
        grid.addWidget(self.deepest_readout, len(READOUTS) // 6, len(READOUTS) % 6)
        self.shed = Lamp("PAYLOAD SHED", "payload powered", "#f28b82")
        self.shed.setToolTip("power.PayloadShed: the compute payload is switched off to save the battery")
        grid.addWidget(self.shed, (len(READOUTS) + 1) // 6, (len(READOUTS) + 1) % 6)

        self.timeline = EclipseTimeline()
        forecast = dictionary.channel_by_name.get(FORECASTS[0])
        if forecast is not None:
            self.timeline.energy_text = lambda wh: value_text(forecast, wh)
        self.timeline_caption = QLabel(self.timeline.caption())
        eclipse_box = QGroupBox(f"Eclipses, next {ORBITS_SHOWN} orbits (node prediction)")
        eb = QVBoxLayout(eclipse_box)
        eb.addWidget(self.timeline)
        eb.addWidget(self.timeline_caption)

        self.soc_plot = pg.PlotWidget(background="w",
                                      axisItems={"bottom": pg.DateAxisItem(orientation="bottom", utcOffset=0)})
        self.soc_plot.setTitle("State of charge (band: the estimate's 1σ)", color="#333")
        self.soc_plot.setLabel("left", "SOC", units="%")
        self.soc_plot.getAxis("left").enableAutoSIPrefix(False)  # never "m%"
        light_grid(self.soc_plot)
        self.soc_plot.setMinimumHeight(180)
        self._soc = self.soc_plot.plot([], [], pen=pg.mkPen("#1565c0", width=2))
        self._hi = pg.PlotDataItem([], [], pen=pg.mkPen("#90caf9"))
        self._lo = pg.PlotDataItem([], [], pen=pg.mkPen("#90caf9"))
        self.soc_plot.addItem(self._hi)
        self.soc_plot.addItem(self._lo)
        self.soc_plot.addItem(pg.FillBetweenItem(self._lo, self._hi, brush=pg.mkBrush(144, 202, 249, 90)))
        self._drawn, self._drawn_at = -1, -math.inf

        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(eclipse_box)
        layout.addWidget(self.soc_plot, 1)

    def apply_samples(self, batch) -> None:
        self.values.apply(batch)

    def refresh(self) -> None:
        """Readouts every time (their ages move on without new data), the rest when it changed."""
        v = self.values
        for name, r in self.readouts.items():
            r.show_channel(v, name, self.soc_text() if name == "power.Soc" else None)
        self.shed.show_channel(v, "power.PayloadShed")
        if v.take_dirty():
            self._update_timeline()
        self._draw_soc()
        self._show_deepest()

    def soc_text(self) -> str:
        """The SOC in its format, with "± sigma" when the sigma shows at that resolution."""
        v = self.values
        soc, sigma = v.value("power.Soc"), v.value("power.SocSigma")
        ch = v.channels["power.Soc"]
        if not (_finite(soc) and _finite(sigma) and "power.SocSigma" in v.channels):
            return v.text("power.Soc")
        spread = number_text(v.channels["power.SocSigma"], sigma)
        try:
            visible = float(spread) > 0
        except ValueError:
            visible = False
        return f"{number_text(ch, soc)} ± {spread} {ch.unit}".rstrip() if visible else value_text(ch, soc)

    def _show_deepest(self) -> None:
        soc = self.store.buffers.get("power.Soc")
        if soc is not None and soc.version != self._deepest_drawn:
            self._deepest_drawn = soc.version
            self.deepest.add(*soc.arrays(self.deepest.last_t))
        d = self.deepest.deepest
        dod = self.values.channels.get("power.DodOrbit")
        text = "—" if d is None else value_text(dod, d) if dod is not None else f"{d:.1f} %"
        # as old as the SOC it is computed from
        self.deepest_readout.set(text, None, self.values.age_line("power.Soc"), self.values.stale("power.Soc"))

    def _update_timeline(self) -> None:
        v = self.values
        entry, exit_, fraction = (v.value(n) for n in ECLIPSE)
        now = v.latest_time
        plan = None if None in (entry, exit_, fraction, now) else eclipse_plan(now, entry, exit_, fraction)
        if plan is not None:  # the orbit the node predicts, rather than the configured default
            self.deepest.period_s = plan.period_s
        self.timeline.set_plan(plan, [v.value(n) for n in FORECASTS])
        self.timeline_caption.setText(self.timeline.caption())

    def _draw_soc(self) -> None:
        """At most SOC_REDRAW_S apart in wall time: the whole history and its band are set again
        each time, and a fast replay or demo brings a new point many times a second; redrawing
        each one held the GUI thread (and the GIL the rig's threads share) for nothing a person sees."""
        soc = self.store.buffers.get("power.Soc")
        now = time.monotonic()
        if soc is None or soc.version == self._drawn or now - self._drawn_at < SOC_REDRAW_S:
            return
        self._drawn, self._drawn_at = soc.version, now
        t, s = soc.arrays()
        ok = np.isfinite(s)  # no estimate yet (NaN) is a gap, not a point far off the scale
        t, s = t[ok], s[ok]
        sig = self.store.buffers.get("power.SocSigma")
        if sig is not None and len(sig):
            ts, ss = sig.arrays()
            good = np.isfinite(ss)
            sigma = np.interp(t, ts[good], ss[good]) if good.any() else np.zeros_like(s)
        else:
            sigma = np.zeros_like(s)
        self._soc.setData(t, s)
        self._hi.setData(t, s + sigma)
        self._lo.setData(t, s - sigma)
