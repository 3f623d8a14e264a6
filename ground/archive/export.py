"""Writing decoded channels out for analysis tools: CSV for spreadsheets and anything else,
`.npz` for numpy (one structured array per channel with fields `t` and `v`).

Both carry each sample once: a channel that the node puts in two housekeeping packets (the
command counters are in node.Health and cmdDisp.Status) is decoded twice at the same onboard
time with the same value, and such exact repeats are dropped (`unique_series`). A float32 value
is written in the shortest form that reads back as the same float32 (31.61, not the
31.610000610351562 its widening to a double shows)."""
from __future__ import annotations

import csv
import os
from datetime import datetime, timezone
from typing import Callable

import numpy as np

FORMATS = ("csv", "npz")
#: The format a file name's suffix asks for.
FORMAT_OF_SUFFIX = {".csv": "csv", ".npz": "npz"}

Series = dict[str, tuple[np.ndarray, np.ndarray]]


def unique_series(series: Series) -> tuple[Series, int]:
    """Each channel's samples without exact repeats (same onboard time, same value bits; the first
    kept, log order otherwise unchanged), and how many were dropped."""
    out, dropped = {}, 0
    for name, (t, v) in series.items():
        rec = np.empty(len(t), dtype=[("t", "f8"), ("v", v.dtype)])
        rec["t"], rec["v"] = t, v
        _, first = np.unique(rec.view(f"V{rec.dtype.itemsize}"), return_index=True)
        if len(first) == len(t):
            out[name] = (t, v)
            continue
        keep = np.sort(first)
        out[name] = (t[keep], v[keep])
        dropped += len(t) - len(keep)
    return out, dropped


def write_npz(series: Series, path: str | os.PathLike) -> None:
    """One structured array (`t`, `v`) per channel, written to exactly `path` (np.savez given a
    name would append .npz to one that lacks it)."""
    arrays = {}
    for name, (t, v) in series.items():
        rec = np.empty(len(t), dtype=[("t", "f8"), ("v", v.dtype)])
        rec["t"], rec["v"] = t, v
        arrays[name] = rec
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _cell(value) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\0")
    if isinstance(value, np.float32):
        return str(value)  # numpy prints a float32 in its shortest round-tripping form
    return value.item() if hasattr(value, "item") else value


def write_csv(series: Series, path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> int:
    """Long format, one row per sample in time order: tools pivot it as they like, and channels at
    different rates need no padding. Returns the rows written."""
    names = sorted(series)
    if not names:
        times, which, index = np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64)
    else:
        times = np.concatenate([series[n][0] for n in names])
        which = np.concatenate([np.full(len(series[n][0]), k) for k, n in enumerate(names)])
        index = np.concatenate([np.arange(len(series[n][0])) for n in names])
    order = np.argsort(times, kind="stable")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time_unix_s", "time_utc", "channel", "value"])
        chunk = 100_000
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            for i in rows.tolist():
                name = names[which[i]]
                value = series[name][1][index[i]]
                t = float(times[i])
                w.writerow([f"{t:.6f}", datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="microseconds"),
                            name, _cell(value)])
            if progress:
                progress(len(rows))
    return len(order)
