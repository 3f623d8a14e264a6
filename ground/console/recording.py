"""Recording the live link from the console: the archive's `Recorder`, switched on and off.

A client keeps its frame taps for as long as it lives (there is no way to remove one), so the
console taps a client once and forwards frames to whichever recorder is running, if any. The
lock makes stopping exact: once `stop` has taken the recorder away no frame reaches it, and the
last frame before that was written whole before it is closed.
"""
from __future__ import annotations

import os
import threading
from typing import Any

from gridfree.ground.archive.recorder import Recorder, link_config_of
from gridfree.ground.link.source import TelemetrySource


class RecordingTap:
    def __init__(self, client: TelemetrySource):
        self.client = client
        self.recorder: Recorder | None = None
        self.directory: str | None = None
        self._lock = threading.Lock()
        client.tap_frames(self._frames)

    def _frames(self, buf: bytes, frames: Any) -> None:
        """The client's reader thread: hand the frames on while recording, nothing otherwise."""
        with self._lock:
            if self.recorder is not None:
                self.recorder.frames(buf, frames)

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def start(self, directory: str | os.PathLike) -> Recorder:
        """Record every frame received from now into `directory` (OSError if it cannot)."""
        if self.recorder is not None:
            raise RuntimeError(f"already recording into {self.directory}")
        recorder = Recorder(directory, self.client.dictionary, link_config=link_config_of(self.client))
        with self._lock:
            self.recorder, self.directory = recorder, str(directory)
        return recorder

    def stop(self) -> Recorder | None:
        """Stop and close the recorder (everything it was given is durable); returns it."""
        with self._lock:
            recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()
        return recorder

    def frames(self) -> int:
        """Frames recorded so far by the running recorder (0 when not recording)."""
        r = self.recorder
        return r.stats.appended if r is not None else 0
