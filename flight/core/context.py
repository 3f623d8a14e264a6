"""What a component may use of the node: the services, not the node itself (no god object)."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from gridfree.flight.core.bus import SoftwareBus
from gridfree.flight.core.clock import Clock
from gridfree.flight.core.modes import ModeMachine
from gridfree.protocols.dictionary import Dictionary


class EventSink(Protocol):
    """PUS 5 as a component sees it (services/events.py; the tester records instead)."""

    def emit(self, name: str, **args: Any) -> bool: ...


class ParameterSource(Protocol):
    """PUS 20 as a component sees it (services/parameters.py)."""

    def get(self, name: str) -> Any: ...


class PacketSink(Protocol):
    """TM packets out (core/downlink.py): service, subtype, application data, virtual channel."""

    apid: int

    def send(self, service: int, subtype: int, data: bytes = b"", vc: int = 0) -> Any: ...


class TelemetryDb:
    """Latest value and time of every channel; housekeeping and monitoring read from here."""

    def __init__(self, dictionary: Dictionary):
        self._d = dictionary
        self._values: dict[str, Any] = {}
        self._times: dict[str, float] = {}
        self._lock = threading.Lock()
        # Housekeeping is complete from the first tick. A measurement not yet made is NaN, not a
        # plausible 0.0 (a battery at 0 % is an emergency); counters and flags start at zero.
        for c in dictionary.channels:
            kind = c.wire.kind
            self._values[c.name] = False if kind == "bool" else (
                math.nan if kind == "float" else ("" if kind == "string" else 0))
            self._times[c.name] = 0.0

    def write(self, name: str, value: Any, t: float) -> None:
        if name not in self._values:
            raise KeyError(f"no telemetry channel {name!r} in the dictionary")
        with self._lock:
            self._values[name] = value
            self._times[name] = t

    def read(self, name: str) -> Any:
        return self._values[name]

    def time(self, name: str) -> float:
        return self._times[name]

    def snapshot(self, names) -> dict[str, Any]:
        with self._lock:
            return {n: self._values[n] for n in names}


@dataclass
class NodeContext:
    clock: Clock
    bus: SoftwareBus
    dictionary: Dictionary
    telemetry: TelemetryDb
    events: EventSink
    parameters: ParameterSource
    downlink: PacketSink
    modes: ModeMachine
