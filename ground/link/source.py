"""What the console and the command-line tools consume: a source of decoded telemetry.

A live link (`GroundClient`) and a recorded log (`ReplayClient`, ground/archive) are both a
`TelemetrySource`: records delivered to subscribers, link statistics, the latest values. What
only one of them can do is a capability the source offers or does not, asked for by name, never
inferred from the class: `can_command` (a replay refuses to send, a live link sends), and
`replay`, a `ReplayControl` (pause, step, seek, speed, where in the log) or None on a live link.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Protocol, runtime_checkable

from gridfree.protocols.deframing import TmStats
from gridfree.protocols.dictionary import Dictionary

#: subscriber(kind, item): kind is "packet", "sample", "event", "verification" or "transfer".
Subscriber = Callable[[str, Any], None]
#: frame tap(buffer, TmFrameBatch): every batch of frames found, good and bad, as received.
FrameTap = Callable[[bytes, Any], None]


@runtime_checkable
class ReplayControl(Protocol):
    """Pacing and position of a replayed log; acts between frames."""

    speed: float
    t_from: float | None
    t_to: float | None
    position: float | None  # receive time of the last frame replayed (None before the first)
    finished: threading.Event  # set at the end of the log (or of the range)

    @property
    def paused(self) -> bool: ...

    def span(self) -> tuple[float, float] | None:
        """First and last receive time the replay will play, or None for an empty log."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step(self, frames: int = 1) -> None: ...

    def seek(self, t: float) -> None: ...

    def set_speed(self, speed: float) -> None: ...


@runtime_checkable
class TelemetrySource(Protocol):
    """Decoded telemetry from somewhere, and what may be done with it."""

    url: str
    dictionary: Dictionary
    latest: dict  # channel -> the latest Sample
    dictionary_note: str  # why values may be decoded with another dictionary than the node's ("" if not)

    @property
    def can_command(self) -> bool:
        """Whether `send` may be called (False: it raises)."""

    @property
    def replay(self) -> ReplayControl | None:
        """The replay controls, or None for a live link."""

    @property
    def stats(self) -> TmStats:
        """Frame-layer counters: frames ok, bad, lost, resyncs, bytes."""

    @property
    def packets(self) -> int: ...

    @property
    def decode_errors(self) -> int: ...

    @property
    def hash_mismatch(self) -> bool | None:
        """Whether the node's dictionary hash differs from ours (None: not reported yet)."""

    @property
    def connection(self) -> str:
        """Where the data comes from, for an operator: connected, no peer, replaying a log."""

    @property
    def reader_errors(self) -> int:
        """Errors the link's reader met (a replay has none)."""

    def subscribe(self, callback: Subscriber) -> None: ...

    def tap_frames(self, callback: FrameTap) -> None: ...

    def connect(self) -> "TelemetrySource": ...

    def close(self) -> None: ...

    def send(self, name: str, **args: Any) -> Any:
        """Send a dictionary command; only when `can_command`."""
