"""Replaying a log through exactly the decoding path a live link uses.

`ReplayClient` is a `TelemetrySource` whose bytes come from the archive instead of a link: each
recorded frame is handed to the same sans-IO decoder and subscribers a live `GroundClient` uses
(both are a `Downlink`), with its sync marker restored, so the console and scripts see the same
samples, events and statistics as they did live (bad frames count as bad again). It cannot
command (`can_command` is False) and offers itself as the `replay` control. Pacing follows the
receive times: `speed` 1 is real time, 10 or 100 faster, `math.inf` as fast as the decoder goes.
Pause, seek and single steps act between frames.

The frames are read in the layout they were recorded under (link.json beside the log): a log
recorded through an authenticated link has SDLS fields in its TM frames. Given the TM SA (`tm_sa`,
from the ground's key directory) every frame's MAC is checked again as it was live, and an
injected frame the log holds is dropped again; without it the fields are stripped and the frames
counted as unchecked. A seek starts the SA's anti-replay window afresh: frames played a second
time are the log's, not a replay attack.
"""
from __future__ import annotations

import math
import os
import threading
import time

from gridfree.ground.archive import dictionaries, linkfile
from gridfree.ground.archive.bulk import fresh
from gridfree.ground.archive.reader import open_archive
from gridfree.ground.link.downlink import Downlink
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.sdls import SecurityAssociation

ASM = bytes.fromhex("1ACFFC1D")


class ReplayError(RuntimeError):
    """A log that cannot be replayed, or something a replay cannot do (send a command)."""


def parse_speed(text: str) -> float:
    """A replay speed as an operator writes it: 1, 10x, 100 ... or max (as fast as it decodes)."""
    if text in ("max", "inf"):
        return math.inf
    try:
        speed = float(text.rstrip("x"))
    except ValueError:
        speed = -1.0
    if not speed > 0:
        raise ValueError(f"speed {text!r}: a positive factor (1, 10, 100) or max")
    return speed


class ReplayClient(Downlink):
    """A recorded log as a `TelemetrySource`, and its own `ReplayControl`."""

    can_command = False

    def __init__(self, directory: str | os.PathLike, dictionary: Dictionary | None = None, *, speed: float = 1.0,
                 t_from: float | None = None, t_to: float | None = None, link_config: LinkConfig | None = None,
                 tm_sa: SecurityAssociation | None = None):
        self.archive = open_archive(directory)
        if not self.archive.segments:
            raise ReplayError(f"{directory}: no readable segments" +
                              "".join(f"\n  {e}" for e in self.archive.errors))
        log_hashes = list(dict.fromkeys(s.dictionary_hash for s in self.archive.segments))
        used, note = dictionaries.resolve(directory, log_hashes[0], dictionary)
        if len(log_hashes) > 1:
            note = (note + "; " if note else "") + (f"the log spans {len(log_hashes)} dictionaries; decoding all "
                                                    f"of it with the first ({log_hashes[0]})")
        if link_config is None:
            try:
                link_config = linkfile.load_or_default(directory)
            except linkfile.LinkLayoutError as exc:
                raise ReplayError(str(exc)) from None
        if tm_sa is not None and not link_config.sdls:
            raise ReplayError(f"{directory}: its TM frames were recorded without SDLS: there is no MAC to check "
                              f"with the key directory's TM SA")
        super().__init__(f"replay:{directory}", used, link_config)
        self.tm_sa = tm_sa
        if tm_sa is not None:
            self.authenticate_tm(fresh(tm_sa))
        self.dictionary_note = note
        self.hash_mismatch = bool(note) if dictionary is not None else None
        self.speed, self.t_from, self.t_to = speed, t_from, t_to
        self.position: float | None = None  # receive time of the last frame replayed
        self.frames_replayed = 0
        self.finished = threading.Event()
        self.holding = threading.Event()  # set while paused with no steps left: nothing more goes out
        self._ctl = threading.Condition()
        self._paused = False
        self._steps = 0
        self._seek_to: float | None = None
        self._stopping = False
        self._anchor: tuple[float, float] | None = None  # (receive time, wall time) pacing counts from
        self._thread: threading.Thread | None = None

    # ---- the TelemetrySource surface -----------------------------------------------------------
    @property
    def replay(self) -> "ReplayClient":
        return self

    @property
    def connection(self) -> str:
        return "replaying a log"

    reader_errors = 0

    def connect(self) -> "ReplayClient":
        self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        with self._ctl:
            self._stopping = True
            self._ctl.notify_all()
        if self._thread is not None:
            self._thread.join()

    def send(self, name: str, **args) -> None:
        raise ReplayError(f"cannot send {name}: this is a replay of a recorded log, not a link")

    # ---- transport controls ------------------------------------------------------------------------
    def pause(self) -> None:
        with self._ctl:
            self._paused = True

    def resume(self) -> None:
        with self._ctl:
            self._paused, self._steps = False, 0
            self._ctl.notify_all()

    def step(self, frames: int = 1) -> None:
        """While paused, let `frames` more frames through."""
        with self._ctl:
            self._steps += frames
            self._ctl.notify_all()

    def seek(self, t: float) -> None:
        """Continue from the first frame received at or after `t` (forwards or backwards)."""
        with self._ctl:
            self._seek_to = t
            self._ctl.notify_all()

    def set_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"replay speed must be positive, got {speed}")
        with self._ctl:
            self.speed = speed
            self._anchor = None  # pace from here at the new speed
            self._ctl.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def span(self) -> tuple[float, float] | None:
        """First and last receive time this replay plays: the log's, narrowed by t_from/t_to."""
        segs = self.archive.segments
        firsts = [s.first_t_rx for s in segs if s.first_t_rx is not None]
        lasts = [s.t_max if s.t_max is not None else s.last_t_rx for s in segs if s.last_t_rx is not None]
        if not firsts or not lasts:
            return None
        first, last = min(firsts), max(lasts)
        if self.t_from is not None:
            first = max(first, self.t_from)
        if self.t_to is not None:
            last = min(last, self.t_to)
        return first, max(first, last)

    # ---- the replay thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        start = self.t_from
        while True:
            restart = self._play(start)
            if restart is None:
                break
            start = restart
        self.finished.set()

    def _play(self, start: float | None) -> float | None:
        """Replay from `start`; returns a time to restart from after a seek, or None at the end."""
        self._anchor = None
        if self.tm_sa is not None and self.frames_replayed:
            self.authenticate_tm(fresh(self.tm_sa))  # the log's IVs again, from wherever the seek landed
        for rec in self.archive.records(start, self.t_to):
            with self._ctl:
                while True:
                    if self._stopping:
                        return None
                    if self._seek_to is not None:
                        target, self._seek_to = self._seek_to, None
                        return target
                    if self._paused and self._steps == 0:
                        self.holding.set()
                        self._ctl.wait()
                        self.holding.clear()
                        self._anchor = None  # time does not run while paused
                        continue
                    if not self._paused and math.isfinite(self.speed) and self._anchor is not None:
                        due = self._anchor[1] + (rec.t_rx - self._anchor[0]) / self.speed
                        delay = due - time.monotonic()
                        if delay > 0:
                            self._ctl.wait(delay)
                            continue
                    break
                if self._paused:
                    self._steps -= 1
                if self._anchor is None:
                    self._anchor = (rec.t_rx, time.monotonic())
            self.data_received(ASM + rec.data)
            self.position = rec.t_rx
            with self._cond:  # whoever waits on the count (wait_until) hears it move
                self.frames_replayed += 1
                self._cond.notify_all()
        with self._ctl:  # at the end: wait for a seek back, or stop
            while not self._stopping and self._seek_to is None:
                self.finished.set()
                self._ctl.wait()
            if self._stopping:
                return None
            self.finished.clear()
            target, self._seek_to = self._seek_to, None
            return target
