"""The bar above the grid: which samples (label, prediction, right/wrong, relabelled, face found,
copies, split, flagged, text in the id; against a compared journal) and in which order; it shows the filter the
matrix or a caller set, too."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from fer_desktop.review import NONE, SORT_TITLES, SORTS, Compared, Filter, ReviewSession
from trainer.classes import UNLABELLED

_RESULT = (("right and wrong", None), ("wrong only", False), ("right only", True))
# What you did to a face: the combo's key -> Filter (relabelled, checked).
_CHANGES = (("edited or not", None), ("relabelled or excluded", "edited"), ("checked by you", "checked"),
            ("not checked yet", "unchecked"))
_CHANGE_FILTERS = {None: (None, None), "edited": (True, None), "checked": (None, True), "unchecked": (None, False)}
_FACES = (("face or not", None), ("face found", True), ("no face", False))
_COPIES = (("copies or not", None), ("copied", "any"), ("copies disagree", "disagree"),
           ("copy in another split", "split"))


class FilterBar(QWidget):
    filterChanged = Signal(object)  # Filter
    sortChanged = Signal(str, bool)  # sort key, reversed
    textDone = Signal()  # Enter in the text box: the grid takes the keys again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = Filter()
        self.label_box = self._combo("Label (the correction where there is one)")
        self.pred_box = self._combo("The model's prediction")
        self.result_box = self._combo("Prediction right or wrong against the label")
        self.changes_box = self._combo("What you did: relabelled or excluded; checked (relabelled, confirmed with "
                                       "its own class key, or excluded); not checked yet")
        self.split_box = self._combo("Dataset split")
        self.face_box = self._combo("Whether the face detector found a face (no face: a blank image, or the crop "
                                    "used as it is); Order ▸ likely not a face first ranks them")
        self.copies_box = self._combo("Faces with a copy in the dataset, exact or near (the same photo cropped, lit "
                                      "or encoded a little differently): any, a copy labelled otherwise, or a copy in "
                                      "another split (a test face the model may have trained on)")
        self.annotators_box = self._combo("Against the journal compared with yours (Review ▸ Compare With "
                                          "Journal): faces you both judged, differently or alike, or only they did")
        self.annotators_box.setVisible(False)
        self.flagged_box = QCheckBox("flagged only", self)
        self.flagged_box.setToolTip("Only samples cleanlab's find_label_issues flags as likely mislabelled")
        self.flagged_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.text_box = QLineEdit(self)
        self.text_box.setPlaceholderText("id contains…")
        self.text_box.setToolTip("Only samples whose id (file path) contains this text, any case; Enter or Esc "
                                 "gives the keys back to the grid")
        self.text_box.setClearButtonEnabled(True)
        self.text_box.setMaximumWidth(180)
        self.sort_box = self._combo("Order of the grid")
        for key in SORTS:
            self.sort_box.addItem(SORT_TITLES[key], key)
        self.reverse_box = QCheckBox("reversed", self)
        self.reverse_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear_button = QToolButton(self)
        self.clear_button.setText("Show all (Esc)")
        self.clear_button.setToolTip("Clear every filter")
        self.clear_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.count = QLabel(self)
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: bold;")
        for text, value in _RESULT:
            self.result_box.addItem(text, value)
        for text, value in _CHANGES:
            self.changes_box.addItem(text, value)
        # Three rows (labels; kinds of sample; order and text): a grid beside two docks leaves
        # ~700 px on a 1600-px screen.
        rows = ((QLabel("Label", self), self.label_box, QLabel("predicted", self), self.pred_box, self.result_box,
                 self.changes_box),
                (QLabel("Show", self), self.face_box, self.copies_box, self.annotators_box, self.split_box,
                 self.flagged_box),
                (QLabel("Order", self), self.sort_box, self.reverse_box, self.text_box, self.clear_button))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        for widgets in rows:
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            lay.addLayout(row)
        row.addWidget(self.title)  # the last row: what an explicit set is, and how many are shown
        row.addWidget(self.count)
        for box in (self.label_box, self.pred_box, self.result_box, self.changes_box, self.face_box, self.copies_box,
                    self.annotators_box, self.split_box):
            box.currentIndexChanged.connect(self._from_widgets)
        self.flagged_box.toggled.connect(self._from_widgets)
        self.text_box.textChanged.connect(self._from_widgets)
        self.text_box.returnPressed.connect(self.textDone)
        self.clear_button.clicked.connect(lambda: self.set_filter(Filter(), emit=True))
        self.sort_box.currentIndexChanged.connect(self._sort_changed)
        self.reverse_box.toggled.connect(self._sort_changed)

    def _combo(self, tip: str) -> QComboBox:
        box = QComboBox(self)
        box.setToolTip(tip)
        box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # digits and arrows stay with the grid
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        return box

    @property
    def sort(self) -> tuple[str, bool]:
        return self.sort_box.currentData(), self.reverse_box.isChecked()

    def set_sort(self, key: str, reverse: bool = False) -> None:
        """Show and apply an order (a key of SORTS)."""
        self.reverse_box.blockSignals(True)
        self.reverse_box.setChecked(reverse)
        self.reverse_box.blockSignals(False)
        index = self.sort_box.findData(key)
        if index < 0:
            raise ValueError(f"unknown order {key!r}; known: {', '.join(SORTS)}")
        if index == self.sort_box.currentIndex():
            self._sort_changed()
        else:
            self.sort_box.setCurrentIndex(index)

    def set_session(self, session: ReviewSession) -> None:
        boxes = (self.label_box, self.pred_box, self.split_box, self.face_box, self.copies_box)
        for box in boxes:
            box.blockSignals(True)
            box.clear()
        for box, anything in ((self.label_box, "any"), (self.pred_box, "any")):
            box.addItem(anything, None)
            for k, name in enumerate(session.classes):
                box.addItem(name, k)
        if (session.given < 0).any():  # images to label: the first thing to show them
            self.label_box.insertItem(1, UNLABELLED, NONE)
        self.split_box.addItem("all splits", None)
        for split in session.splits_present():
            self.split_box.addItem(split, split)
        self.split_box.setVisible(len(session.splits_present()) > 1)
        has_scores = session.issues is not None
        self.flagged_box.setVisible(has_scores)
        for text, value in _FACES:  # refilled, not renamed: a renamed item keeps the box's old width
            count = f" ({int(session.face_missing.sum()):,})" if value is False else ""
            self.face_box.addItem(text + count, value)
        self.face_box.setVisible(session.doubts is not None)
        for text, value in _COPIES:  # counts only where relabelling cannot change them
            count = f" ({int(session.copied(value).sum()):,})" if value in ("any", "split") else ""
            self.copies_box.addItem(text + count, value)
        self.copies_box.setVisible(bool(session.copied().any()))
        for box in boxes:
            box.blockSignals(False)
        self.set_other(session.other)
        self.set_filter(Filter(), emit=False)

    def set_other(self, other: Compared | None) -> None:
        """The compared journal's annotator, or team (None: none compared: the box hides)."""
        self.annotators_box.blockSignals(True)
        self.annotators_box.clear()
        if other is not None:
            name = other.name
            items = [("any annotator", None), (f"you and {name} disagree", "disagree"),
                     (f"you and {name} agree", "agree"), (f"only {name} judged", "theirs")]
            if other.team:
                items.append(("the team is split", "split"))
            for text, value in items:
                self.annotators_box.addItem(text, value)
        self.annotators_box.setVisible(other is not None)
        self.annotators_box.blockSignals(False)

    def set_filter(self, f: Filter, emit: bool = False) -> None:
        """Show ``f`` in the widgets (an explicit id set shows as a title)."""
        self.filter = f
        widgets = (self.label_box, self.pred_box, self.result_box, self.changes_box, self.face_box, self.copies_box,
                   self.annotators_box, self.split_box, self.flagged_box, self.text_box)
        for w in widgets:
            w.blockSignals(True)
        _select(self.label_box, f.label)
        _select(self.pred_box, f.predicted)
        _select(self.result_box, f.correct)
        _select(self.changes_box, next((k for k, v in _CHANGE_FILTERS.items() if v == (f.relabelled, f.checked)),
                                       None))
        _select(self.face_box, f.face)
        _select(self.copies_box, f.copies)
        _select(self.annotators_box, f.annotators)
        _select(self.split_box, f.split)
        self.flagged_box.setChecked(bool(f.flagged))
        if self.text_box.text() != f.text:
            self.text_box.setText(f.text)
        for w in widgets:
            w.blockSignals(False)
        self.title.setText(f.title if f.ids is not None else "")
        if emit:
            self.filterChanged.emit(f)

    def set_count(self, shown: int, total: int) -> None:
        self.count.setText(f"{shown:,} of {total:,}")

    def _from_widgets(self, *_) -> None:
        relabelled, checked = _CHANGE_FILTERS[self.changes_box.currentData()]
        self.filter = replace(self.filter, label=self.label_box.currentData(), predicted=self.pred_box.currentData(),
                              correct=self.result_box.currentData(), relabelled=relabelled, checked=checked,
                              face=self.face_box.currentData(), copies=self.copies_box.currentData(),
                              annotators=self.annotators_box.currentData(),
                              split=self.split_box.currentData(), flagged=True if self.flagged_box.isChecked() else None,
                              text=self.text_box.text().strip())
        self.filterChanged.emit(self.filter)

    def _sort_changed(self, *_) -> None:
        key, reverse = self.sort
        self.sortChanged.emit(key, reverse)


def _select(box: QComboBox, value) -> None:
    for k in range(box.count()):
        if box.itemData(k) == value and (value is not None or box.itemData(k) is None):
            box.setCurrentIndex(k)
            return
    box.setCurrentIndex(0)
