"""The register map of the EPS/thermal/payload board: the one table the node and a board (or the
HIL rig that emulates one) agree on.

Each entry declares a register once: its number, its name (the quantity with its unit last, as
`battery_voltage_V`), its wire type, whether the node may write it, and, for a sensor the node
reads, how often (its rate class) and the telemetry channel it is published on (local id, name,
description, alarm limits). Everything else is derived from this table: `Reg` (and so the
register names scenarios use), the flight `Quantity`, the rig driver's register lookup, the EPS
component's channels and its fast and slow sweeps (`flight/hardware/sensors.py`), and the set of
registers the emulated board answers. Adding a sensor is one entry here plus its truth (what the
rig measures and how noisily) in `ground/hil/sensors.py`.

Analog values travel as IEEE-754 float32 already in the unit the name ends with (scale 1: a
board converts its ADC counts itself); switches and identifiers as unsigned 32-bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, Iterable

from gridfree.protocols.dictionary import Limits


class Wire(str, Enum):
    F32 = "f32"  # IEEE-754 single, big-endian, in the register's unit
    U32 = "u32"  # unsigned 32-bit, big-endian: switches (0/1) and identifiers


class Rate(str, Enum):
    """How often the node reads a sensor: the name of the rate group that sweeps it."""

    FAST = "fast"  # every fast tick (10 Hz): under-voltage protection needs battery V and I quickly
    SLOW = "slow"  # every slow tick (1 Hz): temperatures and powers change slowly


@dataclass(frozen=True)
class Telemetry:
    """The channel a sensor is published on, in the EPS component's dictionary (local id)."""

    id: int
    name: str
    description: str
    limits: Limits | None = None


@dataclass(frozen=True)
class Register:
    number: int
    name: str  # the quantity with its unit last (battery_voltage_V); upper-cased it is the Reg name
    unit: str = ""
    wire: Wire = Wire.F32
    writable: bool = False
    rate: Rate | None = None  # the node reads it, this often; None: the node does not read it
    channel: Telemetry | None = None  # where the node publishes it (exactly when it has a rate)
    note: str = ""

    @property
    def key(self) -> str:
        """The register's name in code and in scenario files: BATTERY_VOLTAGE_V."""
        return self.name.upper()

    @property
    def is_sensor(self) -> bool:
        """A measured analog value: read-only float32 (the rig puts its noise model on these)."""
        return self.wire is Wire.F32 and not self.writable


_POWER_V = Limits(24.0, 25.6, 33.8, 34.0)  # an 8s Li-ion pack and the bus it holds

REGISTERS: Final[tuple[Register, ...]] = (
    Register(0x0000, "board_id", wire=Wire.U32, note="board type and revision"),
    Register(0x0010, "bus_voltage_V", "V", rate=Rate.SLOW,
             channel=Telemetry(1, "BusVoltage", "Main bus voltage", _POWER_V)),
    Register(0x0011, "battery_voltage_V", "V", rate=Rate.FAST,
             channel=Telemetry(2, "BatteryVoltage", "Battery terminal voltage", _POWER_V)),
    Register(0x0012, "battery_current_A", "A", rate=Rate.FAST,
             channel=Telemetry(3, "BatteryCurrent", "Battery current, positive while charging")),
    Register(0x0013, "battery_temp_C", "C", rate=Rate.SLOW,
             channel=Telemetry(4, "BatteryTemp", "Battery temperature", Limits(-5.0, 0.0, 40.0, 45.0))),
    Register(0x0014, "array_power_W", "W", rate=Rate.SLOW, channel=Telemetry(5, "ArrayPower", "Solar array output")),
    Register(0x0015, "array_current_A", "A", note="the board measures it; the node reads array power instead"),
    Register(0x0020, "payload_temp_C", "C", rate=Rate.SLOW,
             channel=Telemetry(6, "PayloadTemp", "Compute payload temperature", Limits(-20.0, -10.0, 80.0, 90.0))),
    Register(0x0021, "structure_temp_C", "C", rate=Rate.SLOW,
             channel=Telemetry(7, "StructureTemp", "Structure temperature")),
    Register(0x0022, "radiator_temp_C", "C", rate=Rate.SLOW, channel=Telemetry(8, "RadiatorTemp", "Radiator temperature")),
    Register(0x0023, "payload_power_W", "W", rate=Rate.SLOW, channel=Telemetry(9, "PayloadPower", "Compute payload power")),
    Register(0x0030, "heater_switch", wire=Wire.U32, writable=True, note="survival heater, 0/1"),
    Register(0x0031, "payload_switch", wire=Wire.U32, writable=True, note="compute payload power, 0/1"),
    Register(0x0032, "payload_utilisation", writable=True, note="0..1, the payload's clock, set by the compute manager"),
    Register(0x0033, "radio_tx_switch", wire=Wire.U32, writable=True, note="radio transmitter, 0/1"),
    # The payload's work-item interface: the node hands the board items (kind, board work), the board
    # runs them in FIFO order at the clock 0x0032 sets and reports completion and the energy it drew.
    # No read has a side effect and every write is idempotent: the rig driver retries after line errors.
    Register(0x0040, "payload_item_kind", wire=Wire.U32, writable=True,
             note="protocols.compute.Kind of the next item; reads back the last written"),
    Register(0x0041, "payload_item_work_M", "M", writable=True,
             note="board work of the next item, millions of its kind's work unit (work_units() x work_scale / 1e6)"),
    Register(0x0042, "payload_item_submit", wire=Wire.U32, writable=True,
             note="write (accepted + 1) mod 2^32, never 0, to enqueue the next item; any other value, or a "
                  "full queue, is ignored (accepted does not advance)"),
    Register(0x0043, "payload_item_accepted", wire=Wire.U32, note="sequence number of the last item enqueued, 0: none"),
    Register(0x0044, "payload_item_done", wire=Wire.U32, note="sequence number of the last item completed (FIFO)"),
    Register(0x0045, "payload_done_energy_mJ", "mJ", wire=Wire.U32,
             note="the busy-energy counter latched when item `done` completed, mJ mod 2^32"),
    Register(0x0046, "payload_busy_energy_mJ", "mJ", wire=Wire.U32,
             note="energy drawn while items execute, mJ mod 2^32: never advances while idle"),
    Register(0x0047, "payload_queue_clear", wire=Wire.U32, writable=True,
             note="write 1 to drop the queued items and the running one (done := accepted); reads 0"),
)

PAYLOAD_QUEUE_DEPTH: Final = 8
"""Items the payload board holds (queued and running): a submit to a full queue is ignored."""


def check(registers: Iterable[Register]) -> tuple[Register, ...]:
    """The map, or a ValueError naming the first entry that breaks a rule the derivations rely on."""
    registers = tuple(registers)
    seen: dict[str, set] = {"number": set(), "name": set(), "channel id": set(), "channel name": set()}

    def once(what: str, value, r: Register) -> None:
        if value in seen[what]:
            raise ValueError(f"register {r.name}: {what} {value!r} is used twice")
        seen[what].add(value)

    for r in registers:
        once("number", r.number, r)
        once("name", r.key, r)
        if not 0 <= r.number <= 0xFFFF:
            raise ValueError(f"register {r.name}: number {r.number:#x} does not fit 16 bits")
        if r.unit and not r.name.endswith("_" + r.unit):
            raise ValueError(f"register {r.name}: the name must end with its unit _{r.unit}")
        if (r.rate is None) != (r.channel is None):
            raise ValueError(f"register {r.name}: a sensor the node reads needs both a rate and a channel")
        if r.rate is not None:
            if not r.is_sensor:
                raise ValueError(f"register {r.name}: only read-only float32 sensors are swept by the node")
            once("channel id", r.channel.id, r)
            once("channel name", r.channel.name, r)
    return registers


def register_enum(registers: Iterable[Register]) -> type[IntEnum]:
    """`Reg` for a map: one member per register, named by its key."""
    return IntEnum("Reg", [(r.key, r.number) for r in registers], module=__name__, qualname="Reg")


def node_sensors(registers: Iterable[Register]) -> tuple[Register, ...]:
    """The sensors the node reads, in register order."""
    return tuple(sorted((r for r in registers if r.rate is not None), key=lambda r: r.number))


def derive(registers: Iterable[Register]) -> dict:
    """The tables every user of the map reads, from one map: this module's own globals below."""
    registers = check(registers)
    reg = register_enum(registers)
    return {
        "REGISTERS": registers,
        "Reg": reg,
        "BY_NUMBER": {r.number: r for r in registers},
        "INTEGER_REGS": frozenset(reg(r.number) for r in registers if r.wire is Wire.U32),
        "WRITABLE_REGS": frozenset(reg(r.number) for r in registers if r.writable),
        "SENSOR_REGS": frozenset(reg(r.number) for r in registers if r.is_sensor),
        "NODE_SENSORS": node_sensors(registers),
    }


_derived = derive(REGISTERS)
Reg = _derived["Reg"]
"""The register numbers by name (units in the names), derived from `REGISTERS`."""
BY_NUMBER: Final = _derived["BY_NUMBER"]
INTEGER_REGS: Final = _derived["INTEGER_REGS"]  # sent as u32
WRITABLE_REGS: Final = _derived["WRITABLE_REGS"]
SENSOR_REGS: Final = _derived["SENSOR_REGS"]  # measured: the rig models their noise
NODE_SENSORS: Final = _derived["NODE_SENSORS"]  # what the node reads, in register order
