"""The model card in a dialog: what the model predicts, what it was trained on, how well it
does on which data (a table of percentages), and the card file itself for the curious."""

from __future__ import annotations

import html
import json
from dataclasses import asdict

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fer_desktop.card_view import metrics_table, overview_rows, training_rows
from fer_desktop.colors import class_color, text_color_on
from fer_desktop.results import ModelInfo


def _form(rows: list[tuple[str, str]], parent: QWidget) -> QWidget:
    box = QWidget(parent)
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label, text in rows:
        value = QLabel(text, box)
        value.setWordWrap(True)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(f"<b>{html.escape(label)}</b>", value)
    return box


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(f"<h3 style='margin-bottom:0'>{html.escape(text)}</h3>", parent)
    return label


class _MetricsTable(QTableWidget):
    """Rows as tall as their wrapped name at the first column's current width (Qt's own
    resizeRowsToContents runs before the stretched column has its width), the table as tall
    as its rows: the dialog scrolls, never the table."""

    def fit_rows(self) -> None:
        metrics = self.fontMetrics()
        width = max(40, self.columnWidth(0) - 12)
        for r in range(self.rowCount()):
            item = self.item(r, 0)
            wrapped = metrics.boundingRect(QRect(0, 0, width, 10_000), int(Qt.TextFlag.TextWordWrap),
                                           item.text() if item else "")
            self.setRowHeight(r, max(metrics.height(), wrapped.height()) + 10)
        height = self.horizontalHeader().height() + sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(height + 2 * self.frameWidth())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_rows()


class ModelCardDialog(QDialog):
    def __init__(self, info: ModelInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = info.card
        self.setWindowTitle(f"Model card: {info.name}")
        self.resize(900, 720)

        title = QLabel(f"<h2 style='margin:0'>{html.escape(card.name)}</h2>", self)
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        chips = QLabel(" ".join(
            f"<span style='background:{class_color(c, i)}; color:{text_color_on(class_color(c, i))}'>"
            f"&nbsp;{html.escape(c)}&nbsp;</span>" for i, c in enumerate(card.classes)), self)

        summary = QWidget(self)
        lay = QVBoxLayout(summary)
        lay.addWidget(_heading("The model", summary))
        lay.addWidget(_form(overview_rows(card, path=str(info.path) if info.path else None, device=info.device),
                            summary))
        lay.addWidget(_heading("Accuracy", summary))
        self.metrics = self._metrics_table(card, summary)
        lay.addWidget(self.metrics)
        lay.addWidget(_heading("Training", summary))
        self.training = _form(training_rows(card) or [("Training", "not recorded")], summary)
        lay.addWidget(self.training)
        lay.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(summary)

        raw = QPlainTextEdit(self)
        raw.setReadOnly(True)
        raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        raw.setPlainText(json.dumps(asdict(card), indent=2))
        tabs = QTabWidget(self)
        tabs.addTab(scroll, "Summary")
        tabs.addTab(raw, "Card file (JSON)")
        self.tabs = tabs

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        outer = QVBoxLayout(self)
        outer.addWidget(title)
        outer.addWidget(chips)
        outer.addWidget(tabs, 1)
        outer.addWidget(buttons)

    def _metrics_table(self, card, parent: QWidget) -> QWidget:
        data = metrics_table(card)
        if not data.rows:
            return QLabel("No accuracy recorded: measure one with <tt>fer-train evaluate --model FILE "
                          "--data DATA --record</tt>.", parent)
        table = _MetricsTable(len(data.rows), len(data.headers), parent)
        table.setObjectName("metricsTable")
        table.setHorizontalHeaderLabels([h.replace(" recall", "\nrecall") for h in data.headers])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setWordWrap(True)
        for r, (row, command) in enumerate(zip(data.rows, data.commands)):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if command:
                    item.setToolTip(f"Measured with: {command}")
                table.setItem(r, c, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the data's name wraps, nothing scrolls
        for c in range(1, len(data.headers)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.fit_rows()
        return table
