"""A message strip above the frame: non-blocking, unlike a modal box, and readable.

Messages have a topic ("source", "model", ...): a new message replaces its topic's old
one, and a later success clears just its topic, so a camera error is not hidden by a model
warning that arrives a moment later."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

STYLES = {  # (background, text, border)
    "error": ("#fde8e8", "#8a1c1c", "#f5b5b5"),
    "warning": ("#fff4d6", "#6b4e00", "#f0d68a"),
    "info": ("#e6f0ff", "#143d80", "#b5cdf5"),
}
SEVERITY = {"info": 0, "warning": 1, "error": 2}


class MessageBanner(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.messages: dict[str, tuple[str, str]] = {}  # topic -> (text, level), oldest first
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._expire_info)
        self.hide()

    @property
    def level(self) -> str:
        if not self.messages:
            return "info"
        return max((lvl for _, lvl in self.messages.values()), key=SEVERITY.__getitem__)

    def show_message(self, text: str, level: str = "error", topic: str = "general") -> None:
        self.messages.pop(topic, None)
        self.messages[topic] = (text, level)
        if level == "info":
            self._timer.start(6000)  # information goes away by itself; problems stay
        self._refresh()

    def clear_topic(self, topic: str) -> None:
        if self.messages.pop(topic, None) is not None:
            self._refresh()

    def clear(self) -> None:
        self.messages.clear()
        self._refresh()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def _expire_info(self) -> None:
        self.messages = {k: v for k, v in self.messages.items() if v[1] != "info"}
        self._refresh()

    def _refresh(self) -> None:
        if not self.messages:
            self.hide()
            return
        bg, fg, border = STYLES[self.level]
        self.setStyleSheet(f"#messageBanner {{background:{bg}; border:1px solid {border}; border-radius:4px;}}"
                           f" #messageBanner QLabel, #messageBanner QToolButton {{color:{fg}; background:transparent;"
                           " border:none;}")
        self.label.setText("\n".join(text for text, _ in self.messages.values()))
        self.show()
