"""How a channel's value is written for a person: one format per channel, declared with it.

A channel may declare its display format, a Python format spec for the number (``".1f"``,
``"d"``, ``"016x"`` for a hash); without one it gets a default from its type and unit, so a
voltage always reads with two decimals and a power with one, whichever view shows it. The
console's tables, panels and alarms and the terminal tools all call `value_text`, so the same
value never reads ``55.9904 %`` in one place and ``56.0 %`` in another.

Enumerations read as their labels, booleans as true/false, instants (``time_scale="UTC"``) as
ISO 8601 UTC dates; these have no number format. A float that is not a number is the node's
"no value" and reads `NO_VALUE`, never ``nan %``.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

#: Decimals of a float channel by its unit, chosen for the resolution its sensor or estimate has:
#: volts and amps to 10 mV/mA, power and temperature to a tenth, energy to 10 mWh.
UNIT_DECIMALS = {"V": 2, "A": 2, "Ah": 2, "Wh": 2, "W": 1, "%": 1, "C": 1, "s": 1, "J": 1}
#: Decimals of a float channel whose unit is not listed above (a ratio, a count of cycles).
FLOAT_DECIMALS = 3
#: What a float that is not a number (the node's "no value": no plan, no sensor) reads as.
NO_VALUE = "no value"
#: What an instant of 0 (the node has none to report, e.g. no eclipse predicted) reads as.
NO_INSTANT = "none"


def default_format(type_kind: str, unit: str) -> str:
    """The format spec a channel of this wire kind and unit gets when it declares none."""
    if type_kind == "float":
        return f".{UNIT_DECIMALS.get(unit, FLOAT_DECIMALS)}f"
    return "d"


def check_format(spec: str, type_kind: str) -> str | None:
    """None if `spec` formats a value of this wire kind, else what is wrong with it."""
    if not isinstance(spec, str):
        return f"format {spec!r} must be a format spec such as '.2f' or '016x'"
    sample = 0.5 if type_kind == "float" else 12345
    try:
        format(sample, spec)
    except (ValueError, TypeError) as exc:
        return f"format {spec!r} does not format a {type_kind}: {exc}"
    return None


def utc_text(t: float) -> str:
    """Unix seconds as 2026-03-20T12:00:00.000Z (milliseconds, Z for UTC); beyond the calendar's
    range (a corrupt reading), the number itself."""
    try:
        return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    except (OverflowError, OSError, ValueError):
        return f"{t!r} s"


def number_text(channel, value: Any) -> str:
    """A numeric value in the channel's format, without its unit (for "79.3 ± 1.2 %")."""
    if isinstance(value, float) and math.isnan(value):
        return NO_VALUE
    if isinstance(value, float) and math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    spec = channel.display_format
    if spec is None:
        return str(value)
    if isinstance(value, float) and spec[-1:] in "bcdoxX":
        value = int(value)  # an integer format on a float channel: the whole part
    return format(value, spec)


def value_text(channel, value: Any) -> str:
    """A channel's value as a person reads it, unit included: the one formatter of the ground."""
    if channel.enum is not None:
        label = next((k for k, v in channel.enum.items() if v == value), None)
        return label if label is not None else f"? {value}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if channel.time_scale == "UTC" and isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return NO_VALUE
        return utc_text(value) if value > 0 else NO_INSTANT
    if not isinstance(value, (int, float)):
        return str(value)
    text = number_text(channel, value)
    if text == NO_VALUE or not channel.unit:
        return text
    return f"{text} {channel.unit}"
