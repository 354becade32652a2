"""Boxes and labels painted over a frame: one function for the view and the snapshot, so
the saved PNG looks like the window."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen

from fer_desktop.colors import class_color, text_color_on
from fer_desktop.results import face_label

if TYPE_CHECKING:
    from trainer.inference.live import LiveFace


def to_qimage(array: np.ndarray) -> QImage:
    """BGR or grey uint8 -> a QImage that owns its pixels (the array may go away)."""
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    if array.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    elif array.shape[2] == 3:
        fmt = QImage.Format.Format_BGR888
    else:
        array = np.ascontiguousarray(array[:, :, :3])
        fmt = QImage.Format.Format_BGR888
    return QImage(array.data, w, h, array.strides[0], fmt).copy()


def to_bgr(image: QImage) -> np.ndarray:
    """A QImage -> an (H, W, 3) BGR uint8 array of its own (``to_qimage``'s way back)."""
    image = image.convertToFormat(QImage.Format.Format_BGR888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def paint_faces(painter: QPainter, faces: list[LiveFace], classes: list[str], *, scale: float = 1.0,
                offset: QPointF = QPointF(0, 0), selected_id: int | None = None, smoothed: bool = True,
                font_px: float = 14.0, bounds: QRectF | None = None) -> None:
    """Each face: a box in its top class's colour, a label "happy 87%" on a filled tab
    above it (inside when the box touches the top), the selected face drawn thick on a halo.
    ``bounds``: the image's rectangle where it is painted; boxes never reach past it (a face
    at the frame's edge gets a box along the edge, not one hanging over the background)."""
    font = QFont(painter.font())
    font.setPixelSize(max(9, round(font_px)))
    font.setBold(True)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.save()
    try:
        if bounds is not None:  # the strokes' outer halves and the tabs stop at the edge too
            painter.setClipRect(bounds, Qt.ClipOperation.IntersectClip)
        _paint_boxes(painter, faces, classes, metrics, scale, offset, selected_id, smoothed, bounds)
    finally:
        painter.restore()


def _paint_boxes(painter: QPainter, faces: list[LiveFace], classes: list[str], metrics: QFontMetricsF, scale: float,
                 offset: QPointF, selected_id: int | None, smoothed: bool, bounds: QRectF | None) -> None:
    for face in faces:
        probs = face.probabilities(smoothed)
        label, conf = face_label(classes, probs)
        color = QColor(class_color(label, int(np.argmax(probs)) if len(probs) else 0))
        x, y, w, h = face.face.box
        rect = QRectF(offset.x() + x * scale, offset.y() + y * scale, w * scale, h * scale)
        if bounds is not None:
            rect = rect.intersected(bounds)
            if rect.isEmpty():
                continue
        # The selected face (whose bars the panel shows) stands out among several: a thick box
        # on a white halo, where the others get a thin one.
        selected = face.track_id == selected_id and len(faces) > 1
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if selected:
            painter.setPen(QPen(QColor(255, 255, 255, 230), 9.0))
            painter.drawRect(rect)
        painter.setPen(QPen(color, 5.0 if selected else 2.0))
        painter.drawRect(rect)
        text = f"{label} {conf:.0%}" if label else "face"
        pad = 4.0
        tw, th = metrics.horizontalAdvance(text) + 2 * pad, metrics.height() + 2
        top = bounds.top() if bounds is not None else offset.y()
        ty = rect.top() - th if rect.top() - th >= top else rect.top()
        tx = rect.left() - (2.5 if selected else 1.0)
        if bounds is not None:  # a face at the right edge: its tab moves left, into the picture
            tx = max(bounds.left(), min(tx, bounds.right() - tw))
        tab = QRectF(tx, ty, tw, th)
        painter.fillRect(tab, color)
        painter.setPen(QColor(text_color_on(color.name())))
        painter.drawText(tab.adjusted(pad, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


def annotated_image(frame: np.ndarray, faces: list[LiveFace], classes: list[str], *,
                    selected_id: int | None, smoothed: bool) -> QImage:
    """The frame at full resolution with its annotations (the snapshot's PNG)."""
    image = to_qimage(frame).convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        paint_faces(painter, faces, classes, selected_id=selected_id, smoothed=smoothed,
                    font_px=max(12.0, image.height() / 32), bounds=QRectF(0, 0, image.width(), image.height()))
    finally:
        painter.end()
    return image
