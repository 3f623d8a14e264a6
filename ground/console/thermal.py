"""The thermal view: each temperature against its limits, and what the node does about heat.

A compute satellite's limiting resource after energy is heat: the payload is throttled when it
runs out of headroom and the battery heater keeps the cells warm in shadow. Both decisions are
the node's; the view shows them next to the temperatures that caused them, with a short
history so a trend is visible before a limit is reached.
"""
from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gridfree.ground.console.models import describe_limits
from gridfree.ground.console.plots import SeriesStore, StripChart
from gridfree.ground.console.staleness import OnboardClock, stale_cue
from gridfree.ground.console.widgets import STALE_TEXT, Lamp, LatestValues, LimitGauge, Readout
from gridfree.protocols.dictionary import Dictionary

TEMPERATURES = ["eps.BatteryTemp", "eps.PayloadTemp", "eps.RadiatorTemp", "eps.StructureTemp"]
STATE = ["thermal.Throttled", "thermal.HeaterOn", "thermal.HeadroomC", "thermal.RadiatorCapacityW"]
HISTORY_WINDOW_S = 1800.0


class ThermalView(QWidget):
    def __init__(self, dictionary: Dictionary, store: SeriesStore, onboard: OnboardClock | None = None, parent=None):
        super().__init__(parent)
        self.values = LatestValues(dictionary, TEMPERATURES + STATE, onboard)
        self.temperatures = [n for n in TEMPERATURES if n in self.values.channels]
        self.gauges: dict[str, LimitGauge] = {}
        self.labels: dict[str, QLabel] = {}
        temps = QGroupBox("Temperatures against their limits")
        grid = QGridLayout(temps)
        for row, name in enumerate(self.temperatures):
            ch = self.values.channels[name]
            title = QLabel(name)
            title.setToolTip(f"{ch.description}; {describe_limits(ch)}")
            gauge = LimitGauge(ch.limits, ch.unit)
            gauge.setToolTip(describe_limits(ch))
            value = QLabel("—")
            value.setMinimumWidth(90)
            self.gauges[name], self.labels[name] = gauge, value
            grid.addWidget(title, row, 0)
            grid.addWidget(gauge, row, 1)
            grid.addWidget(value, row, 2)
        grid.setColumnStretch(1, 1)

        self.throttled = Lamp("PAYLOAD THROTTLED", "not throttled", "#f9ab00")
        self.throttled.setToolTip("thermal.Throttled: compute utilisation capped for temperature")
        self.heater = Lamp("HEATER ON", "heater off", "#ff8a65")
        self.heater.setToolTip("thermal.HeaterOn: battery survival heater commanded on")
        self.headroom = Readout("Payload headroom", "thermal.HeadroomC: margin to the throttle point")
        self.radiator = Readout("Radiator capacity", "thermal.RadiatorCapacityW: heat the radiator rejects now")
        state = QHBoxLayout()
        for w in (self.throttled, self.heater, self.headroom, self.radiator):
            state.addWidget(w)
        state.addStretch(1)

        self.history = StripChart(store, "Temperatures")
        self.history.setLabel("left", "temperature", units="C")
        for name in self.temperatures:
            self.history.add_channel(name)

        layout = QVBoxLayout(self)
        layout.addLayout(state)
        layout.addWidget(temps)
        layout.addWidget(self.history, 1)

    def apply_samples(self, batch) -> None:
        self.values.apply(batch)

    def refresh(self) -> None:
        """Values and their ages every time (ages move on without new data)."""
        v = self.values
        v.take_dirty()
        for name in self.temperatures:
            label, stale = self.labels[name], v.stale(name)
            self.gauges[name].set_value(v.value(name), stale)
            text = v.text(name) + (f" · {stale_cue(v.age(name))}" if stale else "")
            style = STALE_TEXT if stale else {"red": "color: #b3261e; font-weight: bold;",
                                              "yellow": "color: #8a6d00; font-weight: bold;"}.get(v.state(name), "")
            if (text, style) != (label.text(), label.styleSheet()):
                label.setText(text)
                label.setStyleSheet(style)
            label.setToolTip(v.age_line(name))
        self.throttled.show_channel(v, "thermal.Throttled")
        self.heater.show_channel(v, "thermal.HeaterOn")
        self.headroom.show_channel(v, "thermal.HeadroomC")
        self.radiator.show_channel(v, "thermal.RadiatorCapacityW")
        self.history.redraw(HISTORY_WINDOW_S)
