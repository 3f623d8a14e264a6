"""Power truth: solar arrays, the battery as an equivalent circuit, and the loads.

Every quantity carries its unit in its name; sources are cited where a number comes from one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gridfree.ground.hil.payload import PayloadBoard

SOLAR_CONSTANT_W_M2 = 1361.0  # total solar irradiance at 1 AU (Kopp & Lean 2011)


@dataclass
class SolarArray:
    """Triple-junction GaAs cells: ~30% efficient at 28 C, -0.2 %/K (Azur Space 3G30C datasheet),
    ~2-3%/year degradation in LEO. `sun_tracking` arrays keep the Sun at normal incidence;
    body-mounted ones see the cosine of the Sun's angle to the array normal."""

    area_m2: float = 12.0
    efficiency: float = 0.30
    temp_coeff_per_K: float = -0.002
    reference_temp_C: float = 28.0
    degradation: float = 0.0  # fraction of power lost to age and radiation
    strings: int = 12
    strings_lost: int = 0
    sun_tracking: bool = True
    normal: tuple[float, float, float] = (1.0, 0.0, 0.0)  # body-mounted only, in the inertial frame
    packing_factor: float = 0.85

    def power_W(self, sunlit_fraction: float, sun_unit, sun_distance_AU: float, temp_C: float) -> float:
        if sunlit_fraction <= 0.0:
            return 0.0
        cos_incidence = 1.0 if self.sun_tracking else max(0.0, sum(a * b for a, b in zip(self.normal, sun_unit)))
        flux_W_m2 = SOLAR_CONSTANT_W_M2 / sun_distance_AU ** 2 * sunlit_fraction * cos_incidence
        eff = self.efficiency * (1 + self.temp_coeff_per_K * (temp_C - self.reference_temp_C))
        healthy = (self.strings - self.strings_lost) / self.strings
        return max(0.0, flux_W_m2 * self.area_m2 * self.packing_factor * eff * (1 - self.degradation) * healthy)


# Open-circuit voltage of one Li-ion NMC cell against state of charge (typical 18650 curve, e.g.
# Plett, "Battery Management Systems Vol. 1", fig. 2.x): the steep ends are what make OCV a good
# SOC correction only near full and empty.
_SOC = np.array([0.0, 0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 1.00])
_OCV_V = np.array([3.00, 3.30, 3.45, 3.55, 3.62, 3.67, 3.72, 3.79, 3.87, 3.95, 4.05, 4.11, 4.20])


def cell_ocv_V(soc: float) -> float:
    return float(np.interp(min(1.0, max(0.0, soc)), _SOC, _OCV_V))


@dataclass
class Battery:
    """A series/parallel pack as one equivalent circuit: OCV(SOC) in series with a resistance that
    grows in the cold; charge efficiency below one; charge and discharge current limits; cycles
    counted as discharged charge over capacity."""

    series: int = 8  # a 24-33.6 V bus, 29.6 V nominal
    parallel: int = 60  # 180 Ah, ~5.3 kWh
    cell_capacity_Ah: float = 3.0
    cell_resistance_ohm: float = 0.040
    soc: float = 0.8
    temp_C: float = 20.0
    coulombic_efficiency: float = 0.99
    max_charge_A: float = 100.0
    max_discharge_A: float = 150.0
    cells_lost: int = 0  # parallel cells lost (open), capacity drops accordingly
    discharged_Ah: float = 0.0
    charge_in_Wh: float = 0.0  # energy at the terminals, for closure checks
    charge_out_Wh: float = 0.0
    ir_loss_Wh: float = 0.0  # I^2 R heat
    coulombic_loss_Wh: float = 0.0  # charge that went in but was not stored

    @property
    def capacity_Ah(self) -> float:
        return self.cell_capacity_Ah * (self.parallel - self.cells_lost)

    @property
    def resistance_ohm(self) -> float:
        cold = 1.0 + 0.02 * max(0.0, 20.0 - self.temp_C)  # +2 %/K below 20 C
        return self.cell_resistance_ohm * cold * self.series / max(1, self.parallel - self.cells_lost)

    @property
    def ocv_V(self) -> float:
        return cell_ocv_V(self.soc) * self.series

    @property
    def cycles(self) -> float:
        return self.discharged_Ah / self.capacity_Ah

    def stored_Wh(self, soc: float | None = None) -> float:
        """Energy between empty and `soc`, integrating the OCV curve (what an ideal load would get)."""
        soc = self.soc if soc is None else soc
        grid = np.linspace(0.0, soc, 200)
        return float(np.trapezoid([cell_ocv_V(s) * self.series for s in grid], grid) * self.capacity_Ah)

    def step(self, net_power_W: float, dt_s: float) -> tuple[float, float]:
        """Apply `net_power_W` (positive charges) for dt; returns (terminal V, battery current A).

        The current is solved from P = I * (OCV + I * R), limited by the current limits and by
        full/empty; what cannot be absorbed or supplied is the caller's (shunt or load shed).
        """
        ocv, r = self.ocv_V, self.resistance_ohm
        disc = ocv * ocv + 4 * r * net_power_W
        current_A = (-ocv + math.sqrt(disc)) / (2 * r) if disc > 0 else -ocv / (2 * r)
        current_A = min(self.max_charge_A, max(-self.max_discharge_A, current_A))
        dt_h = dt_s / 3600.0
        if current_A > 0:  # no more than fills it: the rest is the shunt's, not charge that vanished
            current_A = min(current_A, (1.0 - self.soc) * self.capacity_Ah / (self.coulombic_efficiency * dt_h))
        elif current_A < 0:  # nor more than empties it
            current_A = max(current_A, -self.soc * self.capacity_Ah / dt_h)
        stored_Ah = current_A * dt_h * (self.coulombic_efficiency if current_A > 0 else 1.0)
        self.soc = min(1.0, max(0.0, self.soc + stored_Ah / self.capacity_Ah))
        terminal_V = ocv + current_A * r
        terminal_W = terminal_V * current_A
        self.ir_loss_Wh += current_A * current_A * r * dt_h
        if current_A > 0:
            self.charge_in_Wh += terminal_W * dt_h
            self.coulombic_loss_Wh += (1 - self.coulombic_efficiency) * current_A * ocv * dt_h
        else:
            self.charge_out_Wh += -terminal_W * dt_h
            self.discharged_Ah += -current_A * dt_h
        return terminal_V, current_A


@dataclass
class Loads:
    """Power drawn by each load, W. The compute payload follows its utilisation."""

    bus_W: float = 25.0  # flight computer, EPS, ADCS
    radio_rx_W: float = 4.0
    radio_tx_W: float = 20.0
    radio_tx_on: bool = False
    heater_W: float = 80.0  # the battery's survival heater: holds it above 5 C with the structure at -5 C
    heaters_on: bool = False
    board: PayloadBoard = field(default_factory=PayloadBoard)  # the GPU-class board: draw follows the clock
    compute_utilisation: float = 0.0  # the clock the node set
    compute_on: bool = True
    switches: dict = field(default_factory=dict)  # extra named loads

    @property
    def compute_W(self) -> float:
        if not self.compute_on:
            return 0.0
        return self.board.power_W(self.compute_utilisation)

    @property
    def total_W(self) -> float:
        return (self.bus_W + self.radio_rx_W + (self.radio_tx_W if self.radio_tx_on else 0.0)
                + (self.heater_W if self.heaters_on else 0.0) + self.compute_W + sum(self.switches.values()))
