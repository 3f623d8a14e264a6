"""The main window's logs: recording the live link, and replaying a recorded log in its place.

Record (Ctrl+R) writes every frame received from the live link into an archive directory (REC
and the frame count in the status bar); File > Open log… (Ctrl+O) replays one in the same
window, through the same decoding path, and a seek restarts the display at the new position.
What the window shows comes from its source's capabilities: a source with `replay` controls is
a replay, one without is the live link.
"""
from __future__ import annotations

import os
from typing import Callable

from PySide6.QtWidgets import QFileDialog, QWidget

from gridfree.ground.console.recording import RecordingTap
from gridfree.ground.console.style import BADGE
from gridfree.ground.link.source import ReplayControl

#: Asks the operator for a directory: (parent, caption) -> path, or None when cancelled. Tests
#: inject their own, as they inject the confirmation of hazardous commands.
ChooseDirectory = Callable[[QWidget, str], "str | os.PathLike | None"]


def replay_clock(replay: ReplayControl) -> Callable[[], float]:
    """Receive time of the frame a replay has reached (before the first, where the log begins)."""
    span = replay.span()
    start = span[0] if span is not None else 0.0

    def now() -> float:
        position = replay.position
        return start if position is None else position
    return now


def ask_directory(parent: QWidget, caption: str) -> str | None:
    return QFileDialog.getExistingDirectory(parent, caption) or None


class LogActions:
    """Record and replay, mixed into `MainWindow` (which owns the client, status bar and actions)."""

    @property
    def recording(self) -> bool:
        """Whether the live link is being recorded (also while this window shows a replay)."""
        return self._tap is not None and self._tap.recording

    @property
    def recorded_frames(self) -> int:
        return self._tap.frames() if self._tap is not None else 0

    def set_recording(self, on: bool) -> bool:
        """Start recording the live link into a directory the operator picks, or stop; returns
        whether it is recording now."""
        if bool(on) == self.recording:
            self.record_action.setChecked(self.recording)
            return self.recording
        if on:
            if self.replaying:
                self.statusBar().showMessage("A replay is not recorded again: record the live link.", 10_000)
            else:
                directory = self.choose_directory(self, "Record the downlink into a directory")
                if directory:
                    if self._tap is None or self._tap.client is not self.client:
                        self._tap = RecordingTap(self.client)
                    try:
                        self._tap.start(directory)
                        self.statusBar().showMessage(f"Recording into {directory}", 10_000)
                    except OSError as exc:
                        self.statusBar().showMessage(f"Cannot record into {directory}: {exc}", 15_000)
        else:
            directory, rec = self._tap.directory, self._tap.stop()
            self.statusBar().showMessage(f"Recorded {rec.stats.acknowledged} frames in {directory}", 15_000)
        self._sync_actions()
        self._rec_badge()
        return self.recording

    def _rec_badge(self) -> None:
        on = self.recording
        self.rec_label.setVisible(on)
        if on:
            tap = self._tap
            self.rec_label.setText(f"REC {tap.frames()} frames")
            self.rec_label.setToolTip(f"Recording every frame received from the live link into {tap.directory} "
                                      "(Ctrl+R stops)")
            self.rec_label.setStyleSheet(BADGE.format(bg="#b3261e"))

    def open_log(self, directory: str | os.PathLike | None = None, speed: float = 1.0) -> bool:
        """Replay a recorded log in this window (the operator picks it when `directory` is None);
        False, with the reason in the status bar, if it cannot be opened."""
        if directory is None:
            directory = self.choose_log(self, "Open a recorded log (an archive directory)")
            if not directory:
                return False
        from gridfree.ground.archive.dictionaries import DictionaryMissing
        from gridfree.ground.archive.replay import ReplayClient, ReplayError

        try:
            try:  # the log's own dictionary; ours only if it is missing (the note then says so)
                client = ReplayClient(directory, None, speed=speed)
            except DictionaryMissing:
                client = ReplayClient(directory, self.client.dictionary, speed=speed)
        except (ReplayError, DictionaryMissing, OSError) as exc:
            self.statusBar().showMessage(f"Cannot open {directory}: {exc}", 15_000)
            return False
        self.switch_to(client, owned=True)
        client.connect()
        return True

    def return_to_live(self) -> None:
        if self.live_client is not None:
            self.switch_to(self.live_client)

    def seek(self, t: float) -> None:
        """Continue the replay from receive time `t`, on a display cleared of what it showed; while
        paused, one frame is let through to show where it landed."""
        c = self.client
        r = c.replay
        if r is None:
            return
        keep = self._detach()
        r.seek(t)
        self._attach(c, keep)
        if r.paused:  # after the new display subscribed: a frame let through before it would be lost
            r.step(1)
