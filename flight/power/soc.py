"""State of charge by an extended Kalman filter: coulomb counting, corrected by the voltage.

State: SOC. Prediction: the measured current integrated (charge efficiency applied), with the
variance growing by the current sensor's noise and bias. Measurement: the terminal voltage,
V = OCV(SOC) + I R. The gain is large where the OCV curve is steep (near full and empty, where
voltage says a lot about SOC) and small on its flat middle, where only counting can be trusted.

The cell curve here is the node's own (from the cell datasheet), not the rig's truth model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# NMC 18650 open-circuit voltage vs SOC, datasheet points (node-side copy, deliberately coarser).
SOC_POINTS = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
OCV_POINTS_V = np.array([3.00, 3.45, 3.55, 3.62, 3.67, 3.72, 3.79, 3.87, 3.95, 4.05, 4.20])


def cell_ocv_V(soc: float) -> float:
    return float(np.interp(min(1.0, max(0.0, soc)), SOC_POINTS, OCV_POINTS_V))


def cell_docv_dsoc(soc: float) -> float:
    i = int(min(len(SOC_POINTS) - 2, max(0, np.searchsorted(SOC_POINTS, soc) - 1)))
    return float((OCV_POINTS_V[i + 1] - OCV_POINTS_V[i]) / (SOC_POINTS[i + 1] - SOC_POINTS[i]))


def soc_from_ocv(ocv_V: float, series: int) -> float:
    """The SOC whose open-circuit voltage is `ocv_V` for `series` cells (bisection of the curve)."""
    cell = ocv_V / series
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cell_ocv_V(mid) < cell else (lo, mid)
    return (lo + hi) / 2


@dataclass
class SocEstimator:
    capacity_Ah: float
    series: int
    resistance_ohm: float
    soc: float = 0.5
    variance: float = 0.05 ** 2  # (5 % 1-sigma) until the voltage has told us more
    current_sigma_A: float = 0.3  # sensor noise + bias, per reading
    voltage_sigma_V: float = 0.15  # sensor noise + model error of OCV(SOC) + I R, whole pack
    charge_efficiency: float = 0.99

    def predict(self, current_A: float, dt_s: float) -> None:
        eff = self.charge_efficiency if current_A > 0 else 1.0
        self.soc += current_A * eff * dt_s / 3600.0 / self.capacity_Ah
        self.variance += (self.current_sigma_A * dt_s / 3600.0 / self.capacity_Ah) ** 2
        self.soc = min(1.0, max(0.0, self.soc))

    def coast(self, current_A: float, dt_s: float, gap_s: float, current_sigma_A: float) -> None:
        """No readings for dt_s more, `gap_s` in all (a silent EPS line): carry on with the last
        current. The unseen current's error is a bias over the gap, not fresh noise each tick, so
        the SOC error grows linearly with the gap and its variance as the gap squared."""
        eff = self.charge_efficiency if current_A > 0 else 1.0
        self.soc = min(1.0, max(0.0, self.soc + current_A * eff * dt_s / 3600.0 / self.capacity_Ah))
        k = current_sigma_A / 3600.0 / self.capacity_Ah
        self.variance += k * k * (gap_s ** 2 - (gap_s - dt_s) ** 2)

    def correct(self, voltage_V: float, current_A: float) -> None:
        h = cell_docv_dsoc(self.soc) * self.series
        predicted_V = cell_ocv_V(self.soc) * self.series + current_A * self.resistance_ohm
        s = h * self.variance * h + self.voltage_sigma_V ** 2
        gain = self.variance * h / s
        self.soc = min(1.0, max(0.0, self.soc + gain * (voltage_V - predicted_V)))
        self.variance = max(1e-8, (1 - gain * h) * self.variance)

    def update(self, voltage_V: float, current_A: float, dt_s: float) -> float:
        self.predict(current_A, dt_s)
        self.correct(voltage_V, current_A)
        return self.soc

    @property
    def sigma(self) -> float:
        return math.sqrt(self.variance)

    def from_voltage(self, voltage_V: float, current_A: float) -> float:
        """The SOC the terminal voltage alone says, the I R drop taken off."""
        return soc_from_ocv(voltage_V - current_A * self.resistance_ohm, self.series)
