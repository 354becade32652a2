"""The selected sample: the face large (as the model sees it), the original image where there
is one, every class's probability, FER+'s votes where the data has them, its id, path and
scores, and one button per label (the keys 1-8, 0 and X do the same)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from fer_desktop._qt.annotate import to_qimage
from fer_desktop._qt.latest_only import NOT_CACHED, LatestOnlyReader
from fer_desktop._qt.prob_bars import add_class_bars, remove_class_bars
from fer_desktop.colors import class_color, text_color_on
from fer_desktop.review import NONE, ReviewSession
from trainer.data.every_face import FaceSource
from trainer.data.relabel import EXCLUDED

FACE = 200  # px
ORIGINAL = 220  # px, the longest side
READING_AFTER_MS = 150  # a quicker read shows no "reading…" flash
MAX_COPIES_LISTED = 4  # FER-2013's largest groups of copies run to dozens


def _likeness(likeness: tuple[float, bool] | None) -> str:
    """How a copy is listed: exact, or how alike a near copy is (1 = the same pixels) and
    whether it is mirrored."""
    if likeness is None:
        return ", exact"
    alike, mirrored = likeness
    # rounded down: a near copy never reads "1.00", the same pixels
    return f", {'mirrored' if mirrored else 'near'}: {np.floor(alike * 100) / 100:.2f} alike"


def read_original(key: tuple[str, tuple[float, ...] | None, int | None]) -> tuple[QImage, int, int] | None:
    """For the reader thread: an image file (a video's frame) with ``box`` (x, y, w, h) drawn
    on it, scaled to the panel, and its full width and height; None when unreadable."""
    import cv2

    from trainer.faces.io import ImageReadError, read_image, read_video_frame

    path, box, frame = key
    try:  # any path, non-ASCII ones too
        image = read_image(path) if frame is None else read_video_frame(path, frame)
    except ImageReadError:
        return None
    if box is not None:  # a line that stays visible once the photo is scaled into the panel
        x, y, w, h = (int(round(v)) for v in box)
        thick = max(2, round(max(image.shape[:2]) / ORIGINAL * 2))
        cv2.rectangle(image, (x, y), (x + w, y + h), (0, 200, 255), thick)
    height, width = image.shape[:2]
    shown = to_qimage(image).scaled(ORIGINAL - 4, ORIGINAL - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                    Qt.TransformationMode.SmoothTransformation)
    return shown, width, height


def _image_label(parent: QWidget, size: int) -> QLabel:
    label = QLabel(parent)
    label.setFixedSize(size, size)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("background: palette(base); border: 1px solid palette(mid);")
    return label


class DetailView(QWidget):
    stateRequested = Signal(object)  # a class name, None (withdraw) or EXCLUDED
    suggestedRequested = Signal()  # label as suggested (Enter)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: ReviewSession | None = None
        self.sample = -1
        # Photos and video frames are read off the GUI thread (a frame deep in a long video
        # takes a while to seek); the panel shows the one wanted when it arrives.
        self.originals = LatestOnlyReader(read_original, parent=self)
        self.originals.ready.connect(self._original_read)
        self.originals.failed.connect(self._original_failed)
        self._wanted: tuple = ()
        self._where = ("", "")  # the wanted original's kind and description, for its caption
        self.title = QLabel("No sample selected", self)
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.face = _image_label(self, FACE)
        self.face.setToolTip("The face as the model gets it (grey, aligned)")
        self.original = _image_label(self, ORIGINAL)
        self.original.setToolTip("The original image file")
        self.face_caption = QLabel("model input", self)
        self.original_caption = QLabel("original", self)
        for caption, width in ((self.face_caption, FACE), (self.original_caption, ORIGINAL)):
            caption.setWordWrap(True)  # a long "clip.mp4, frame 25, face 2 of 3, track 4" must not widen the panel
            caption.setMaximumWidth(width)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        pics = QGridLayout()
        pics.addWidget(self.face, 0, 0)
        pics.addWidget(self.original, 0, 1)
        pics.addWidget(self.face_caption, 1, 0)  # the column's width, the text centred in it
        pics.addWidget(self.original_caption, 1, 1)
        pics.setColumnStretch(2, 1)

        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(self.palette().color(self.backgroundRole()))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.getViewBox().invertY(True)
        self.plot.setMinimumHeight(170)
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.plot.getAxis("bottom").setTicks([[(v, f"{v:.0%}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]])
        fg = self.palette().color(self.foregroundRole())
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setTextPen(fg)
            self.plot.getAxis(name).setPen(fg)
        self.bars: pg.BarGraphItem | None = None
        self.texts: list[pg.TextItem] = []
        self.votes = QLabel(self)
        self.votes.setWordWrap(True)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.buttons_box = QGridLayout()
        self.buttons: dict[object, QPushButton] = {}
        self.suggested_button: QPushButton | None = None  # "as suggested": a change, not a state
        self.applies_to = QLabel(self)  # the buttons change every selected face: say so
        self.applies_to.setStyleSheet("color: #0b68cb; font-weight: bold;")
        self.applies_to.setWordWrap(True)
        self.applies_to.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.title)
        lay.addLayout(pics)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.votes)
        lay.addWidget(self.applies_to)
        lay.addLayout(self.buttons_box)
        lay.addWidget(self.info)

    # ------------------------------------------------------------------ setup

    def set_session(self, session: ReviewSession | None) -> None:
        self.session = session
        self.sample = -1
        self._build_buttons()
        self._build_bars()
        self.show_sample(-1)

    def _build_buttons(self) -> None:
        for button in self._all_buttons():
            self.buttons_box.removeWidget(button)
            button.deleteLater()
        self.buttons, self.suggested_button = {}, None
        if self.session is None:
            return
        entries = [(f"{k + 1}  {c}", c, class_color(c, k)) for k, c in enumerate(self.session.classes)]
        entries += [("0  as given", None, "#9ba1a6"), ("X  not a face", EXCLUDED, "#e5484d")]
        columns = 4
        for n, (text, state, color) in enumerate(entries):
            button = self._button(text, color)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, s=state: self.stateRequested.emit(s))
            self.buttons_box.addWidget(button, n // columns, n % columns)
            self.buttons[state] = button
        if self.session.has_predictions:
            self.suggested_button = self._button("⏎  as suggested", "#0090ff")
            self.suggested_button.setToolTip("Take the suggested class: the model's, or one learnt from your labels "
                                             "(Ctrl+L) (Enter)")
            self.suggested_button.clicked.connect(lambda _=False: self.suggestedRequested.emit())
            n = len(entries)
            self.buttons_box.addWidget(self.suggested_button, n // columns, n % columns)

    def _all_buttons(self) -> list[QPushButton]:
        return [*self.buttons.values(), *([self.suggested_button] if self.suggested_button else [])]

    def _button(self, text: str, color: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setStyleSheet(f"QPushButton {{ text-align: left; padding: 3px 6px; border-left: 5px solid {color}; }}"
                             "QPushButton:checked { font-weight: bold; }")
        return button

    def _build_bars(self) -> None:
        remove_class_bars(self.plot, self.bars, self.texts)
        self.bars, self.texts = None, []
        if self.session is None:
            return
        # Room for "87%  ◀ given".
        self.bars, self.texts = add_class_bars(self.plot, self.session.classes,
                                               self.palette().color(self.foregroundRole()), x_max=1.45)

    def set_selection_count(self, n: int) -> None:
        """With several faces selected, the buttons (and keys) change all of them."""
        self.applies_to.setText(f"The buttons change all {n:,} selected faces (this one is the last clicked)")
        self.applies_to.setVisible(n > 1)

    # ------------------------------------------------------------------ one sample

    def show_sample(self, i: int) -> None:
        self.sample = i
        s = self.session
        if s is None or i < 0:
            self.title.setText("No sample selected" if s is not None else "Open a dataset to review it")
            self.face.clear()
            self.original.clear()
            self.info.setText("")
            self.votes.setText("")
            for button in self._all_buttons():
                button.setEnabled(False)
            return
        for button in self.buttons.values():
            button.setEnabled(True)
        if self.suggested_button is not None:
            self.suggested_button.setEnabled(bool(s.suggested[i] != NONE))
        state = s.state_of(i)
        for key, button in self.buttons.items():
            button.setChecked(key == state)
        self._show_title(s, i, state)
        face = QPixmap.fromImage(to_qimage(s.samples.images[i]))
        self.face.setPixmap(face.scaled(FACE - 4, FACE - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
        self._show_original(s.paths[i], s.origins[i])
        self._show_method(s, i)
        self._show_bars(s, i, state)
        self._show_votes(s, i)
        self._show_info(s, i)

    def _show_title(self, s: ReviewSession, i: int, state: str | None) -> None:
        given = s.given_name(i)
        if state == EXCLUDED:
            text = f"{given}  ▸  excluded (not a face)"
        elif state == given:
            text = f"labelled {given}  ✓  checked"
        elif state is not None:
            text = f"labelled {state} here" if s.given[i] < 0 else f"{given}  ▸  relabelled {state}"
        else:
            text = "not labelled yet" if s.given[i] < 0 else f"labelled {given}"
        if s.predicted[i] != NONE:
            text += f"  ·  predicted {s.classes[s.predicted[i]]} {s.confidence[i]:.0%}"
        if s.suggested[i] != s.predicted[i]:
            text += f"  ·  suggested {s.classes[s.suggested[i]]}"
        self.title.setText(text)
        now = state if state not in (None, EXCLUDED) else given
        color = QColor(class_color(now))
        # A light class colour (happy's yellow, neutral's grey) is darkened to read on the panel.
        color = color.darker(180 if text_color_on(color.name()) == "#000000" else 120)
        self.title.setStyleSheet(f"color: {color.name()};")

    def _show_method(self, s: ReviewSession, i: int) -> None:
        """Under the face: how the model's crop was made (aligned, re-aligned crop, used as is)."""
        from trainer.faces.prepare import METHOD_TITLES

        method = s.method_of(i)
        title = METHOD_TITLES.get(method, method) if method else "the image as it is"
        self.face_caption.setText(f"model input: {title}")
        self.face.setToolTip(f"The face as the model gets it (grey): {title}")

    def _show_original(self, path: str | None, origin: FaceSource | None) -> None:
        """The image file; for a face of a group photo or a video, the photo or frame with the
        face boxed."""
        cut = origin is not None  # a face of every face: its photo or video frame, not the crop's file
        shown = origin.image if cut else path
        visible = shown is not None
        self.original.setVisible(visible)
        self.original_caption.setVisible(visible)
        if not visible:
            return
        key = (shown, origin.box, origin.frame) if cut else (shown, None, None)
        kind = "original" if not cut else "frame" if origin.frame is not None else "photo"
        self._wanted, self._where = key, (kind, f": {origin.describe()}" if cut else "")
        result = self.originals.cached(key)
        if result is NOT_CACHED:
            self.original.clear()  # says "reading…" only if it takes long enough to notice
            QTimer.singleShot(READING_AFTER_MS, lambda: self._say_reading(key))
            self.original_caption.setText(f"{kind}{self._where[1]}")
            self.originals.request(key)
        else:
            self._original_read(key, result)

    def _say_reading(self, key: tuple) -> None:
        if key == self._wanted and self.originals.cached(key) is NOT_CACHED:
            self.original.setText("reading…")

    def _original_read(self, key: tuple, result: tuple[QImage, int, int] | None) -> None:
        if key != self._wanted:  # the user has moved on
            return
        if result is None:
            self.original.setText("cannot read\nthe original")
            return
        shown, width, height = result
        kind, where = self._where
        self.original.setPixmap(QPixmap.fromImage(shown))
        self.original_caption.setText(f"{kind} {width}×{height}{where}")

    def _original_failed(self, key: tuple, exc: BaseException) -> None:
        """Not the user's file: a bug, reported with its traceback."""
        from fer_desktop._qt.errors import report_exception

        if key == self._wanted:
            self.original.setText("could not show\nthe original")
        report_exception(exc, "showing the original image")

    def _show_bars(self, s: ReviewSession, i: int, state: str | None) -> None:
        if self.bars is None:
            return
        probs = s.probs[i] if s.has_predictions else np.zeros(len(s.classes), np.float32)
        self.bars.setOpts(width=probs)
        for k, (t, p) in enumerate(zip(self.texts, probs)):
            marks = []
            if k == s.given[i]:
                marks.append("◀ given")
            if state not in (None, EXCLUDED) and s.classes[k] == state:
                marks.append("◀ now")
            t.setText(f"{p:.0%}" + ("  " + " ".join(marks) if marks else "") if s.has_predictions else " ".join(marks))
            t.setPos(float(p) + 0.01, k)

    def _show_votes(self, s: ReviewSession, i: int) -> None:
        if s.votes is None:
            self.votes.setVisible(False)
            return
        counts = s.votes[i]
        pairs = sorted(((int(v), n) for v, n in zip(counts, s.vote_names) if v > 0), reverse=True)
        self.votes.setVisible(True)
        self.votes.setText("FER+ votes (10 taggers): " + (", ".join(f"{n} {v}" for v, n in pairs) or "none"))

    def _show_info(self, s: ReviewSession, i: int) -> None:
        lines = [f"<b>id</b> {s.ids[i]}"]
        if s.paths[i]:
            lines.append(f"<b>file</b> {s.paths[i]}")
        if s.origins[i] is not None:
            lines.append(f"<b>from</b> {s.origins[i].describe()} ({s.origins[i].image})")
        change = s.last_change(i)
        if change:
            lines.append(f"<b>last change</b> {change}")
        theirs = s.their_judgement(i)
        if theirs:
            lines.append(f"<b>compared journal</b> {theirs}")
        if s.splits[i]:
            lines.append(f"<b>split</b> {s.splits[i]}")
        if not np.isnan(s.scores[i]):
            flag = " — <b>flagged</b> as a likely label error" if s.flagged[i] else ""
            how = "out of fold: the model trained on it" if s.out_of_sample[i] else "the model's own probabilities"
            lines.append(f"<b>label-issue score</b> {s.scores[i]:.3f} (0 = surely wrong, 1 = surely right; "
                         f"{how}){flag}")
        if s.doubts is not None:
            reasons = s.doubts.reasons(i)
            lines.append(f"<b>not a face?</b> {', '.join(reasons) + '; ' if reasons else ''}unusual "
                         f"{s.doubts.unusual[i]:.2f} (0–1: how unlike this dataset's other faces the model sees it)")
        copies = s.copies_of(i)
        if len(copies):
            labels = s.labels()
            shown = ", ".join(f"{s.ids[k]} ({s.classes[labels[k]] if labels[k] >= 0 else s.state_of(k) or 'unlabelled'}"
                              f"{_likeness(s.copy_likeness(i, k))})" for k in copies[:MAX_COPIES_LISTED])
            more = f" and {len(copies) - MAX_COPIES_LISTED} more" if len(copies) > MAX_COPIES_LISTED else ""
            lines.append(f"<b>copies</b> {shown}{more} (Ctrl+D shows them)")
        if not np.isnan(s.ambiguity[i]):
            lines.append(f"<b>ambiguity</b> {s.ambiguity[i]:.2f} (entropy of the prediction, 0–1)")
        self.info.setText("<br>".join(lines))
