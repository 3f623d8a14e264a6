"""The tariff: how many compute tokens a job's energy and work cost.

The node charges by it (`gridfree.flight.compute.ledger`) and the ground recomputes the same
charge from the same numbers, so the rounding rule below is part of the contract between them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


def _rational(name: str, value) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction)):
        raise TypeError(f"tariff {name}: an int, a decimal string or a Fraction, got {value!r}")
    # A float is read as the decimal it prints as (0.1 means 1/10), not its binary expansion.
    rate = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if rate < 0:
        raise ValueError(f"tariff {name} must be >= 0, got {value!r}")
    return rate


@dataclass(frozen=True)
class Tariff:
    """Tokens per Wh of energy and per work unit, held as exact fractions.

    `tokens_for` computes energy_Wh * tokens_per_Wh + work_units * tokens_per_unit exactly (the
    energy taken at its exact binary value, the rates as the decimals written) and rounds to the
    nearest whole token, halves up. Node and ground therefore get the same integer on any machine.
    """

    tokens_per_Wh: Fraction
    tokens_per_unit: Fraction

    def __post_init__(self):
        object.__setattr__(self, "tokens_per_Wh", _rational("tokens_per_Wh", self.tokens_per_Wh))
        object.__setattr__(self, "tokens_per_unit", _rational("tokens_per_unit", self.tokens_per_unit))


def tokens_for(energy_Wh: float, work_units: int, tariff: Tariff) -> int:
    """Tokens charged for a job that used `energy_Wh` and `work_units` (see `Tariff` for the rule)."""
    if not (math.isfinite(energy_Wh) and energy_Wh >= 0):
        raise ValueError(f"energy_Wh must be finite and >= 0, got {energy_Wh!r}")
    if isinstance(work_units, bool) or not isinstance(work_units, int) or work_units < 0:
        raise ValueError(f"work_units must be an int >= 0, got {work_units!r}")
    exact = Fraction(energy_Wh) * tariff.tokens_per_Wh + work_units * tariff.tokens_per_unit
    return math.floor(exact + Fraction(1, 2))
