"""Previous / play-pause / next and the seek slider under the frame."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget


class TransportBar(QWidget):
    seekRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self.prev_btn = QToolButton(self)
        self.play_btn = QToolButton(self)
        self.next_btn = QToolButton(self)
        self._icons = {
            "prev": style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward),
            "next": style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward),
            "play": style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
            "pause": style.standardIcon(QStyle.StandardPixmap.SP_MediaPause),
        }
        self.prev_btn.setIcon(self._icons["prev"])
        self.next_btn.setIcon(self._icons["next"])
        self.play_btn.setIcon(self._icons["play"])
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 0)
        self.label = QLabel("—", self)
        self.label.setMinimumWidth(110)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # Keyboard focus stays with the window, so Space and the arrows reach its shortcuts.
        for w in (self.prev_btn, self.play_btn, self.next_btn, self.slider):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        for w in (self.prev_btn, self.play_btn, self.next_btn):
            lay.addWidget(w)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        self.slider.sliderMoved.connect(self.seekRequested)
        self.slider.actionTriggered.connect(lambda _a: self.seekRequested.emit(self.slider.sliderPosition()))
        self.set_mode("none")

    def set_mode(self, kind: str, count: int = 0) -> None:
        """What the buttons mean: "video" (frames), "image" (files), "camera" or "none"."""
        self.kind = kind
        self.play_btn.setEnabled(kind == "video")
        self.prev_btn.setEnabled(kind in ("video", "image"))
        self.next_btn.setEnabled(kind in ("video", "image"))
        self.slider.setEnabled(kind == "video")
        self.slider.setRange(0, max(0, count - 1))
        noun = "file" if kind == "image" else "frame"
        self.prev_btn.setToolTip(f"Previous {noun} (PageUp, ←)")
        self.next_btn.setToolTip(f"Next {noun} (PageDown, →)")
        self.play_btn.setToolTip("Play / pause (Space)")
        self.label.setText({"camera": "live", "none": "—"}.get(kind, ""))

    def set_position(self, index: int, count: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setRange(0, max(0, count - 1))
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        noun = "image" if self.kind == "image" else "frame"
        self.label.setText(f"{noun} {index + 1} / {count}" if count else f"{noun} {index + 1}")

    def set_playing(self, playing: bool) -> None:
        self.play_btn.setIcon(self._icons["pause" if playing else "play"])
