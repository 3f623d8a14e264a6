"""Recording what the ground receives: every frame, good or bad, with its receive time.

The recorder taps the ground client's decoder, so it sees frames exactly as the live decoding
path found them, including those whose FECF failed (an operator investigating a bad pass wants
those too). Records are made durable every `flush_interval_s`: that is the most a crash can lose,
and what `stats.acknowledged` counts has survived it.

The frames are recorded as received, SDLS fields and all; the link layout they were received
under (whether TM frames carry SDLS, their length, OCF, FECF) goes beside them in link.json
(linkfile.py), taken from the client the recorder is attached to, so a replay or an export of a
log recorded through an authenticated link finds its packets where they are.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

from gridfree.ground.archive import dictionaries, linkfile
from gridfree.ground.archive.layout import Record
from gridfree.ground.archive.segment import SegmentWriter
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.dictionary import Dictionary

FLAG_BAD_CRC = 1 << 0
FLAG_RESYNC = 1 << 1  # the decoder skipped bytes to find this frame's sync marker
ASM_OCTETS = 4


def link_config_of(client) -> LinkConfig | None:
    """The link layout a ground client (a `Downlink`: live or replay) decodes its frames with."""
    decoder = getattr(client, "decoder", None)
    frames = getattr(decoder, "frames", None)
    config = getattr(frames, "config", None)
    return config if isinstance(config, LinkConfig) else None


class Recorder:
    """`link_config` (or the client given to `attach`) says the layout the frames come in; a
    recorder told neither records the frames without one (the log reads as plain, the default)."""

    def __init__(self, directory: str | os.PathLike, dictionary: Dictionary, *, link_id: int = 0,
                 flush_interval_s: float = 0.25, clock: Callable[[], float] = time.time,
                 link_config: LinkConfig | None = None, **writer_options):
        dictionaries.store(directory, dictionary)
        self.writer = SegmentWriter(directory, dictionary.hash, clock=clock, **writer_options)
        self.directory = self.writer.directory
        self.link_config: LinkConfig | None = None
        self.link_id, self.flush_interval_s, self.clock = link_id, flush_interval_s, clock
        self._lock = threading.Lock()
        self._last_flush = clock()
        self._stop = threading.Event()
        # Frames may stop (loss of signal): what came before must still become durable on time.
        self._flusher = threading.Thread(target=self._flush_idle, name="archive-flush", daemon=True)
        self._flusher.start()
        if link_config is not None:
            self._keep_layout(link_config)

    def _flush_idle(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            with self._lock:
                if self.writer.stats.appended != self.writer.stats.acknowledged:
                    self.writer.flush()
                    self._last_flush = self.clock()

    @property
    def stats(self):
        return self.writer.stats

    def _keep_layout(self, config: LinkConfig) -> None:
        """Store the layout beside the log (under the writer's lock); LinkLayoutMismatch, with the
        recorder closed, if the directory holds frames of another layout."""
        try:
            linkfile.store(self.directory, config)
        except OSError:
            self.close()
            raise
        self.link_config = config

    def attach(self, client) -> "Recorder":
        config = link_config_of(client)
        if config is not None and config != self.link_config:
            self._keep_layout(config)
        client.tap_frames(self.frames)
        return self

    def frames(self, buf: bytes, frames) -> None:
        """A GroundClient frame tap: append each frame found in `buf`."""
        t_rx = self.clock()
        n, expected = frames.frame_len, ASM_OCTETS
        with self._lock:
            for off, ok in zip(frames.offset.tolist(), frames.fecf_ok.tolist()):
                flags = (0 if ok else FLAG_BAD_CRC) | (FLAG_RESYNC if off != expected else 0)
                self.writer.append(Record(t_rx, self.link_id, flags, bytes(buf[off:off + n])))
                expected = off + n + ASM_OCTETS
            if t_rx - self._last_flush >= self.flush_interval_s:
                self.writer.flush()
                self._last_flush = t_rx

    def flush(self) -> int:
        with self._lock:
            self._last_flush = self.clock()
            return self.writer.flush()

    def close(self) -> None:
        self._stop.set()
        self._flusher.join()
        with self._lock:
            self.writer.close()
