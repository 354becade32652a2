"""The confusion matrix: counts or row percentages, coloured, every cell a filter.

Rows are the current labels (corrections applied, excluded faces left out), columns the
model's predictions. A cell shows its examples in the grid; the recall column and a row
header filter by label, the precision row and a column header by prediction. Above it, the
accuracy with what it was measured on."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from fer_desktop.colors import text_color_on
from fer_desktop.review import ReviewSession

# Diagonal (agreement) in blue, confusions in red; the strength is the row share.
_AGREE = np.array([62, 99, 221], float)
_CONFUSE = np.array([229, 72, 77], float)
_PAPER = np.array([255, 255, 255], float)


def cell_color(share: float, diagonal: bool) -> QColor:
    """White at 0, the full colour at 1 (a square root: small confusions still show)."""
    t = float(np.sqrt(max(0.0, min(1.0, share))))
    rgb = _PAPER + ((_AGREE if diagonal else _CONFUSE) - _PAPER) * t
    return QColor(*[int(round(v)) for v in rgb])


_SHORT = {"disgust": "disg.", "surprise": "surpr.", "neutral": "neutr.", "contempt": "cont."}


def short_name(name: str) -> str:
    """Column headers stay narrow enough for the matrix to fit a side dock."""
    return _SHORT.get(name, name[:6])


class ConfusionModel(QAbstractTableModel):
    """C x C cells, then a recall column and an n column; then a precision row."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.classes: tuple[str, ...] = ()
        self.cm = np.zeros((0, 0), np.int64)
        self.normalised = False
        self.recall: list[float | None] = []
        self.precision: list[float | None] = []
        self.bold = QFont()
        self.bold.setBold(True)

    def set_data(self, classes: tuple[str, ...], summary: dict) -> None:
        self.beginResetModel()
        self.classes = classes
        self.cm = np.asarray(summary["confusion"])
        self.recall, self.precision = summary["recall"], summary["precision"]
        self.endResetModel()

    def set_normalised(self, on: bool) -> None:
        self.beginResetModel()
        self.normalised = on
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or not self.classes else len(self.classes) + 1

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or not self.classes else len(self.classes) + 2

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        c = len(self.classes)
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                return short_name(self.classes[section]) if section < c else ("recall" if section == c else "n")
            return self.classes[section] if section < c else "precision"
        if role == Qt.ItemDataRole.ToolTipRole:
            if orientation == Qt.Orientation.Horizontal and section < c:
                return f"predicted {self.classes[section]}: click to show them all"
            if orientation == Qt.Orientation.Vertical and section < c:
                return f"labelled {self.classes[section]}: click to show them all"
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, k, c = index.row(), index.column(), len(self.classes)
        if r < c and k < c:
            return self._cell(r, k, role)
        value = None
        if r < c and k == c:
            value = self.recall[r]
        elif r == c and k < c:
            value = self.precision[k]
        if role == Qt.ItemDataRole.DisplayRole:
            if r < c and k == c + 1:
                return f"{int(self.cm[r].sum())}"
            return "" if value is None else f"{100 * value:.0f}%"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("#555555")
        if role == Qt.ItemDataRole.ToolTipRole and value is not None:
            name = self.classes[r] if k == c else self.classes[k]
            what = "recall (share of this label predicted right)" if k == c else \
                "precision (share of this prediction that is right)"
            return f"{name}: {what} {100 * value:.1f}%"
        return None

    def _cell(self, r: int, k: int, role: int):
        count = int(self.cm[r, k])
        row_total = int(self.cm[r].sum())
        share = count / row_total if row_total else 0.0
        if role == Qt.ItemDataRole.DisplayRole:
            if self.normalised:
                return f"{100 * share:.0f}%" if row_total else ""
            return str(count)
        if role == Qt.ItemDataRole.BackgroundRole:
            return cell_color(share, r == k)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(text_color_on(cell_color(share, r == k).name()))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.FontRole and r == k:
            return self.bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"labelled {self.classes[r]}, predicted {self.classes[k]}: {count} "
                    f"({100 * share:.1f}% of {row_total}). Click to show them.")
        return None


class ConfusionMatrix(QWidget):
    """The table, the counts / row-% switch and the headline; emits what was clicked."""

    cellClicked = Signal(object, object)  # label index or None, predicted index or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel("Open a dataset to see how the model does on it.", self)
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.headline.font())
        font.setBold(True)
        self.headline.setFont(font)
        self.normalise_box = QCheckBox("Row percentages", self)
        self.normalise_box.setToolTip("Each row as shares of its label (recall on the diagonal) instead of counts")
        self.model = ConfusionModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys belong to the grid
        self.table.setShowGrid(True)
        self.table.setCornerButtonEnabled(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)  # "3221", not "32…" (FER-2013's diagonal)
        small = QFont(self.table.font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.table.setFont(small)
        self.model.bold = QFont(small)
        self.model.bold.setBold(True)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setSectionsClickable(True)
            header.setHighlightSections(False)
        self.table.horizontalHeader().setMinimumSectionSize(38)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(440)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.axes = QLabel("rows: label (corrected) · columns: predicted", self)
        self.axes.setStyleSheet("color: palette(mid);")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.headline)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.axes)
        lay.addWidget(self.normalise_box)
        self.normalise_box.toggled.connect(self.model.set_normalised)
        self.table.clicked.connect(self._clicked)
        self.table.horizontalHeader().sectionClicked.connect(
            lambda k: self.cellClicked.emit(None, k) if k < len(self.model.classes) else None)
        self.table.verticalHeader().sectionClicked.connect(
            lambda r: self.cellClicked.emit(r, None) if r < len(self.model.classes) else None)

    def show_session(self, session: ReviewSession | None) -> None:
        if session is None:
            return
        summary = session.summary()
        self.headline.setText(summary["headline"])
        self.model.set_data(session.classes, summary)
        self.table.setMinimumHeight(26 * (len(session.classes) + 2) + 4)

    def select_cell(self, label: int | None, predicted: int | None) -> None:
        """Mark the cell the grid shows (no signal)."""
        c = len(self.model.classes)
        if label is not None and predicted is not None:
            self.table.setCurrentIndex(self.model.index(label, predicted))
        elif label is not None:
            self.table.setCurrentIndex(self.model.index(label, c))
        elif predicted is not None:
            self.table.setCurrentIndex(self.model.index(c, predicted))
        else:
            self.table.clearSelection()

    def click_cell(self, label: int | None, predicted: int | None) -> None:
        """What a click on that cell does (for keyboard users, scripts and tests)."""
        self.select_cell(label, predicted)
        self.cellClicked.emit(label, predicted)

    def _clicked(self, index: QModelIndex) -> None:
        r, k, c = index.row(), index.column(), len(self.model.classes)
        if r < c and k < c:
            self.cellClicked.emit(r, k)
        elif r < c:
            self.cellClicked.emit(r, None)
        elif k < c:
            self.cellClicked.emit(None, k)
