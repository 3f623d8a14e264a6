"""The part of a telemetry source both a live link and a replay share: decoded records fanned out.

Bytes go into the sans-IO `Decoder`; what comes out is kept where a script looks for it (latest
values, the event log, completed transfers, ...) and handed to the subscribers, on whichever
thread fed the bytes. A live client feeds it from its link reader, a replay from its pacing
thread; neither decodes anything itself.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from gridfree.ground.link.decoder import Decoder
from gridfree.ground.link.records import (KIND, EventRecord, ParameterValues, Pong, Sample, ScheduleReport,
                                          UplinkAbortion)
from gridfree.ground.link.source import FrameTap, Subscriber
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import TmStats
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.services.verification import VerificationReport


@dataclass(frozen=True)
class TmAuthState:
    """What the ground knows of its telemetry's authenticity (SDLS on TM frames), for the console
    and scripts: counts since the start, and whether the latest frames all authenticated."""

    sdls: bool  # the link's TM frames carry SDLS fields
    checking: bool  # this ground holds a TM SA and checks every frame's MAC
    authenticated: int = 0
    failed: int = 0  # unknown SPI (0: sent without an SA), SA stopped, MAC wrong: dropped
    replayed: int = 0  # MAC right, IV seen before: dropped
    unchecked: int = 0  # read without a TM SA to check them with
    recent: int = 0  # how many of the latest checked frames `recent_ok` is out of
    recent_ok: int = 0
    last_error: str = ""

    @property
    def verified(self) -> bool | None:
        """True when every one of the latest checked frames authenticated, False when any did not,
        None when nothing is checked (no SDLS, no TM SA, or no frame yet)."""
        if not self.checking or not self.recent:
            return None
        return self.recent_ok == self.recent


class Downlink:
    """Decoding and fan-out; a source adds where the bytes come from (and commanding, if any)."""

    dictionary_note = ""

    def __init__(self, url: str, dictionary: Dictionary, link_config: LinkConfig = LinkConfig()):
        self.url, self.dictionary = url, dictionary
        self.decoder = Decoder(dictionary, link_config)
        self.events: deque[EventRecord] = deque(maxlen=1000)
        self.parameters: dict[str, Any] = {}
        self.pongs = 0
        self.completed_transfers: dict[int, bytes] = {}
        self.uplink_aborts: dict[int, int] = {}  # transaction -> UplinkFailure, from TM[13,16]
        self.schedule_report: list[tuple[float, bytes]] | None = None
        self._schedule_t: float | None = None
        self._hash_mismatch: bool | None = None  # what a source knows before the node says
        self._cond = threading.Condition()
        self._subscribers: list[Subscriber] = []
        self._frame_taps: list[FrameTap] = []

    # ---- what a source reports ------------------------------------------------------------------
    @property
    def latest(self) -> dict[str, Sample]:
        return self.decoder.latest

    @property
    def stats(self) -> TmStats:
        return self.decoder.stats

    @property
    def tm_auth(self) -> TmAuthState:
        frames = self.decoder.frames
        st, recent = frames.stats, frames.recent_auth
        checking = frames.verifier is not None and frames.verifier.checking
        return TmAuthState(frames.config.sdls, checking, st.auth_ok, st.auth_failed, st.replayed,
                           st.auth_unchecked, len(recent), sum(recent), frames.last_auth_error)

    def authenticate_tm(self, sa) -> None:
        """Check every TM frame from now on under `sa` (a protocols.sdls SecurityAssociation, or a
        dict of them by SPI); the link's TM frames must carry SDLS (LinkConfig.sdls)."""
        self.decoder.frames.set_security(sa)

    @property
    def packets(self) -> int:
        return self.decoder.packets

    @property
    def decode_errors(self) -> int:
        return self.decoder.decode_errors

    @property
    def hash_mismatch(self) -> bool | None:
        decoded = self.decoder.hash_mismatch
        return self._hash_mismatch if decoded is None else decoded

    @hash_mismatch.setter
    def hash_mismatch(self, value: bool | None) -> None:
        self._hash_mismatch = value

    def subscribe(self, callback: Subscriber) -> None:
        """callback(kind, item) for kind in "packet", "sample", "event", "verification",
        "transfer"; called on the thread that feeds the bytes, so it must be quick (and ignore
        kinds it does not know)."""
        self._subscribers.append(callback)

    def tap_frames(self, callback: FrameTap) -> None:
        """callback(buffer, TmFrameBatch) for every batch of frames found, good and bad, before
        their packets are handled: how the archive records exactly what came off the link."""
        self._frame_taps.append(callback)

    # ---- feeding -----------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        decoded = self.decoder.feed(data)
        for tap in self._frame_taps:
            tap(decoded.buffer, decoded.frames)
        for record in decoded.records:
            self._apply(record)
        if decoded.records:
            with self._cond:
                self._cond.notify_all()

    def _apply(self, record: Any) -> None:
        kind = KIND.get(type(record))
        if kind == "event":
            self.events.append(record)
        elif kind == "transfer":
            self.completed_transfers[record.transaction] = record.data
        elif isinstance(record, VerificationReport):
            self._verification(record)
        elif isinstance(record, Pong):
            self.pongs += 1
        elif isinstance(record, ParameterValues):
            self.parameters.update(record.values)
        elif isinstance(record, ScheduleReport):  # a long list comes in several TM[11,10] of one tick
            same_report = self._schedule_t == record.time_s and self.schedule_report is not None
            self.schedule_report = (self.schedule_report + record.activities) if same_report else record.activities
            self._schedule_t = record.time_s
        elif isinstance(record, UplinkAbortion):
            self.uplink_aborts[record.transaction] = record.reason
        if kind is not None:
            self._notify(kind, record)

    def _verification(self, report: VerificationReport) -> None:
        """A PUS 1 report; only a source that sent commands has any to follow."""

    def _notify(self, kind: str, item: Any) -> None:
        for cb in self._subscribers:
            cb(kind, item)

    # ---- waiting -------------------------------------------------------------------------------------
    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.2))
        return True

    def value(self, channel: str) -> Any:
        return self.latest[channel].value if channel in self.latest else None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def connect(self):
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
