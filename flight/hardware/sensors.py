"""The EPS component's sensor table, derived from the register map (`protocols/registers.py`):
its telemetry channels (local ids 1-9), which channel each quantity is published on, and which
quantities each rate group sweeps. A new sensor in the map appears here with no edit.
"""
from __future__ import annotations

from typing import Final

from gridfree.flight.hardware.interfaces import Quantity
from gridfree.protocols.dictionary import Channel
from gridfree.protocols.registers import NODE_SENSORS, Rate

EPS_SENSOR_CHANNELS: Final[tuple[Channel, ...]] = tuple(
    Channel(r.channel.id, r.channel.name, r.wire.value, r.unit, r.channel.description, r.channel.limits)
    for r in NODE_SENSORS)
CHANNEL: Final[dict[Quantity, str]] = {Quantity[r.key]: r.channel.name for r in NODE_SENSORS}
FAST: Final[tuple[Quantity, ...]] = tuple(Quantity[r.key] for r in NODE_SENSORS if r.rate is Rate.FAST)
"""Read every fast tick (10 Hz): battery voltage and current, for under-voltage protection."""
SLOW: Final[tuple[Quantity, ...]] = tuple(Quantity[r.key] for r in NODE_SENSORS if r.rate is Rate.SLOW)
"""Read every slow tick (1 Hz): temperatures, array and payload power, the bus."""
