"""The frame, scaled to fit, with a box and label on every face; a click selects a face."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from fer_desktop._qt.annotate import paint_faces, to_qimage
from fer_desktop._qt.errors import guarded
from fer_desktop.results import FrameResult

PLACEHOLDER = ("Open an image (Ctrl+O), a folder, a video or the webcam,\n"
               "or drop a file here.")


class FrameView(QWidget):
    faceClicked = Signal(object)  # track id, or None for a click beside every face

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frameView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._image: QImage | None = None
        self._result: FrameResult | None = None
        self._selected: int | None = None
        self._smoothed = True
        self.placeholder = PLACEHOLDER

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    def set_result(self, result: FrameResult | None, selected_id: int | None, smoothed: bool) -> None:
        if result is None:
            self._image = None
        elif self._result is None or result.packet is not self._result.packet:
            self._image = to_qimage(result.frame)  # re-convert only for a new frame
        self._result = result
        self._selected = selected_id
        self._smoothed = smoothed
        self.update()

    def clear(self, placeholder: str = PLACEHOLDER) -> None:
        self.placeholder = placeholder
        self.set_result(None, None, self._smoothed)

    def has_image(self) -> bool:
        return self._image is not None

    def _geometry(self) -> tuple[float, QPointF]:
        """The image's scale and top-left in widget coordinates (fit, centred)."""
        assert self._image is not None
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        return scale, QPointF((self.width() - iw * scale) / 2, (self.height() - ih * scale) / 2)

    @guarded
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor("#1e1f22"))
            if self._image is None or self._image.isNull():
                painter.setPen(QColor("#b5b8bd"))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
                return
            scale, offset = self._geometry()
            target = QRectF(offset.x(), offset.y(), self._image.width() * scale, self._image.height() * scale)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._image)
            if self._result is not None:
                paint_faces(painter, self._result.faces, self._result.classes, scale=scale, offset=offset,
                            selected_id=self._selected, smoothed=self._smoothed,
                            font_px=max(12.0, min(18.0, target.height() / 30)), bounds=target)
        finally:
            painter.end()

    def face_at(self, pos: QPointF) -> int | None:
        """The face under a widget position (the smallest box when boxes overlap)."""
        if self._image is None or self._result is None:
            return None
        scale, offset = self._geometry()
        x, y = (pos.x() - offset.x()) / scale, (pos.y() - offset.y()) / scale
        hits = [f for f in self._result.faces
                if f.face.box[0] <= x <= f.face.box[0] + f.face.box[2]
                and f.face.box[1] <= y <= f.face.box[1] + f.face.box[3]]
        if not hits:
            return None
        return min(hits, key=lambda f: f.face.box[2] * f.face.box[3]).track_id

    def widget_point_of(self, image_x: float, image_y: float) -> QPointF:
        """Where an image pixel is on the widget (tests click faces with it)."""
        scale, offset = self._geometry()
        return QPointF(offset.x() + image_x * scale, offset.y() + image_y * scale)

    @guarded
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            track = self.face_at(event.position())
            if track is not None:
                self.faceClicked.emit(track)
        super().mousePressEvent(event)
