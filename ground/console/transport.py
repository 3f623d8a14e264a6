"""The transport bar of a replay: play and pause, single frames, speed, and where in the log we are.

It drives a source's `ReplayControl` (a `ReplayClient`, ground/archive/replay.py) and reads its
state back on the console's tick; on a source without one (a live link) it hides and does nothing: the slider spans the log's first to last receive time and follows the replay unless the
operator holds it; it seeks when released (or clicked beside the handle), never while dragged,
since every seek restarts the display. Seeking is the window's business (it clears what the
display showed before the jump), so the bar only asks for it with `seekRequested`.
"""
from __future__ import annotations

import math
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractSlider, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from gridfree.ground.link.source import ReplayControl, TelemetrySource
from gridfree.ground.link.utc import stamp

#: Positions the slider can take across the log, whatever its length.
SLIDER_STEPS = 10_000
SPEEDS = {"1×": 1.0, "10×": 10.0, "100×": 100.0, "max": math.inf}


def speed_text(speed: float) -> str:
    return "max" if math.isinf(speed) else f"{speed:g}×"


class TransportBar(QWidget):
    seekRequested = Signal(float)  # receive time (unix s) to continue from

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("transportBar")
        # The replay's orange, faint: this bar is only ever seen on a replay.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#transportBar { background: #fdebd3; border-bottom: 1px solid #e37400; }")
        self.replay: ReplayControl | None = None
        self.span: tuple[float, float] | None = None
        self.play_button = QPushButton("Pause")
        self.play_button.setObjectName("replayPlay")
        self.play_button.setToolTip("Play or pause the replay (Space)")
        self.play_button.setMinimumWidth(self.play_button.fontMetrics().horizontalAdvance("From the start") + 24)
        self.play_button.clicked.connect(self.toggle)
        self.step_button = QPushButton("Step")
        self.step_button.setObjectName("replayStep")
        self.step_button.setToolTip("Replay one more frame while paused (.)")
        self.step_button.clicked.connect(self.step)
        self.speed = QComboBox()
        self.speed.setObjectName("replaySpeed")
        self.speed.setToolTip("Replay speed against the receive times in the log")
        for text, value in SPEEDS.items():
            self.speed.addItem(text, value)
        self.speed.activated.connect(lambda _: self.set_speed(self.speed.currentData()))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("replaySlider")
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setPageStep(SLIDER_STEPS // 20)
        self.slider.setToolTip("Receive time in the log; release to continue from there")
        self.slider.sliderReleased.connect(lambda: self.seek(self.time_at(self.slider.value())))
        self.slider.actionTriggered.connect(self._slider_action)
        self.position = QLabel("—")
        self.position.setObjectName("replayPosition")
        self.position.setToolTip("Receive time (UTC) of the last frame replayed")
        self.position.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        widest = "received 2026-01-01T00:00:00.000Z · end of log"
        self.position.setMinimumWidth(self.position.fontMetrics().horizontalAdvance(widest) + 8)
        self.ends = QLabel("")
        self.ends.setStyleSheet("color: #555;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(QLabel("Replay"))
        layout.addWidget(self.play_button)
        layout.addWidget(self.step_button)
        layout.addWidget(self.speed)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.ends)

    # ---- which replay ----------------------------------------------------------------------------
    def set_client(self, client: TelemetrySource) -> None:
        replay = self.replay = client.replay
        self.setVisible(replay is not None)
        if replay is None:
            return
        self.span = replay.span()
        self.slider.setEnabled(self.span is not None and self.span[1] > self.span[0])
        self.ends.setText("" if self.span is None else
                          f"log received {stamp(self.span[0])[11:19]} to {stamp(self.span[1])[11:19]} UTC")
        speed = replay.speed
        i = self.speed.findData(speed)
        if i < 0:
            self.speed.addItem(speed_text(speed), speed)
            i = self.speed.count() - 1
        self.speed.setCurrentIndex(i)
        self.refresh()

    # ---- slider <-> time ---------------------------------------------------------------------------
    def time_at(self, value: int) -> float:
        first, last = self.span or (0.0, 0.0)
        return first + (last - first) * value / SLIDER_STEPS

    def value_at(self, t: float) -> int:
        first, last = self.span or (0.0, 0.0)
        if last <= first:
            return 0
        return round(min(max((t - first) / (last - first), 0.0), 1.0) * SLIDER_STEPS)

    def _slider_action(self, action: int) -> None:
        # A click beside the handle or a key moves the slider in steps: seek at once. A drag
        # (SliderMove) seeks on release instead.
        if action != QAbstractSlider.SliderAction.SliderMove.value:
            self.seek(self.time_at(self.slider.sliderPosition()))

    # ---- controls -------------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.replay is not None and self.replay.paused

    @property
    def at_end(self) -> bool:
        r = self.replay
        return r is not None and r.finished.is_set() and r.position is not None

    def toggle(self) -> None:
        """Pause or play; at the end of the log, play it again from the start."""
        r = self.replay
        if r is None:
            return
        if self.at_end and not self.paused and self.span is not None:
            self.seek(self.span[0])
        elif self.paused:
            r.resume()
        else:
            r.pause()
        self.refresh()

    def step(self) -> None:
        if self.replay is not None and self.paused:
            self.replay.step(1)

    def set_speed(self, speed: float) -> None:
        if self.replay is not None:
            self.replay.set_speed(speed)
            i = self.speed.findData(speed)
            if i >= 0:
                self.speed.setCurrentIndex(i)

    def seek(self, t: float) -> None:
        if self.replay is not None:
            self.slider.setValue(self.value_at(t))
            self.seekRequested.emit(t)

    # ---- on the console's tick ---------------------------------------------------------------------------
    def refresh(self) -> None:
        r = self.replay
        if r is None:
            return
        paused = self.paused
        self.play_button.setText("Play" if paused else "From the start" if self.at_end else "Pause")
        self.step_button.setEnabled(paused)
        position = r.position
        finished = r.finished.is_set()
        if position is None:
            text = "not started" if not finished else "nothing in range"
        else:
            text = "received " + stamp(position) + (" · end of log" if finished else " · paused" if paused else "")
        self.position.setText(text)
        if position is not None and not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(self.value_at(position))
            self.slider.blockSignals(False)
