"""The history behind the plots: every numeric channel's recent samples, in numpy rings.

Every numeric channel is buffered from the moment the console starts (a numpy ring per channel,
a bounded number of points each, filled a batch at a time), so a channel put on a plot shows its
recent past at once. Each point keeps two times: the onboard (spacecraft) time of its report and
the ground receipt time of the batch that brought it, so a plot can be drawn against either. A
replay's receipt time is the recorded receive time of the frame it has reached, so a replayed
log keeps the receive dates it was recorded with.
"""
from __future__ import annotations

import math
from operator import attrgetter
from typing import Iterable

import numpy as np

from gridfree.protocols.dictionary import Dictionary

#: The two time bases a plot is drawn against: the onboard time stamped in the report, or when
#: the ground received it (the gap between them is the downlink's latency, or a dump's age).
SPACECRAFT, GROUND = "spacecraft", "ground"
TIME_BASES = (SPACECRAFT, GROUND)

#: Points kept per channel: an hour at 4 Hz, or the last 4.5 h of a 1 Hz housekeeping packet...
POINTS_PER_CHANNEL = 16384
#: ...unless the dictionary has so many channels that their history would take more than this
#: (onboard time, receipt time and value, float64, in twice the storage: 48 bytes a point).
#: 1000 channels keep 8192 points each (13 min at 10 Hz), 8000 channels 1024.
HISTORY_BYTES = 384 << 20
BYTES_PER_POINT = 48
MIN_POINTS_PER_CHANNEL = 256
INITIAL_WIDTH = 256
_CHANNEL, _TIME, _VALUE = attrgetter("channel"), attrgetter("time_s"), attrgetter("value")


def default_capacity(channels: int) -> int:
    """Points per channel: POINTS_PER_CHANNEL, or fewer (a power of two) when that many
    channels would not fit in HISTORY_BYTES."""
    fit = HISTORY_BYTES // (max(channels, 1) * BYTES_PER_POINT)
    if fit >= POINTS_PER_CHANNEL:
        return POINTS_PER_CHANNEL
    return max(MIN_POINTS_PER_CHANNEL, 1 << (int(fit).bit_length() - 1) if fit >= 1 else 0)


class Series:
    """One channel's history in the store: (time, value) arrays, oldest first, without a copy."""

    __slots__ = ("store", "row")

    def __init__(self, store: "SeriesStore", row: int):
        self.store, self.row = store, row

    def __len__(self) -> int:
        return int(self.store._end[self.row] - self.store._start[self.row])

    @property
    def version(self) -> int:
        """Bumped by every batch with a sample of the channel: whether a curve must be redrawn."""
        return int(self.store._version[self.row])

    @property
    def first(self) -> float:
        """Onboard time of the oldest point kept."""
        return float(self.store._t[self.row, self.store._start[self.row]])

    def first_in(self, base: str) -> float:
        """Time of the oldest point kept, in time base `base` (NaN: no receipt time known)."""
        times = self.store._times(base)
        return float(times[self.row, self.store._start[self.row]])

    def arrays(self, t_from: float = -np.inf, base: str = SPACECRAFT) -> tuple[np.ndarray, np.ndarray]:
        """(times in `base`, values) from `t_from` on, views into the store (never modify them)."""
        st, row = self.store, self.row
        a, b = int(st._start[row]), int(st._end[row])
        t = st._times(base)[row, a:b]
        i = int(np.searchsorted(t, t_from)) if np.isfinite(t_from) else 0
        return t[i:], st._v[row, a + i:b]


class SeriesStore:
    """The recent history of every numeric channel, from the moment the console starts.

    Three 2-D arrays (onboard time, receipt time, value) with a row per channel, so that a batch
    of samples goes in with a few numpy operations rather than a Python call per sample: a
    thousand channels at 10 Hz are ten thousand samples a second. Each row keeps the newest
    `capacity` points in twice that storage; when a row is full its newest points move to the
    front, so appending is amortised O(1) and reading never copies. The storage starts small and
    doubles as history accumulates, up to what `capacity` needs.
    """

    _ARRAYS = ("_t", "_r", "_v")

    def __init__(self, dictionary: Dictionary, capacity: int | None = None):
        numeric = [c for c in dictionary.channels if c.wire.kind in ("uint", "int", "float", "bool")]
        names = [c.name for c in numeric]
        self.numeric = set(names)
        self.channel = {c.name: c for c in numeric}  # units, limits and types for the plots
        self.row_of = {name: i for i, name in enumerate(names)}
        self.capacity = capacity if capacity is not None else default_capacity(len(names))
        n, width = len(names), min(2 * self.capacity, INITIAL_WIDTH)
        self._t = np.empty((n, width))
        self._r = np.empty((n, width))
        self._v = np.empty((n, width))
        self._start = np.zeros(n, dtype=np.int64)
        self._end = np.zeros(n, dtype=np.int64)
        self._version = np.zeros(n, dtype=np.int64)
        self.latest_time: float | None = None  # newest onboard time received
        self.latest_received: float | None = None  # newest ground receipt time
        self.buffers = _Buffers(self)

    def _times(self, base: str) -> np.ndarray:
        if base not in TIME_BASES:
            raise ValueError(f"time base {base!r}: expected one of {', '.join(TIME_BASES)}")
        return self._t if base == SPACECRAFT else self._r

    def latest(self, base: str) -> float | None:
        """The newest time received in time base `base` (None before the first sample)."""
        return self.latest_time if base == SPACECRAFT else self.latest_received

    def apply_samples(self, batch: Iterable, received_s: float = math.nan) -> None:
        """Store a batch of samples; `received_s`: when the ground received it (unix seconds),
        NaN when unknown (such points have no place on a receipt-time plot)."""
        batch = batch if isinstance(batch, list) else list(batch)
        if not batch:
            return
        # Columns at C speed (map over attrgetter); a channel not in the store has row NaN.
        rows = np.array(list(map(self.row_of.get, map(_CHANNEL, batch))), dtype=float)
        known = ~np.isnan(rows)
        if not known.any():
            return
        try:
            vs = np.array(list(map(_VALUE, batch)), dtype=float)
        except (TypeError, ValueError):  # text among the values: take only the numeric channels'
            vs = np.array([s.value if k else 0.0 for s, k in zip(batch, known.tolist())], dtype=float)
        ts = np.array(list(map(_TIME, batch)), dtype=float)
        if not known.all():
            rows, ts, vs = rows[known], ts[known], vs[known]
        rows = rows.astype(np.int64)
        if np.bincount(rows).max() == 1:  # the usual batch: one sample per channel
            channels, counts, rank = rows, np.ones(len(rows), dtype=np.int64), 0
        else:
            order = np.argsort(rows, kind="stable")  # each channel's samples together, in arrival order
            rows, ts, vs = rows[order], ts[order], vs[order]
            channels, first, counts = np.unique(rows, return_index=True, return_counts=True)
            rank = np.arange(len(rows)) - np.repeat(first, counts)  # a sample's place among its channel's
        if counts.max() > self.capacity:  # more in one batch than a row keeps: only the newest count
            keep = rank >= np.repeat(counts, counts) - self.capacity
            rows, ts, vs = rows[keep], ts[keep], vs[keep]
            rank = rank[keep] - np.repeat(np.maximum(counts - self.capacity, 0), counts)[keep]
            counts = np.minimum(counts, self.capacity)
        self._make_room(channels, counts)
        at = self._end[rows] + rank
        self._t[rows, at] = ts
        self._r[rows, at] = received_s
        self._v[rows, at] = vs
        end = self._end[channels] + counts
        self._end[channels] = end
        self._start[channels] = np.maximum(self._start[channels], end - self.capacity)
        self._version[channels] += 1
        newest = float(ts.max())
        if self.latest_time is None or newest > self.latest_time:
            self.latest_time = newest
        if math.isfinite(received_s) and (self.latest_received is None or received_s > self.latest_received):
            self.latest_received = float(received_s)

    def _make_room(self, channels: np.ndarray, counts: np.ndarray) -> None:
        need = self._end[channels] + counts
        width = self._t.shape[1]
        if need.max() <= width:
            return
        if width < 2 * self.capacity:  # grow every row: channels at one rate fill together
            new = min(2 * self.capacity, max(2 * width, int(need.max())))
            for name in self._ARRAYS:
                grown = np.empty((self._t.shape[0], new))
                grown[:, :width] = getattr(self, name)
                setattr(self, name, grown)
            width = new
        for row, count in zip(channels[need > width].tolist(), counts[need > width].tolist()):
            keep = min(self.capacity - count, int(self._end[row] - self._start[row]))
            end = int(self._end[row])
            for name in self._ARRAYS:
                a = getattr(self, name)
                a[row, :keep] = a[row, end - keep:end]
            self._start[row], self._end[row] = 0, keep


class _Buffers:
    """`store.buffers.get(name)`: a channel's `Series`, or None before its first sample."""

    def __init__(self, store: SeriesStore):
        self.store = store

    def get(self, name: str, default=None) -> Series | None:
        row = self.store.row_of.get(name)
        if row is None or self.store._end[row] == 0:
            return default
        return Series(self.store, row)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __getitem__(self, name: str) -> Series:
        series = self.get(name)
        if series is None:
            raise KeyError(name)
        return series
