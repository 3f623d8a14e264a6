"""Writing decoded channels out for analysis tools: CSV for spreadsheets and anything else,
`.npz` for numpy (one structured array per channel with fields `t` and `v`)."""
from __future__ import annotations

import csv
import os
from datetime import datetime, timezone
from typing import Callable

import numpy as np

from gridfree.ground.archive.bulk import Decoded

FORMATS = ("csv", "npz")


def write_npz(decoded: Decoded, path: str | os.PathLike) -> None:
    arrays = {}
    for name, (t, v) in decoded.series.items():
        rec = np.empty(len(t), dtype=[("t", "f8"), ("v", v.dtype)])
        rec["t"], rec["v"] = t, v
        arrays[name] = rec
    np.savez(path, **arrays)


def write_csv(decoded: Decoded, path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> int:
    """Long format, one row per sample in time order: tools pivot it as they like, and channels at
    different rates need no padding. Returns the rows written."""
    names = sorted(decoded.series)
    if not names:
        times, which, index = np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64)
    else:
        times = np.concatenate([decoded.series[n][0] for n in names])
        which = np.concatenate([np.full(len(decoded.series[n][0]), k) for k, n in enumerate(names)])
        index = np.concatenate([np.arange(len(decoded.series[n][0])) for n in names])
    order = np.argsort(times, kind="stable")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time_unix_s", "time_utc", "channel", "value"])
        chunk = 100_000
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            for i in rows.tolist():
                name = names[which[i]]
                value = decoded.series[name][1][index[i]]
                t = float(times[i])
                w.writerow([f"{t:.6f}", datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="microseconds"),
                            name, value.decode("utf-8", "replace").rstrip("\0") if isinstance(value, bytes)
                            else value.item() if hasattr(value, "item") else value])
            if progress:
                progress(len(rows))
    return len(order)
