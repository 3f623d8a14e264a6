"""What the ground decoder gives out: one frozen-shaped record per kind of thing that came down.

These are the typed outputs of `ground.link.decoder.Decoder`, the same for a live link and a
replayed log, so whatever consumes them (console, terminal, archive tools, the rig) never
decodes a packet itself. Each carries the onboard time of its report, `time_s` (unix seconds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridfree.protocols.dictionary import Event, Severity


@dataclass
class Sample:
    """One housekeeping value of one channel."""

    channel: str
    value: Any
    time_s: float  # onboard time of the report


@dataclass
class PacketRecord:
    """A good packet as it came off the link, for the console's packet viewer."""

    raw: bytes
    apid: int
    service: int
    subtype: int
    seq_count: int
    time_s: float


@dataclass
class TransferRecord:
    """A PUS 13 downlink transfer, whole: a job's result, a ledger statement, a test pattern."""

    transaction: int
    data: bytes
    time_s: float


@dataclass
class EventRecord:
    """A PUS 5 event report; `event` is None for an id the dictionary does not know."""

    event: Event | None
    event_id: int
    severity: Severity | None
    args: dict
    text: str
    time_s: float


@dataclass(frozen=True)
class Pong:
    """TM[17,2]: the node answered a connection test."""

    time_s: float


@dataclass(frozen=True)
class ParameterValues:
    """TM[20,2]: parameter values the node reported, by dictionary name."""

    values: dict
    time_s: float


@dataclass(frozen=True)
class ScheduleReport:
    """TM[11,10]: the time-tagged commands the node holds, as (release time, TC packet)."""

    activities: list
    time_s: float


@dataclass(frozen=True)
class UplinkAbortion:
    """TM[13,16]: the node gave up a large-data uplink, with its reason code."""

    transaction: int
    reason: int
    time_s: float


#: The subscriber kind each record is delivered as (`subscribe(callback(kind, item))`).
KIND = {PacketRecord: "packet", Sample: "sample", EventRecord: "event", TransferRecord: "transfer"}
