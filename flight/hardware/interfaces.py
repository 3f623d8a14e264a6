"""Device interfaces. A reading that a driver cannot make is None, never an invented number."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum


class Quantity(Enum):
    BUS_VOLTAGE_V = "bus_voltage_V"
    BATTERY_VOLTAGE_V = "battery_voltage_V"
    BATTERY_CURRENT_A = "battery_current_A"
    BATTERY_TEMP_C = "battery_temp_C"
    ARRAY_POWER_W = "array_power_W"
    PAYLOAD_TEMP_C = "payload_temp_C"
    STRUCTURE_TEMP_C = "structure_temp_C"
    RADIATOR_TEMP_C = "radiator_temp_C"
    PAYLOAD_POWER_W = "payload_power_W"


class Switch(Enum):
    HEATER = "heater"
    PAYLOAD = "payload"
    RADIO_TX = "radio_tx"


@dataclass
class DriverHealth:
    requests: int = 0
    timeouts: int = 0
    errors: int = 0
    consecutive_failures: int = 0

    @property
    def ok(self) -> bool:
        return self.consecutive_failures < 3


class PowerBoard(ABC):
    """The EPS, thermal sensors, heaters and the compute payload's power interface."""

    health: DriverHealth

    @abstractmethod
    def read(self, q: Quantity) -> float | None: ...

    def read_many(self, quantities) -> dict:
        """Several readings at once; drivers that can sweep registers in one exchange override it."""
        return {q: self.read(q) for q in quantities}

    @abstractmethod
    def set_switch(self, s: Switch, on: bool) -> bool:
        """True if the board confirmed the change."""

    @abstractmethod
    def set_utilisation(self, fraction: float) -> bool: ...

    def close(self) -> None:
        pass


class AbsentBoard(PowerBoard):
    """No board configured: every reading is absent and every switch refuses."""

    def __init__(self):
        self.health = DriverHealth()

    def read(self, q: Quantity) -> float | None:
        return None

    def set_switch(self, s: Switch, on: bool) -> bool:
        return False

    def set_utilisation(self, fraction: float) -> bool:
        return False


def open_board(driver: str, url: str = "") -> PowerBoard:
    if driver == "rig":
        from gridfree.flight.hardware.rig import RigSerialBoard

        return RigSerialBoard(url)
    if driver == "linux":
        from gridfree.flight.hardware.linuxhost import LinuxHostBoard

        return LinuxHostBoard()
    if driver == "none":
        return AbsentBoard()
    raise ValueError(f"unknown hardware driver {driver!r} (rig, linux, none)")
