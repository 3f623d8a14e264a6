"""What one value of a limit-checked channel says about the process: normal, one of the four limit
conditions, or INVALID.

INVALID is not a limit alarm. A reading that is not a number (NaN is what the node's housekeeping
carries for a measurement it could not make, e.g. a node without a power board) says nothing about
the battery or the radiator: painting it RED would cry wolf from the first second, and an operator
taught that RED can mean "no sensor" stops trusting RED. ISA-18.2 keeps bad-quality values out of
the alarm logic and shows them as such; so do we.
"""
from __future__ import annotations

import enum
import math
from numbers import Real
from typing import Any


class Condition(enum.Enum):
    """A value's place against its limits. `severity` is the dictionary's colour for it."""

    NORMAL = ("NORMAL", "✓ NORMAL", "green")
    LO = ("LO", "▼ LO", "yellow")
    LOLO = ("LOLO", "▼▼ LOLO", "red")
    HI = ("HI", "▲ HI", "yellow")
    HIHI = ("HIHI", "▲▲ HIHI", "red")
    INVALID = ("INVALID", "? INVALID", None)

    def __init__(self, code: str, label: str, severity: str | None):
        self.code, self.label, self.severity = code, label, severity

    @property
    def abnormal(self) -> bool:
        """Outside limits: an alarm condition (INVALID is not one)."""
        return self.severity in ("yellow", "red")


#: How bad a severity is, to tell an alarm that got worse from one the operator already saw.
SEVERITY_RANK = {"green": 0, "yellow": 1, "red": 2}


def is_valid(value: Any) -> bool:
    """A finite number (bools are flags, not measurements)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def evaluate(limits, value: Any) -> Condition:
    """The condition of `value` under `limits` (a dictionary `Limits`): its colour as the
    dictionary defines it (`Limits.state`), and which side of the normal band it left by."""
    if not is_valid(value):
        return Condition.INVALID
    severity = limits.state(value)
    if severity == "green":
        return Condition.NORMAL
    low = value < normal_band(limits)[0]
    if severity == "red":
        return Condition.LOLO if low else Condition.HIHI
    return Condition.LO if low else Condition.HI


def normal_band(limits) -> tuple[float, float]:
    """The closed interval of values that are NORMAL under `limits`: the fast path for the many
    samples that raise nothing."""
    lo = next((v for v in (limits.yellow_low, limits.red_low) if v is not None), -math.inf)
    hi = next((v for v in (limits.yellow_high, limits.red_high) if v is not None), math.inf)
    return lo, hi
