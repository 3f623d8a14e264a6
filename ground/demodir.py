"""The demo's output folder: a fresh node per run, the previous run kept, `--resume` to go on.

A node keeps state across boots (parameters, schedule, job queue, token ledger, boot count): that
is what it is for. A demo that reused it would restart its simulated clock at the scenario's start
and meet its own past: the ledger refuses time going backwards, job 1 is already queued. So each
run starts a fresh node: what the previous run left (its node state, log, report, screenshots) is
moved to `previous/` (one run of history, so the folder does not grow without bound), and the run
writes where the README says. `--resume` instead keeps the node's state and goes on from where the
previous run stopped, in simulated time and battery charge (`Continuation`), with the scenario's
commands that were already sent left out.

Only a folder this demo made is ever touched: it carries a marker file, and a non-empty folder
without one is refused rather than emptied.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

MARKER = ".gridfree-demo"
#: Everything a run writes in the folder (console.ini, the window's layout, stays).
OUTPUTS = ("run", "log", "report.md", "plots.png", "console.png", "console-telemetry.png", "continue.json")
PREVIOUS = "previous"


class DemoDirError(ValueError):
    """The folder cannot be used as asked; the message says what to do instead."""


@dataclass(frozen=True)
class Continuation:
    """Where a run stopped, for `--resume`: the simulated time, the elapsed scenario time and the
    battery's true state of charge (the rig's truth; the node keeps its own estimate)."""

    end_unix_s: float
    elapsed_s: float
    soc: float

    def save(self, folder: Path) -> None:
        (folder / "continue.json").write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "Continuation":
        path = folder / "continue.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            c = cls(float(doc["end_unix_s"]), float(doc["elapsed_s"]), float(doc["soc"]))
        except FileNotFoundError:
            raise DemoDirError(f"{folder} has no run to resume; start one with `gridfree demo --out {folder}`") from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise DemoDirError(f"{path} is damaged; start afresh with `gridfree demo --out {folder}`") from None
        if not (0.0 <= c.soc <= 1.0 and c.elapsed_s >= 0.0):
            raise DemoDirError(f"{path} is damaged; start afresh with `gridfree demo --out {folder}`")
        return c


def prepare(folder: Path, resume: bool) -> Continuation | None:
    """Make `folder` ready for a run; returns where to continue from when resuming."""
    if folder.exists() and not folder.is_dir():
        raise DemoDirError(f"--out {folder} is a file, not a folder")
    ours = (folder / MARKER).exists()
    if folder.exists() and any(folder.iterdir()) and not ours:
        raise DemoDirError(f"--out {folder} already holds files gridfree demo did not write; choose another --out")
    if resume:
        if not ours:
            raise DemoDirError(f"{folder} has no run to resume; start one with `gridfree demo --out {folder}`")
        continuation = Continuation.load(folder)
        if not (folder / "run" / "state").is_dir():
            raise DemoDirError(f"{folder} has no node state to resume; start afresh with `gridfree demo --out {folder}`")
        return continuation
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by gridfree demo: each run moves the previous one to previous/\n")
    left = [name for name in OUTPUTS if (folder / name).exists()]
    if left:
        previous = folder / PREVIOUS
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for name in left:
            (folder / name).rename(previous / name)
    return None
