"""Old vs new, side by side: the result of ``fer-train compare`` (one tab per set: the
validation set with the corrected labels, the untouched test set), with *Use new model*."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

GOOD = QColor(46, 160, 67)
BAD = QColor(207, 34, 46)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def change(old: float | None, new: float | None) -> tuple[str, QColor | None]:
    if old is None or new is None:
        return "", None
    d = 100 * (new - old)
    return f"{d:+.1f}", (GOOD if d > 0.05 else BAD if d < -0.05 else None)


def _item(text: str, colour: QColor | None = None, bold: bool = False, align=Qt.AlignmentFlag.AlignRight) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if colour is not None:
        item.setForeground(QBrush(colour))
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    return item


def _table(rows: int, columns: list[str]) -> QTableWidget:
    t = QTableWidget(rows, len(columns))
    t.setHorizontalHeaderLabels(columns)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    t.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return t


def _fit_height(t: QTableWidget) -> None:
    t.resizeRowsToContents()
    h = t.horizontalHeader().height() + sum(t.rowHeight(r) for r in range(t.rowCount())) + 2 * t.frameWidth()
    t.setFixedHeight(h)


class ConfusionTable(QTableWidget):
    """A confusion matrix (rows: true class); cells shaded by their share of the row, or, for
    a difference, green where the new model gained on the diagonal and red where it lost."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setMinimumSectionSize(28)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setToolTip(f"{title}: rows are the (corrected) labels, columns the model's answers")

    def show_matrix(self, matrix: list[list[int]], classes: list[str], signed: bool = False) -> None:
        n = len(classes)
        self.setRowCount(n)
        self.setColumnCount(n)
        short = [c[:3] for c in classes]
        self.setHorizontalHeaderLabels(short)
        self.setVerticalHeaderLabels(classes)
        for i in range(n):
            total = max(1, sum(abs(v) for v in matrix[i]))
            for j in range(n):
                v = int(matrix[i][j])
                item = _item((f"{v:+d}" if v else "·") if signed else str(v), align=Qt.AlignmentFlag.AlignCenter)
                if signed and v:
                    good = (v > 0) == (i == j)
                    base = GOOD if good else BAD
                    item.setBackground(QBrush(QColor(base.red(), base.green(), base.blue(),
                                                     int(60 + 150 * min(1.0, abs(v) / total)))))
                elif not signed and v:
                    share = v / total
                    colour = QColor(40, 110, 200, int(25 + 200 * share))
                    item.setBackground(QBrush(colour))
                    if share > 0.55:
                        item.setForeground(QBrush(QColor("white")))
                self.setItem(i, j, item)
        _fit_height(self)


class SampleList(QListWidget):
    """Fixed or broken samples; double-click (or Show in review) opens them in the review grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.clear()
        for r in rows:
            item = QListWidgetItem(f"{r['id']}   {r['label']}: {r['old']} → {r['new']} "
                                   f"({100 * r['new_confidence']:.0f}%)")
            item.setData(Qt.ItemDataRole.UserRole, r["id"])
            item.setToolTip(f"label {r['label']}; old model: {r['old']} ({100 * r['old_confidence']:.0f}%), "
                            f"new model: {r['new']} ({100 * r['new_confidence']:.0f}%)")
            self.addItem(item)

    def ids(self, selected_only: bool = False) -> list[str]:
        items = self.selectedItems() if selected_only and self.selectedItems() else \
            [self.item(i) for i in range(self.count())]
        return [str(i.data(Qt.ItemDataRole.UserRole)) for i in items]


class SetComparison(QWidget):
    """One set: headline numbers, per-class recall, three confusions, fixed and broken."""

    showSamples = Signal(list, str)  # ids, title

    def __init__(self, result: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        old, new = result["old"], result["new"]
        lay = QVBoxLayout(self)
        about = f"{result['name']}: {result['n']} samples"
        if result.get("relabels"):
            about += (f", labels as corrected ({result.get('relabelled', 0)} relabelled, "
                      f"{result.get('excluded', 0)} left out)")
        else:
            about += ", labels as published (the journal not applied)"
        self.about = QLabel(about)
        self.about.setWordWrap(True)
        lay.addWidget(self.about)
        for note in result.get("notes") or []:
            lay.addWidget(QLabel(f"<i>{note}</i>"))

        top = QHBoxLayout()
        self.headline = _table(3, ["old", "new", "change"])
        self.headline.setVerticalHeaderLabels(["accuracy", "macro F1", "mean recall"])
        for r, key in enumerate(("accuracy", "macro_f1", "mean_class_recall")):
            text, colour = change(old[key], new[key])
            self.headline.setItem(r, 0, _item(pct(old[key])))
            self.headline.setItem(r, 1, _item(pct(new[key]), bold=True))
            self.headline.setItem(r, 2, _item(text, colour))
        _fit_height(self.headline)
        classes = list(new["classes"])
        self.recall = _table(len(classes), ["old", "new", "change"])
        self.recall.setVerticalHeaderLabels(classes)
        for r, c in enumerate(classes):
            o, n = old["per_class_recall"].get(c), new["per_class_recall"].get(c)
            text, colour = change(o, n)
            self.recall.setItem(r, 0, _item(pct(o)))
            self.recall.setItem(r, 1, _item(pct(n)))
            self.recall.setItem(r, 2, _item(text, colour))
        _fit_height(self.recall)
        left = QVBoxLayout()
        left.addWidget(self._titled("Overall", self.headline))
        left.addStretch(1)
        top.addLayout(left, 1)
        top.addWidget(self._titled("Recall per class", self.recall), 1)
        lay.addLayout(top)

        grid = QGridLayout()
        self.conf_old, self.conf_new = ConfusionTable("old model"), ConfusionTable("new model")
        self.conf_diff = ConfusionTable("difference (new - old)")
        self.conf_old.show_matrix(old["confusion"], old["classes"])
        self.conf_new.show_matrix(new["confusion"], new["classes"])
        for col, table in enumerate((self.conf_old, self.conf_new, self.conf_diff)):
            grid.addWidget(self._titled(table.title.capitalize(), table), 0, col, Qt.AlignmentFlag.AlignTop)
        if result.get("confusion_diff") is not None:
            self.conf_diff.show_matrix(result["confusion_diff"], new["classes"], signed=True)
        else:
            self.conf_diff.setEnabled(False)
        lay.addLayout(grid)

        lists = QHBoxLayout()
        self.fixed, self.broken = SampleList(), SampleList()
        self.fixed.show_rows(result["fixed"])
        self.broken.show_rows(result["broken"])
        for kind, widget in (("fixed", self.fixed), ("broken", self.broken)):
            box = QGroupBox(f"{kind.capitalize()} by the new model: {widget.count()}")
            box.setToolTip("wrong before and right now" if kind == "fixed" else "right before and wrong now")
            v = QVBoxLayout(box)
            v.addWidget(widget)
            show = QPushButton("Show in review")
            show.setToolTip("Show these samples (or the selected ones) in the review grid")
            show.setEnabled(widget.count() > 0)
            show.clicked.connect(lambda _=False, w=widget, k=kind: self._show(w, k, True))
            widget.itemDoubleClicked.connect(lambda _item, w=widget, k=kind: self._show(w, k, True))
            v.addWidget(show, 0, Qt.AlignmentFlag.AlignRight)
            lists.addWidget(box)
        lay.addLayout(lists, 1)

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        label = QLabel(f"<b>{title}</b>")
        v.addWidget(label)
        v.addWidget(widget)
        return box

    def _show(self, widget: SampleList, kind: str, selected_only: bool) -> None:
        ids = widget.ids(selected_only)
        if ids:
            self.showSamples.emit(ids, f"{kind.capitalize()} by the new model ({self.result['name']})")


class ComparisonView(QWidget):
    """Every set of a comparison, and the buttons that act on it."""

    useNewModel = Signal(str)  # the new model's path
    showSamples = Signal(list, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: dict[str, Any] | None = None
        lay = QVBoxLayout(self)
        self.header = QLabel("The comparison appears here when the run has finished.")
        self.header.setWordWrap(True)
        self.tabs = QTabWidget()
        buttons = QHBoxLayout()
        self.use_button = QPushButton("Use new model")
        self.use_button.setToolTip("Switch the live view and the review to the new model (Model ▸ Models "
                                   "trained here goes back)")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        lay.addWidget(self.header)
        lay.addWidget(self.tabs, 1)
        lay.addLayout(buttons)
        self.sets: list[SetComparison] = []

    def show_result(self, result: dict[str, Any]) -> None:
        self.result = result
        self.tabs.clear()
        self.sets = []
        old, new = result["old_model"], result["new_model"]
        lines = [f"<b>old</b>: {old['name']} <span style='color:gray'>({old['path']})</span>",
                 f"<b>new</b>: {new['name']} <span style='color:gray'>({new['path']})</span>"]
        for s in result["sets"]:
            d = 100 * (s["new"]["accuracy"] - s["old"]["accuracy"])
            lines.append(f"{s['role']} · {s['name']}: {pct(s['old']['accuracy'])} → <b>{pct(s['new']['accuracy'])}</b> "
                         f"({d:+.1f} points), {len(s['fixed'])} fixed, {len(s['broken'])} broken")
        self.header.setText("<br>".join(lines))
        for s in result["sets"]:
            view = SetComparison(s)
            view.showSamples.connect(self.showSamples)
            self.sets.append(view)
            self.tabs.addTab(view, f"{s['role'].split(' ')[0].capitalize()}: {s['name']}")
        self.use_button.setEnabled(True)

    def _use(self) -> None:
        if self.result is not None:
            self.useNewModel.emit(self.result["new_model"]["path"])
