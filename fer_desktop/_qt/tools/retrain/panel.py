"""The training window: progress per batch and epoch, ETA, live loss and accuracy curves, the
log, Stop / Resume; then the comparison of the old and the new model."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fer_desktop._qt.tools.retrain.compare_view import ComparisonView
from fer_desktop.retrain import RunFolder, RunProgress, format_duration
from trainer.training.progress import DoneEvent, EpochEndEvent, MessageEvent, StageEvent

# Colours that read on light and dark windows alike.
COLOURS = {"batch_loss": (150, 150, 150), "train_loss": (31, 119, 180), "train_accuracy": (31, 119, 180),
           "val_accuracy": (214, 39, 40)}


class Curves(QWidget):
    """Loss (each reported batch, and the epochs' means) and accuracy (train, validation)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        bg = self.palette().color(self.backgroundRole())
        fg = self.palette().color(self.foregroundRole())
        self.loss = pg.PlotWidget(self, title="Loss")
        self.acc = pg.PlotWidget(self, title="Accuracy")
        self.items: dict[str, pg.PlotDataItem] = {}
        for plot in (self.loss, self.acc):
            plot.setBackground(bg)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setLabel("bottom", "epoch")
            plot.getPlotItem().titleLabel.setText(plot.getPlotItem().titleLabel.text, color=fg)
            for name in ("left", "bottom"):
                plot.getAxis(name).setTextPen(fg)
                plot.getAxis(name).setPen(fg)
            legend = plot.addLegend(offset=(-10, 10))
            legend.setLabelTextColor(fg)
        self.acc.setYRange(0, 1, padding=0.02)
        self.acc.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]])
        self.items["batch_loss"] = self.loss.plot([], [], pen=pg.mkPen(COLOURS["batch_loss"], width=1),
                                                  name="batches")
        self.items["train_loss"] = self.loss.plot([], [], pen=pg.mkPen(COLOURS["train_loss"], width=2), symbol="o",
                                                  symbolSize=6, symbolBrush=COLOURS["train_loss"], name="epoch mean")
        self.items["train_accuracy"] = self.acc.plot([], [], pen=pg.mkPen(COLOURS["train_accuracy"], width=2),
                                                     symbol="o", symbolSize=6, symbolBrush=COLOURS["train_accuracy"],
                                                     name="train")
        self.items["val_accuracy"] = self.acc.plot([], [], pen=pg.mkPen(COLOURS["val_accuracy"], width=2),
                                                   symbol="s", symbolSize=6, symbolBrush=COLOURS["val_accuracy"],
                                                   name="validation")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.loss)
        lay.addWidget(self.acc)

    def show_progress(self, progress: RunProgress) -> None:
        for key, (x, y) in progress.curves().items():
            self.items[key].setData(x, y)
        if progress.epochs:
            for plot in (self.loss, self.acc):
                plot.setXRange(0, progress.epochs, padding=0.02)

    def points(self, key: str) -> int:
        x, _ = self.items[key].getData()
        return 0 if x is None else len(x)


class TrainingPanel(QWidget):
    """A window of its own beside the main one (a run lasts minutes to hours)."""

    stopRequested = Signal()
    resumeRequested = Signal()
    compareRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("trainingPanel")
        self.setWindowTitle("Training: fer-desktop")
        self.resize(1100, 760)
        self.run: RunFolder | None = None
        self.progress = RunProgress()
        self._stopping = False

        self.header = QLabel("No run yet: Training ▸ Retrain…")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel("")
        self.run_bar = QProgressBar()
        self.run_bar.setFormat("run %p%")
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setFormat("epoch %v/%m batches")
        self.eta = QLabel("")
        self.eta.setMinimumWidth(140)
        self.eta.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bars = QGridLayout()
        bars.addWidget(self.status, 0, 0, 1, 2)
        bars.addWidget(self.eta, 0, 2)
        bars.addWidget(self.run_bar, 1, 0)
        bars.addWidget(self.epoch_bar, 1, 1, 1, 2)

        self.curves = Curves()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("The trainer's messages appear here.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.curves)
        split.addWidget(self.log)
        split.setSizes([420, 180])

        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; the last full epoch is kept and Resume "
                                    "continues from it (press again to stop at once)")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue a stopped run from its last checkpoint")
        self.compare_button = QPushButton("Compare again")
        self.compare_button.setToolTip("Run the comparison of the old and the new model again")
        self.folder_button = QPushButton("Open run folder")
        self.stop_button.clicked.connect(self._stop_clicked)
        self.resume_button.clicked.connect(self.resumeRequested)
        self.compare_button.clicked.connect(self.compareRequested)
        self.folder_button.clicked.connect(self._open_folder)
        buttons = QHBoxLayout()
        for b in (self.stop_button, self.resume_button, self.compare_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)

        progress_tab = QWidget()
        v = QVBoxLayout(progress_tab)
        v.addLayout(bars)
        v.addWidget(split, 1)
        self.comparison = ComparisonView()
        self.tabs = QTabWidget()
        self.tabs.addTab(progress_tab, "Progress")
        self.tabs.addTab(self.comparison, "Old vs new")
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.tabs, 1)
        lay.addLayout(buttons)

        self._eta_timer = QTimer(self)
        self._eta_timer.setInterval(1000)
        self._eta_timer.timeout.connect(self._refresh_eta)
        self.set_state("idle")

    # -- what the controller tells it --

    def show_run(self, run: RunFolder, progress: RunProgress, about: str) -> None:
        """A run to follow (new, resumed or attached); ``progress`` already holds its past events."""
        self.run, self.progress = run, progress
        self.header.setText(about)
        self.log.clear()
        for text in progress.messages:
            self.log.appendPlainText(text)
        for epoch in sorted(progress.history):
            self.log.appendPlainText(self._epoch_line(progress.history[epoch]))
        self.comparison.header.setText("The comparison appears here when the run has finished.")
        self.tabs.setCurrentIndex(0)
        self._refresh()

    def on_event(self, event: Any) -> None:
        if isinstance(event, MessageEvent):
            self.log.appendPlainText(event.text)
        elif isinstance(event, EpochEndEvent):
            self.log.appendPlainText(self._epoch_line(event))
        elif isinstance(event, StageEvent):
            self.log.appendPlainText(f"== {event.name}: {event.epochs} epochs")
        elif isinstance(event, DoneEvent):
            self.log.appendPlainText("done: " + ("stopped" if event.interrupted else f"model {event.model}"))
        self._refresh()

    def set_state(self, state: str, text: str = "") -> None:
        """idle | running | stopping | stopped | finished | failed | comparing | compared."""
        running = state in ("running", "stopping")
        self._stopping = state == "stopping"
        self.stop_button.setEnabled(running)
        self.stop_button.setText("Stop now" if state == "stopping" else "Stop")
        self.resume_button.setEnabled(state in ("stopped", "failed") and self.run is not None and self.run.can_resume())
        self.compare_button.setEnabled(state in ("finished", "compared") or
                                       (state == "failed" and self.run is not None and self.run.finished()))
        self.folder_button.setEnabled(self.run is not None)
        if running:
            self._eta_timer.start()
        else:
            self._eta_timer.stop()
            self.eta.setText("")
        if text:
            self.status.setText(text)
            if state in ("stopped", "failed", "finished", "compared"):
                self.log.appendPlainText(text)
        self.state = state

    def show_comparison(self, result: dict[str, Any]) -> None:
        self.comparison.show_result(result)
        self.tabs.setCurrentWidget(self.comparison)

    # -- drawing --

    @staticmethod
    def _epoch_line(e: EpochEndEvent) -> str:
        line = (f"epoch {e.epoch}: loss {e.train_loss:.4f}, train accuracy {100 * e.train_accuracy:.1f}%"
                f", {e.seconds:.0f} s ({e.images_per_second:.0f} img/s)")
        if e.val_accuracy is not None:
            line += f", validation accuracy {100 * e.val_accuracy:.1f}%"
            if e.val_macro_f1 is not None:
                line += f", macro F1 {100 * e.val_macro_f1:.1f}%"
        return line

    def _refresh(self) -> None:
        p = self.progress
        self.curves.show_progress(p)
        total = p.batches_total()
        self.run_bar.setRange(0, max(1, total))
        self.run_bar.setValue(min(p.batches_done(), max(1, total)))
        self.epoch_bar.setRange(0, max(1, p.batches))
        self.epoch_bar.setValue(min(p.batch, max(1, p.batches)))
        if p.epoch and p.done is None:
            last = p.history.get(max(p.history)) if p.history else None
            parts = [f"epoch {p.epoch} of {p.epochs}", f"batch {p.batch} of {p.batches}"]
            if last is not None and last.val_accuracy is not None:
                parts.append(f"last validation accuracy {100 * last.val_accuracy:.1f}%")
            self.status.setText(" · ".join(parts))
        self._refresh_eta()

    def _refresh_eta(self) -> None:
        left = self.progress.eta_seconds()
        self.eta.setText("" if left is None else f"about {format_duration(left)} left")

    def _stop_clicked(self) -> None:
        self.stopRequested.emit()

    def _open_folder(self) -> None:
        if self.run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run.path)))
