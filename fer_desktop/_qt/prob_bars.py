"""Class-probability bars for the selected face (pyqtgraph: cheap to update every frame)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fer_desktop._qt.context import AppContext
from fer_desktop._qt.errors import guarded
from fer_desktop.colors import class_color, text_color_on
from fer_desktop.results import FrameResult, face_label


def add_class_bars(plot: pg.PlotWidget, classes: list[str] | tuple[str, ...], text_color, x_max: float):
    """One horizontal bar per class (in its colour, zero width) with a text item after each,
    class names on the left axis: the probability display of the live view and of review."""
    n = len(classes)
    bars = pg.BarGraphItem(x0=np.zeros(n), y=np.arange(n), height=0.72, width=np.zeros(n),
                           brushes=[pg.mkBrush(class_color(c, i)) for i, c in enumerate(classes)],
                           pens=[pg.mkPen(None)] * n)
    plot.addItem(bars)
    texts = []
    for i in range(n):
        t = pg.TextItem("", color=text_color, anchor=(0, 0.5))
        t.setPos(0, i)
        plot.addItem(t)
        texts.append(t)
    plot.getAxis("left").setTicks([[(i, c) for i, c in enumerate(classes)]])
    plot.setXRange(-0.005, x_max, padding=0)
    plot.setYRange(-0.6, n - 0.4, padding=0)
    return bars, texts


def remove_class_bars(plot: pg.PlotWidget, bars, texts: list) -> None:
    if bars is not None:
        plot.removeItem(bars)
    for t in texts:
        plot.removeItem(t)


class ProbabilityBars(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.title = QLabel("No model yet", self)
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.smooth_box = QCheckBox("Smooth over time", self)
        self.smooth_box.setToolTip("Average each face's probabilities over recent frames (live view)")
        self.smooth_box.setChecked(ctx.smoothing)
        self.smooth_box.toggled.connect(ctx.set_smoothing)
        ctx.smoothingChanged.connect(self.smooth_box.setChecked)

        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(self.palette().color(self.backgroundRole()))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.getViewBox().invertY(True)  # first class on top, reading order
        self.plot.setMinimumHeight(180)
        self.plot.hide()  # until a model says which classes there are
        self.placeholder = QLabel("The class probabilities of the selected face appear here.", self)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(mid);")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        bottom = self.plot.getAxis("bottom")
        bottom.setTicks([[(v, f"{v:.0%}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]])
        # pyqtgraph's default grey axis text is faint on a light window: use the palette's text.
        fg = self.palette().color(self.foregroundRole())
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setTextPen(fg)
            axis.setPen(fg)
        self.bars: pg.BarGraphItem | None = None
        self.texts: list[pg.TextItem] = []
        self.classes: list[str] = []
        self.values = np.zeros(0, np.float32)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(head)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.placeholder, 1)
        lay.addWidget(self.smooth_box)

        ctx.resultShown.connect(self.show_result)
        ctx.modelChanged.connect(lambda info: self.set_classes(info.classes))

    def set_classes(self, classes: list[str]) -> None:
        if list(classes) == self.classes:
            return
        self.classes = list(classes)
        n = len(classes)
        remove_class_bars(self.plot, self.bars, self.texts)
        # Room for "100%" after a full bar; 0% tick visible.
        self.bars, self.texts = add_class_bars(self.plot, self.classes, self.palette().color(self.foregroundRole()),
                                               x_max=1.14)
        self.values = np.zeros(n, np.float32)
        self.plot.setVisible(n > 0)
        self.placeholder.setVisible(n == 0)
        if n and self.ctx.result is None:
            self.title.setText("No face selected")

    def set_values(self, probs: np.ndarray | None) -> None:
        if self.bars is None:
            return
        values = np.zeros(len(self.classes), np.float32) if probs is None else np.asarray(probs, np.float32)
        self.values = values
        self.bars.setOpts(width=values)
        for i, (t, v) in enumerate(zip(self.texts, values)):
            t.setText(f"{v:.0%}" if probs is not None else "")
            t.setPos(float(v) + 0.01, i)

    @guarded
    def show_result(self, result: FrameResult) -> None:
        self.set_classes(result.classes)
        face = result.face(self.ctx.selected_id)
        if face is None:
            self.set_values(None)
            self.title.setText("No face found" if result.model_name else
                               "Loading the model…" if result.model_loading else "No model loaded")
            self.title.setStyleSheet("")
            return
        probs = face.probabilities(self.ctx.smoothing)
        self.set_values(probs)
        label, conf = face_label(result.classes, probs)
        color = QColor(class_color(label))
        if text_color_on(color.name()) == "#000000":  # a light colour (yellow, grey): darken to read on the panel
            color = color.darker(170)
        self.title.setText(f"Face #{face.track_id}: {label} {conf:.0%}")
        self.title.setStyleSheet(f"color: {color.name()};")
