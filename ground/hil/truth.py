"""The environment truth model: orbit, Sun, arrays, battery, loads and temperatures, stepped
together. The emulated hardware reads its sensors from here; the node never sees it directly.

The compute payload is a `WorkingBoard` (`payload.py`): each step it first executes its work items
at the clock the node set, and the loads then draw what it drew over the step (idle with nothing
running, whatever the clock), so the battery, the payload's heat and its power sensor follow the
work the board really did."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from gridfree.ground.hil.orbit import AU_KM, Elements, Orbit, sun_position_km
from gridfree.ground.hil.payload import WorkingBoard
from gridfree.ground.hil.power import SOLAR_CONSTANT_W_M2, Battery, Loads, SolarArray
from gridfree.ground.hil.thermal import ThermalModel, default_thermal


@dataclass
class EnergyLedger:
    """Running totals (Wh) to prove the power model conserves energy."""

    solar_Wh: float = 0.0
    load_Wh: float = 0.0
    shunt_Wh: float = 0.0  # generation the full (or current-limited) battery could not take
    unserved_Wh: float = 0.0  # load the empty (or current-limited) battery could not supply
    payload_Wh: float = 0.0  # drawn by the compute payload (part of load_Wh)
    payload_busy_Wh: float = 0.0  # of that, while it executed work items (its busy-energy counter's advance)


@dataclass
class Truth:
    orbit: Orbit
    array: SolarArray = field(default_factory=SolarArray)
    battery: Battery = field(default_factory=Battery)
    loads: Loads = field(default_factory=Loads)
    thermal: ThermalModel = field(default_factory=default_thermal)
    ledger: EnergyLedger = field(default_factory=EnergyLedger)
    # Latest derived values, for sensors and reports.
    sunlit_fraction: float = 1.0
    solar_W: float = 0.0
    bus_V: float = 0.0
    battery_A: float = 0.0
    undervoltage: bool = False

    def __post_init__(self):
        if not isinstance(self.loads.board, WorkingBoard):  # figures alone: the board as installed, idle
            self.loads.board = WorkingBoard(self.loads.board)

    @property
    def payload(self) -> WorkingBoard:
        """The compute board: its figures and the work items it executes."""
        return self.loads.board

    @classmethod
    def from_elements(cls, elements: Elements, epoch_unix_s: float, **parts) -> "Truth":
        t = cls(Orbit(elements, epoch_unix_s), **parts)
        t.bus_V = t.battery.ocv_V
        return t

    @property
    def time_s(self) -> float:
        return self.orbit.t_unix_s

    def step(self, dt_s: float) -> None:
        self.orbit.advance(dt_s)
        sun = sun_position_km(self.orbit.t_unix_s)
        dist_AU = math.dist(sun, self.orbit.r_km) / AU_KM
        self.sunlit_fraction = self.orbit.sunlit_fraction()
        structure = self.thermal.nodes["structure"]
        self.solar_W = self.array.power_W(self.sunlit_fraction, self.orbit.sun_unit(), dist_AU, structure.temp_C)
        busy_J = self.payload.busy_J
        self.payload.advance(dt_s, self.loads.compute_utilisation, self.loads.compute_on)
        load_W = self.loads.total_W  # the payload's part as it drew over this step
        self.battery.temp_C = self.thermal.nodes["battery"].temp_C
        bus_V, current_A = self.battery.step(self.solar_W - load_W, dt_s)
        battery_W = bus_V * current_A
        balance_W = self.solar_W - load_W - battery_W  # >0: shunted, <0: load not served
        dt_h = dt_s / 3600.0
        led = self.ledger
        led.solar_Wh += self.solar_W * dt_h
        led.load_Wh += load_W * dt_h
        led.shunt_Wh += max(0.0, balance_W) * dt_h
        led.unserved_Wh += max(0.0, -balance_W) * dt_h
        led.payload_Wh += self.loads.compute_W * dt_h
        led.payload_busy_Wh += (self.payload.busy_J - busy_J) / 3600.0
        self.bus_V, self.battery_A = bus_V, current_A
        self.undervoltage = balance_W < -1e-6
        # Heat: compute in the payload, heaters and I^2R in the battery, the rest in the structure.
        n = self.thermal.nodes
        n["payload"].internal_W = self.loads.compute_W
        n["battery"].internal_W = (self.loads.heater_W if self.loads.heaters_on else 0.0) \
            + current_A ** 2 * self.battery.resistance_ohm
        n["structure"].internal_W = self.loads.bus_W + self.loads.radio_rx_W + \
            (self.loads.radio_tx_W if self.loads.radio_tx_on else 0.0)
        flux = SOLAR_CONSTANT_W_M2 / dist_AU ** 2 * self.sunlit_fraction
        self.thermal.step(dt_s, flux, self.orbit.earth_view_factor())
