"""The thermal manager's offer to the rest of the node, published every 1 Hz tick."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ThermalState:
    t: float
    heater_on: bool
    throttled: bool
    utilisation_cap: float  # what compute may run the payload at, thermally (1: no cap)
    throttle_C: float  # the payload temperature the manager throttles above
    payload_C: float = math.nan
    radiator_C: float = math.nan


#: Before the first thermal tick: no cap, limits at their defaults' meaning unknown.
UNKNOWN_THERMAL = ThermalState(0.0, False, False, 1.0, math.nan)
