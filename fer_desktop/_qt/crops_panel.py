"""The aligned face crops exactly as the model gets them, one tile per face; a click selects."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from fer_desktop._qt.annotate import to_qimage
from fer_desktop._qt.context import AppContext
from fer_desktop._qt.errors import guarded
from fer_desktop.colors import class_color
from fer_desktop.results import FrameResult, face_label

TILE = 112  # px: a 64-px model input shown larger
TILE_WIDTH = TILE + 16  # the crop, the frame's margins and border: every tile is this wide
SPACING = 6


class CropTile(QFrame):
    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.track_id = -1
        self.image = QLabel(self)
        self.image.setFixedSize(TILE, TILE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel(self)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)  # "#2 surprise 100%" wraps instead of widening the tile
        self.setFixedWidth(TILE_WIDTH)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        lay.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.caption)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def show_face(self, track_id: int, crop: np.ndarray, caption: str, color: str, selected: bool) -> None:
        self.track_id = track_id
        pixmap = QPixmap.fromImage(to_qimage(crop)).scaled(
            TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.image.setPixmap(pixmap)
        self.caption.setText(caption)
        border = f"3px solid {color}" if selected else "1px solid palette(mid)"
        self.setStyleSheet(f"CropTile {{border:{border}; border-radius:4px;}}")

    @guarded
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.track_id)


class CropsPanel(QScrollArea):
    """As many tiles abreast as the panel's width holds (at least one, never cut off), then
    the next row; scrolls down, never sideways."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget(self)
        self.grid = QGridLayout(inner)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.grid.setSpacing(SPACING)
        self.empty = QLabel("No faces yet: the crops the model sees appear here.", inner)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid);")
        self.grid.addWidget(self.empty, 0, 0, 1, -1)
        self.setWidget(inner)
        self.tiles: list[CropTile] = []
        self.columns = 1
        # One whole tile always fits: the dock cannot be made narrower than that.
        margins = self.grid.contentsMargins()
        self.setMinimumWidth(TILE_WIDTH + margins.left() + margins.right() + self.verticalScrollBar().sizeHint().width())
        ctx.resultShown.connect(self.show_result)

    def _fitting_columns(self) -> int:
        margins = self.grid.contentsMargins()
        room = self.viewport().width() - margins.left() - margins.right()
        return max(1, (room + SPACING) // (TILE_WIDTH + SPACING))

    def _place_tiles(self) -> None:
        for n, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, 1 + n // self.columns, n % self.columns)  # re-adding moves it

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        columns = self._fitting_columns()
        if columns != self.columns:
            self.columns = columns
            self._place_tiles()

    @guarded
    def show_result(self, result: FrameResult) -> None:
        faces = result.faces
        # Reuse tiles: new widgets thirty times a second would flicker and churn.
        if len(self.tiles) < len(faces):
            while len(self.tiles) < len(faces):
                tile = CropTile(self.widget())
                tile.clicked.connect(self.ctx.select)
                self.tiles.append(tile)
            self.columns = self._fitting_columns()
            self._place_tiles()
        for i, tile in enumerate(self.tiles):
            if i >= len(faces):
                tile.hide()
                continue
            face = faces[i]
            probs = face.probabilities(self.ctx.smoothing)
            label, conf = face_label(result.classes, probs)
            caption = f"#{face.track_id} {label} {conf:.0%}" if label else f"#{face.track_id}"
            if getattr(face, "method", "detect") != "detect":  # a face crop: re-aligned, or used as it is
                from trainer.faces.prepare import METHOD_TITLES

                caption += f"\n{METHOD_TITLES.get(face.method, face.method)}"
            tile.show_face(face.track_id, face.crop, caption, class_color(label), face.track_id == self.ctx.selected_id)
            tile.show()
        self.empty.setVisible(not faces)
        if not faces:
            self.empty.setText("No face found in this frame." if result.model_name else
                               "Loading the model: the faces follow in a moment." if result.model_loading else
                               "No model loaded: open one from the Model menu.")
