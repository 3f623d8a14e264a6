"""The rig's truth for each sensor of the register map (`protocols/registers.py`): what the
quantity really is in the truth model, and how the board's ADC sees it (Gaussian noise and
quantisation, typical of a 12-bit housekeeping ADC on an EPS board).

This is the rig's side only: the node knows the register map, never these numbers. A sensor
added to the map needs its entry here, or the emulated board answers its register as unknown
(tests/hil/test_register_map.py checks that none is missing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gridfree.ground.hil.truth import Truth
from gridfree.protocols.registers import Reg


@dataclass(frozen=True)
class SensorModel:
    truth: Callable[[Truth], float]  # the true value, in the register's unit
    sigma: float  # 1-sigma Gaussian noise, in the register's unit
    lsb: float  # ADC quantisation step


def _array_current_A(t: Truth) -> float:
    return t.solar_W / t.bus_V if t.bus_V > 0 else 0.0


SENSORS: dict[Reg, SensorModel] = {
    Reg.BUS_VOLTAGE_V: SensorModel(lambda t: t.bus_V, 0.02, 0.01),
    Reg.BATTERY_VOLTAGE_V: SensorModel(lambda t: t.bus_V, 0.02, 0.01),
    Reg.BATTERY_CURRENT_A: SensorModel(lambda t: t.battery_A, 0.2, 0.05),
    Reg.BATTERY_TEMP_C: SensorModel(lambda t: t.thermal.nodes["battery"].temp_C, 0.3, 0.1),
    Reg.ARRAY_POWER_W: SensorModel(lambda t: t.solar_W, 5.0, 1.0),
    Reg.ARRAY_CURRENT_A: SensorModel(_array_current_A, 0.1, 0.05),
    Reg.PAYLOAD_TEMP_C: SensorModel(lambda t: t.thermal.nodes["payload"].temp_C, 0.3, 0.1),
    Reg.STRUCTURE_TEMP_C: SensorModel(lambda t: t.thermal.nodes["structure"].temp_C, 0.3, 0.1),
    Reg.RADIATOR_TEMP_C: SensorModel(lambda t: t.thermal.nodes["radiator"].temp_C, 0.3, 0.1),
    Reg.PAYLOAD_POWER_W: SensorModel(lambda t: t.loads.compute_W, 3.0, 1.0),
}
