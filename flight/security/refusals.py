"""Refused uplink frames: counted by reason, reported as events at a rate a flood cannot raise.

A ground station that sends with a stale key, or an attacker who replays a recording, can put
hundreds of refused frames a second on the uplink. Each is counted (housekeeping shows the rate),
but the event for a kind of refusal goes down at most once per `period_s`; the next one says how
many of that kind went unreported in between, so nothing is hidden and nothing floods the
downlink. Frames are refused on the radio's reader thread and events are sent on the scheduler's,
so this is a small ledger both sides touch under the component's lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Hashable

from gridfree.protocols.sdls import Refusal

EVENT_PERIOD_S: Final = 10.0


@dataclass(frozen=True)
class RefusalReport:
    """One event's worth: the latest refusal of a kind and how many before it went unreported."""

    kind: Hashable  # a Refusal, or another reason the component drops a frame
    detail: str
    suppressed: int


class RefusalLog:
    def __init__(self, period_s: float = EVENT_PERIOD_S):
        self.period_s = period_s
        self.counts: dict[Hashable, int] = {r: 0 for r in Refusal}
        self._pending: dict[Hashable, tuple[int, str]] = {}  # unreported: how many, the latest detail
        self._reported_at: dict[Hashable, float] = {}

    def record(self, kind: Hashable, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        waiting, _ = self._pending.get(kind, (0, ""))
        self._pending[kind] = (waiting + 1, detail)

    def due(self, now_s: float) -> list[RefusalReport]:
        """The reports to send now: one per kind with refusals waiting whose last report is at
        least `period_s` old (or that was never reported)."""
        out = []
        for kind, (waiting, detail) in list(self._pending.items()):
            last = self._reported_at.get(kind)
            if last is None or now_s - last >= self.period_s:
                self._reported_at[kind] = now_s
                del self._pending[kind]
                out.append(RefusalReport(kind, detail, waiting - 1))
        return out
