"""What a scenario can break on the rig, one class per kind: each applies itself to the rig at its
time and, when the scenario gives it a `duration_s`, clears itself afterwards.

    [[fault]]
    at_h = 6.0
    kind = "sensor_stuck"          # FAULTS below: the kinds and what each takes
    register = "BATTERY_TEMP_C"    # a register of protocols/registers.py
    value = -40.0

Keys: `at_h`, `kind`, `register` (sensor kinds), `value`, `sigma`, `bias`, `count`, `duration_s`;
each kind reads the ones it needs (`KEYS`). Adding a fault is one class here with `kind`, `KEYS`,
`apply` and, if it can end, `clear`; the scenario parser and the runner need no edit.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from gridfree.ground.hil.board import EmulatedBoard
from gridfree.ground.hil.power import Loads
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.registers import Reg

COMMON_KEYS = ("at_h", "kind", "register", "value", "sigma", "bias", "count", "duration_s")


class BitErrors:
    """A pty-pair transform that flips each bit with probability `ber` (0 = a clean line)."""

    def __init__(self, seed: int = 2):
        self.rng = np.random.default_rng(seed)
        self.ber = 0.0
        self.flipped = 0

    def __call__(self, data: bytes) -> bytes:
        if self.ber <= 0.0:
            return data
        n = self.rng.binomial(8 * len(data), self.ber)
        if n == 0:
            return data
        buf = bytearray(data)
        for bit in self.rng.integers(0, 8 * len(data), n):
            buf[bit // 8] ^= 1 << (bit % 8)
        self.flipped += int(n)
        return bytes(buf)


@dataclass
class Rig:
    """What a fault acts on: the truth model, the emulated board and the radio line."""

    truth: Truth
    board: EmulatedBoard
    radio: BitErrors


class FaultError(ValueError):
    """A fault table that does not parse: `key` is the offending key, `problem` what is wrong."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


@dataclass(kw_only=True)
class Fault:
    """A fault at `at_s` seconds from the start, lasting `duration_s` (0: it lasts)."""

    kind: ClassVar[str]
    KEYS: ClassVar[dict[str, str]] = {}  # scenario key -> field of this kind
    at_s: float
    duration_s: float = 0.0

    def apply(self, rig: Rig) -> None:
        raise NotImplementedError

    def clear(self, rig: Rig) -> None:
        """The end of the fault, for a scenario that gives it a duration; some faults cannot end."""


@dataclass(kw_only=True)
class SensorStuck(Fault):
    kind = "sensor_stuck"
    KEYS = {"register": "register", "value": "value"}
    register: int
    value: float = 0.0

    def apply(self, rig: Rig) -> None:
        rig.board.faults.stuck[self.register] = self.value

    def clear(self, rig: Rig) -> None:
        rig.board.faults.stuck.pop(self.register, None)


@dataclass(kw_only=True)
class SensorNoise(Fault):
    """Extra Gaussian noise on one sensor, on top of its model's."""

    kind = "sensor_noisy"
    KEYS = {"register": "register", "sigma": "sigma"}
    register: int
    sigma: float = 0.0

    def apply(self, rig: Rig) -> None:
        rig.board.faults.extra_sigma[self.register] = self.sigma

    def clear(self, rig: Rig) -> None:
        rig.board.faults.extra_sigma.pop(self.register, None)


@dataclass(kw_only=True)
class SensorBias(Fault):
    kind = "sensor_bias"
    KEYS = {"register": "register", "bias": "bias"}
    register: int
    bias: float = 0.0

    def apply(self, rig: Rig) -> None:
        rig.board.faults.bias[self.register] = self.bias

    def clear(self, rig: Rig) -> None:
        rig.board.faults.bias.pop(self.register, None)


@dataclass(kw_only=True)
class BatteryCellLoss(Fault):
    """Parallel strings of cells open for good (a duration does not bring them back)."""

    kind = "battery_cell_loss"
    KEYS = {"count": "count"}
    count: int = 1

    def apply(self, rig: Rig) -> None:
        rig.truth.battery.cells_lost += self.count


@dataclass(kw_only=True)
class ArrayStringLoss(Fault):
    """Array strings lost; with a duration, a shadowing boom or a tripped string that recovers."""

    kind = "array_string_loss"
    KEYS = {"count": "count"}
    count: int = 1

    def apply(self, rig: Rig) -> None:
        a = rig.truth.array
        a.strings_lost = min(a.strings, a.strings_lost + self.count)

    def clear(self, rig: Rig) -> None:
        a = rig.truth.array
        a.strings_lost = max(0, a.strings_lost - min(self.count, a.strings))


@dataclass(kw_only=True)
class HeaterStuckOn(Fault):
    kind = "heater_stuck_on"

    def apply(self, rig: Rig) -> None:
        loads = rig.truth.loads
        loads.heaters_on = True
        loads.heater_W = loads.heater_W or Loads().heater_W

    def clear(self, rig: Rig) -> None:
        rig.truth.loads.heaters_on = False


@dataclass(kw_only=True)
class BoardSilent(Fault):
    """The board's serial line goes quiet: requests get no answer."""

    kind = "serial_silent"

    def apply(self, rig: Rig) -> None:
        rig.board.faults.silent = True

    def clear(self, rig: Rig) -> None:
        rig.board.faults.silent = False


@dataclass(kw_only=True)
class RadioBitErrors(Fault):
    """Bit errors on the radio line, both ways, at `ber` per bit."""

    kind = "radio_ber"
    KEYS = {"value": "ber"}
    ber: float = 0.0

    def apply(self, rig: Rig) -> None:
        rig.radio.ber = self.ber

    def clear(self, rig: Rig) -> None:
        rig.radio.ber = 0.0


@dataclass(kw_only=True)
class BusShort(Fault):
    """A load of `extra_W` appears on the unswitched bus."""

    kind = "bus_short"
    KEYS = {"value": "extra_W"}
    extra_W: float = 0.0

    def apply(self, rig: Rig) -> None:
        rig.truth.loads.bus_W += self.extra_W

    def clear(self, rig: Rig) -> None:
        rig.truth.loads.bus_W -= self.extra_W


FAULTS: dict[str, type[Fault]] = {cls.kind: cls for cls in (
    SensorStuck, SensorNoise, SensorBias, BatteryCellLoss, ArrayStringLoss, HeaterStuckOn, BoardSilent,
    RadioBitErrors, BusShort)}


def parse(table: dict) -> Fault:
    """One `[[fault]]` table as its fault. Raises FaultError naming the key at fault."""
    if not isinstance(table, dict):
        raise FaultError("kind", "expected a table: [[fault]]")
    for key in table:
        if key not in COMMON_KEYS:
            raise FaultError(key, f"unknown key (known: {', '.join(COMMON_KEYS)})")
    kind = table.get("kind")
    cls = FAULTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise FaultError("kind", f"{kind!r} is not one of {sorted(FAULTS)}")
    reg = table.get("register")
    if reg is not None:
        try:
            reg = Reg[reg].value
        except (KeyError, TypeError):
            raise FaultError("register", f"{reg!r} is not a register ({', '.join(r.name for r in Reg)})") from None
    elif "register" in {f.name for f in fields(cls)}:
        raise FaultError("register", f"{kind} needs a register")

    def number(key: str, default, typ=float):
        v = table.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or typ is int and not isinstance(v, int):
            raise FaultError(key, f"expected a number, got {v!r}")
        return typ(v)

    values = {"at_h": number("at_h", 0.0), "register": reg, "value": number("value", 0.0),
              "sigma": number("sigma", 0.0), "bias": number("bias", 0.0), "count": number("count", 1, int),
              "duration_s": number("duration_s", 0.0)}
    return cls(at_s=values["at_h"] * 3600.0, duration_s=values["duration_s"],
               **{name: values[key] for key, name in cls.KEYS.items()})
