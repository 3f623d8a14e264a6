"""Device interfaces. A reading that a driver cannot make is None, never an invented number.

Drivers implement `PowerBoard`; `flight/hardware/drivers.py` opens one by its configured name, so
this module knows none of them."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum

from gridfree.protocols.registers import NODE_SENSORS

Quantity = Enum("Quantity", [(r.key, r.name) for r in NODE_SENSORS], module=__name__, qualname="Quantity")
Quantity.__doc__ = """What the node measures (units in the names): one member per sensor the register map
(`protocols/registers.py`) says the node reads, named as its register (BATTERY_VOLTAGE_V,
value "battery_voltage_V"). Every driver answers in these terms, the rig's and the Linux host's alike."""


@dataclass(frozen=True)
class ItemRegisters:
    """One sweep's reading of the payload board's item registers (registers 0x0043-0x0046). The
    driver reads (done, done energy) by the torn-read rule: both None if they would not hold still."""

    accepted: int | None
    done: int | None
    done_energy_mJ: int | None
    busy_energy_mJ: int | None


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
    #: Times the board's line came back after it was lost, or was opened late after a first open
    #: that failed (a driver on a bus with no line, such as the Linux host's, leaves it at 0).
    reopens: int = 0
    #: The line to the board is open now (True for drivers without one).
    line_up: bool = True
    #: Why the line is down, "" while it is up.
    line_down_reason: str = ""

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

    #: The board takes work items (registers 0x0040-0x0047) and reports the energy it drew for
    #: each. Without one (the `none` and `linux` drivers) the node bills from its datasheet.
    work_interface: bool = False

    def submit_item(self, seq: int, kind: int, work_M: float) -> bool:
        """Enqueue item `seq` (a protocols.compute.Kind, `work_M` millions of its work unit): True
        if the board's `accepted` now reads `seq`. Repeating it is harmless (the board ignores a
        number that is not the next one)."""
        return False

    def clear_items(self) -> bool:
        """Drop every queued item and the running one: True if the board confirmed."""
        return False

    def read_items(self) -> ItemRegisters | None:
        """The item registers (accepted, done with its latched energy, the live busy energy), or
        None without a work interface."""
        return None

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
