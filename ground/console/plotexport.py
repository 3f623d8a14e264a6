"""A plot's data as CSV: exactly the points it draws, in the time base it draws them against.

One row per distinct time, one column per channel; a channel with no sample at a row's time
leaves its cell empty, and a channel with two samples at one time (it comes in two
housekeeping packets) takes two rows, so every plotted point is in the file once and nothing
is invented. Times come twice: UTC text for a reader, unix seconds in full for a program.
Values are written as the shortest text that reads back to the same number in the channel's
own type (a float32 reading is 31.61, not 31.610000610351562).
"""
from __future__ import annotations

import csv
import math
import os
from typing import Mapping

import numpy as np

from gridfree.ground.link.utc import stamp
from gridfree.protocols.dictionary import Channel

TIME_COLUMNS = {"spacecraft": "spacecraft_time", "ground": "ground_receipt_time"}


def time_header(base: str) -> list[str]:
    prefix = TIME_COLUMNS[base]
    return [f"{prefix}_utc", f"{prefix}_unix_s"]


def channel_header(ch: Channel) -> str:
    return f"{ch.name} [{ch.unit}]" if ch.unit else ch.name


def csv_text(ch: Channel, v: float) -> str:
    """A plotted value in full, for its wire type (not the display format: a CSV is for analysis)."""
    if not math.isfinite(v):
        return str(v)  # nan, inf: as a missing reading was plotted (not at all)
    if ch.type == "bool" or ch.type[:1] in ("u", "i"):
        return str(int(v))
    if ch.type == "f32":
        return str(np.float32(v))  # numpy prints a float32's shortest round-trip digits
    return repr(float(v))


def _occurrence(t: np.ndarray) -> np.ndarray:
    """For each time, how many earlier points of the same array share it (0, 1, ...)."""
    order = np.argsort(t, kind="stable")
    s = t[order]
    starts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    lengths = np.diff(np.r_[starts, len(s)])
    rank = np.empty(len(t), dtype=np.int64)
    rank[order] = np.arange(len(s)) - np.repeat(starts, lengths)
    return rank


def merge(plotted: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(row times, channel -> the row of each of its points), rows ordered by time."""
    names = list(plotted)
    keys = [np.column_stack([plotted[n][0], _occurrence(plotted[n][0])]) for n in names]
    if not names or not sum(len(k) for k in keys):
        return np.empty(0), {n: np.empty(0, dtype=np.int64) for n in names}
    rows, inverse = np.unique(np.concatenate(keys), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    split = np.cumsum([len(k) for k in keys])[:-1]
    return rows[:, 0], dict(zip(names, np.split(inverse, split)))


def write_plot_csv(path: str | os.PathLike, base: str, plotted: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   channels: Mapping[str, Channel]) -> int:
    """Write `plotted` (channel -> (times in `base`, values)) to `path`; returns the rows written.
    Raises OSError when the file cannot be written (the caller says so in one line)."""
    times, where = merge(plotted)
    names = list(plotted)
    cells = [[""] * len(names) for _ in range(len(times))]
    for j, name in enumerate(names):
        ch = channels[name]
        for row, v in zip(where[name].tolist(), plotted[name][1].tolist()):
            cells[row][j] = csv_text(ch, v)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(time_header(base) + [channel_header(channels[n]) for n in names])
        for t, row in zip(times.tolist(), cells):
            out.writerow([stamp(t), repr(t)] + row)
    return len(times)
