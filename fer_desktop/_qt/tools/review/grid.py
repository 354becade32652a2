"""The thumbnail grid: a QListView over a list model of sample indices, painted by a delegate.

No widget per image: the view asks the delegate to paint only the tiles in sight, and each
tile is drawn once into a QPixmap kept in a bounded LRU cache (a repaint is one drawPixmap),
so 35,887 FER-2013 faces scroll as smoothly as 40 (bench/review_grid.py measures it)."""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from fer_desktop._qt.annotate import to_qimage
from fer_desktop.colors import class_color
from fer_desktop.review import NONE, ReviewSession

THUMB = 96  # px: FER-2013's 48 doubled, SFEW's crops at the model's grey input
THUMB_SIZES = (64, 80, 96, 128, 160, 208)  # View ▸ Larger/Smaller Tiles, Ctrl+wheel


def tile_size(thumb: int) -> QSize:
    """A tile: the face, a margin for the frame and the right/wrong edge, two lines of text."""
    return QSize(thumb + 16, thumb + 44)

SAMPLE_ROLE = Qt.ItemDataRole.UserRole + 1
WRONG = QColor("#e5484d")
RIGHT = QColor("#30a46c")
EDITED = QColor("#f76b15")
PAINT_BUDGET_S = 0.008  # new tiles drawn per paint: half a 60-Hz frame


class TileCache:
    """Sample index -> its whole tile (face, marks, two lines of text) as one QPixmap, least
    recently used dropped first. A repaint of a tile seen before is one drawPixmap; a tile is
    drawn again only when its sample changes (:meth:`invalidate`)."""

    def __init__(self, capacity: int = 700) -> None:  # ~60 KB a tile: ~40 MB, ten screens
        self.capacity = capacity
        self._items: OrderedDict[int, QPixmap] = OrderedDict()
        self.session: ReviewSession | None = None
        self.made = 0  # tiles drawn (the benchmark reports cold vs warm)
        self.text_color = QColor("#000000")
        self.background = QColor("#ffffff")
        self.ratio = 1.0  # device pixels per logical pixel
        self.thumb = THUMB  # the face's side in logical pixels
        self.font = QFont()
        self.font.setPixelSize(11)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.metrics = QFontMetrics(self.font)
        self.bold_metrics = QFontMetrics(self.bold)

    def reset(self, session: ReviewSession | None) -> None:
        self.session = session
        self._items.clear()

    @property
    def tile(self) -> QSize:
        return tile_size(self.thumb)

    def set_thumb(self, thumb: int) -> None:
        self.thumb = thumb
        self._items.clear()

    def invalidate(self, i: int) -> None:
        self._items.pop(i, None)

    def cached(self, i: int) -> QPixmap | None:
        pixmap = self._items.get(i)
        if pixmap is not None:
            self._items.move_to_end(i)
        return pixmap

    def get(self, i: int) -> QPixmap:
        pixmap = self.cached(i)
        if pixmap is not None:
            return pixmap
        pixmap = self._render(i)
        self._items[i] = pixmap
        self.made += 1
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return pixmap

    def _render(self, i: int) -> QPixmap:
        s = self.session
        tile, thumb_side = self.tile, self.thumb
        pixmap = QPixmap(round(tile.width() * self.ratio), round(tile.height() * self.ratio))
        pixmap.setDevicePixelRatio(self.ratio)
        pixmap.fill(self.background)  # opaque: a repaint is a plain copy, not an alpha blend
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        r = QRect(QPoint(0, 0), tile).adjusted(2, 2, -2, -2)
        label_now = s.corrected[i] if s.corrected[i] != NONE else s.given[i]
        predicted = int(s.predicted[i])
        excluded = bool(s.excluded[i])
        if predicted != NONE and not excluded and label_now >= 0:
            # Inside the selection frame, so a selected tile still shows it.
            painter.fillRect(QRect(r.left() + 2, r.top() + 2, 3, thumb_side), RIGHT if predicted == label_now else WRONG)
        thumb = QRect(r.left() + (r.width() - thumb_side) // 2, r.top() + 2, thumb_side, thumb_side)
        image = self._thumbnail(s.samples.images[i])
        target = QRect(QPoint(0, 0), image.size() / self.ratio)
        target.moveCenter(thumb.center())
        painter.drawImage(target, image)
        if excluded:
            painter.fillRect(thumb, QColor(0, 0, 0, 120))
            painter.setPen(QPen(WRONG, 3))
            painter.drawLine(thumb.topLeft(), thumb.bottomRight())
            painter.drawLine(thumb.topRight(), thumb.bottomLeft())
        elif s.corrected[i] != NONE and s.corrected[i] != s.given[i]:
            painter.setBrush(EDITED)
            painter.setPen(Qt.PenStyle.NoPen)
            corner = thumb.topRight() + QPoint(1, 0)
            painter.drawPolygon([corner, corner + QPoint(-20, 0), corner + QPoint(0, 20)])
        low, right = thumb.bottom() - 16, thumb.right() - 16  # the corners' 14-px badges
        if s.corrected[i] != NONE and s.corrected[i] == s.given[i]:  # its label checked and kept
            self._badge(painter, QPoint(right, thumb.top() + 3), "#30a46c", "#ffffff", "✓")
        if s.flagged[i]:
            self._badge(painter, QPoint(thumb.left() + 3, thumb.top() + 3), "#ffc53d", "#000000", "!")
        if s.face_missing[i]:  # blank, or no face found: the crop as it is
            self._badge(painter, QPoint(thumb.left() + 3, low), "#60646c", "#ffffff", "∅")
        if s.copy_group[i] >= 0:  # a copy elsewhere in the dataset: "=" the same pixels, "≈" a near copy only
            exact = s.exact_group[i] >= 0
            self._badge(painter, QPoint(right, low), "#0090ff", "#ffffff", "=" if exact else "≈")
        line1 = QRect(r.left() + 4, thumb.bottom() + 3, r.width() - 8, 15)
        self._label_line(painter, s, i, line1)
        if predicted != NONE:
            line2 = line1.translated(0, 16)
            painter.setFont(self.font)
            painter.setPen(self.text_color)
            text = f"→ {s.classes[predicted]} {s.confidence[i]:.0%}"
            if s.suggested[i] != predicted and label_now < 0:  # what Enter gives, learnt from the labels: first
                text = f"⏎ {s.classes[s.suggested[i]]} · {s.classes[predicted]} {s.confidence[i]:.0%}"
            painter.drawText(line2, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.metrics.elidedText(text, Qt.TextElideMode.ElideRight, line2.width()))
        painter.end()
        return pixmap

    def _badge(self, painter: QPainter, top_left: QPoint, fill: str, ink: str, text: str) -> None:
        """A 14-px disc with one bold character, on a corner of the face."""
        badge = QRect(top_left, QSize(14, 14))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(fill))
        painter.drawEllipse(badge)
        painter.setPen(QColor(ink))
        painter.setFont(self.bold)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _thumbnail(self, crop: np.ndarray) -> QImage:
        """The crop at the tile's face size (device pixels), scaled by OpenCV: 10x faster than a
        smooth QPainter scale, which was most of a tile's cost."""
        import cv2

        h, w = crop.shape[:2]
        side = round(self.thumb * self.ratio)
        scale = side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return to_qimage(cv2.resize(crop, size, interpolation=interp))

    def _label_line(self, painter: QPainter, s: ReviewSession, i: int, rect: QRect) -> None:
        """A class-coloured dot, then the given label, or "given ▸ corrected" when relabelled."""
        state = s.state_of(i)
        shown = state if state is not None and not s.excluded[i] else s.given_name(i)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(class_color(shown)))
        painter.drawEllipse(QRect(rect.left(), rect.center().y() - 4, 8, 8))
        painter.setPen(self.text_color)
        text = s.given_name(i)
        if s.excluded[i]:
            text = f"{text} ✕"
        elif state is not None and state != text:  # a label set here on a sample that had none reads as the label
            text = state if s.given[i] < 0 else f"{text}→{state}"
        width = rect.width() - 11
        # Bold when it fits; "surprise→happy" in the regular face rather than cut.
        font, metrics = (self.bold, self.bold_metrics) if self.bold_metrics.horizontalAdvance(text) <= width \
            else (self.font, self.metrics)
        painter.setFont(font)
        painter.drawText(rect.adjusted(11, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))


class SampleGridModel(QAbstractListModel):
    """Rows are positions in the current order; each holds a sample index of the session."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.session: ReviewSession | None = None
        self.order = np.zeros(0, np.int64)
        self._row_of = np.zeros(0, np.int64)  # sample index -> row, -1 when not shown

    def set_session(self, session: ReviewSession | None) -> None:
        self.beginResetModel()
        self.session = session
        self.order = np.zeros(0, np.int64)
        self._row_of = np.full(len(session) if session else 0, -1, np.int64)
        self.endResetModel()

    def set_order(self, order: np.ndarray) -> None:
        self.beginResetModel()
        self.order = np.asarray(order, np.int64)
        self._row_of[:] = -1
        self._row_of[self.order] = np.arange(len(self.order))
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.order)

    def sample_at(self, row: int) -> int:
        return int(self.order[row])

    def row_of(self, sample: int) -> int:
        return int(self._row_of[sample]) if 0 <= sample < len(self._row_of) else -1

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.session is None:
            return None
        i = int(self.order[index.row()])
        if role == SAMPLE_ROLE:
            return i
        if role == Qt.ItemDataRole.ToolTipRole:
            return tile_tooltip(self.session, i)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.session.ids[i]
        return None

    def refresh(self, sample: int) -> None:
        """Sample ``sample`` changed: its tile is drawn again."""
        row = self.row_of(sample)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index)


def tile_tooltip(s: ReviewSession, i: int) -> str:
    lines = [s.ids[i]] + ([f"from {s.origins[i].describe()}"] if s.origins[i] is not None else [])
    lines.append(f"given: {s.given_name(i)}")
    state = s.state_of(i)
    if state is not None:
        lines.append(f"confirmed: {state}" if state == s.given_name(i) else f"corrected: {state}")
    if s.predicted[i] != NONE:
        lines.append(f"predicted: {s.classes[s.predicted[i]]} {s.confidence[i]:.0%}")
    if s.suggested[i] != s.predicted[i]:
        lines.append(f"suggested: {s.classes[s.suggested[i]]} (Enter), learnt from your labels")
    if not np.isnan(s.scores[i]):
        lines.append(f"label-issue score {s.scores[i]:.3f} (low: likely wrong)"
                     + ("; flagged" if s.flagged[i] else ""))
    if s.doubts is not None and s.face_missing[i]:
        lines.append("not a face? " + ", ".join(s.doubts.reasons(i)))
    copies = s.copies_of(i)
    if len(copies):
        exact = int((s.exact_group[copies] == s.exact_group[i]).sum()) if s.exact_group[i] >= 0 else 0
        kinds = ", ".join(f"{n} {kind}" for n, kind in ((exact, "exact"), (len(copies) - exact, "near")) if n)
        lines.append(f"{len(copies)} cop{'ies' if len(copies) > 1 else 'y'}: {kinds} (Ctrl+D shows them)")
    return "\n".join(lines)


class TileDelegate(QStyledItemDelegate):
    """Paints a tile from the cache (see TileCache for what a tile shows: the face, its label
    or "given ▸ corrected", the prediction and confidence, a red/green edge for wrong/right,
    an orange corner when relabelled, a cross when excluded, a "!" when the ranking flags the
    label, a "∅" when no face was found, a "=" when the same image is in the dataset again, a
    "≈" when only a near copy is); the selection is drawn around it."""

    def __init__(self, cache: TileCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.deadline = float("inf")  # new tiles are drawn until then in this paint, later ones next time
        self.deferred = 0  # tiles left as placeholders in this paint
        self.placeholder = QColor("#d9dce0")

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self.cache.tile

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        if self.cache.session is None:
            return
        rect = option.rect
        i = index.data(SAMPLE_ROLE)
        pixmap = self.cache.cached(i)
        if pixmap is None and time.perf_counter() > self.deadline:
            # A screenful of new tiles (a jump, a dragged scroll bar): show the frame now, a grey
            # square where the face goes, and draw the rest in the next paints.
            self.deferred += 1
            side = self.cache.thumb
            painter.fillRect(QRect(rect.left() + (rect.width() - side) // 2, rect.top() + 4, side, side),
                             self.placeholder)
        else:
            painter.drawPixmap(rect.topLeft(), pixmap if pixmap is not None else self.cache.get(i))
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(QPen(option.palette.highlight().color(), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(1, 1, -2, -2))


class SampleGrid(QListView):
    """The grid; the arrow keys and Space walk the current order (Right/Down/Space next,
    Left/Up previous), as a reviewer reads a ranked list. Shift/Ctrl+click, Shift+arrows and
    Ctrl+A select several tiles, which a label key then changes together."""

    currentSampleChanged = Signal(int)  # sample index, -1 for none
    thumbChanged = Signal(int)  # the faces' side in px
    deferred_paints = 0  # paints that left placeholders (the benchmark counts them)
    last_deferred = 0  # placeholders the last paint left

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = TileCache()
        self.cache.text_color = self.palette().text().color()
        self.cache.background = self.palette().base().color()
        self.cache.ratio = self.devicePixelRatioF()
        self.grid_model = SampleGridModel(self)
        self.setModel(self.grid_model)
        self.setItemDelegate(TileDelegate(self.cache, self))
        self.setViewMode(QListView.ViewMode.ListMode)  # list mode + wrapping: a grid with a cheap layout
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        # Lay out 35,887 tiles in slices between events: a new order shows at once, no freeze.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setMovement(QListView.Movement.Static)
        self.setSpacing(2)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(self.cache.tile.height() // 3)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMouseTracking(False)
        self.anchor_row = -1  # where a Shift range starts: the last tile made current without Shift
        self.selectionModel().currentChanged.connect(self._on_current)

    def set_thumb(self, thumb: int) -> None:
        """Show the faces at ``thumb`` px (tiles drawn again, the current tile kept in view)."""
        thumb = max(THUMB_SIZES[0], min(THUMB_SIZES[-1], int(thumb)))
        if thumb == self.cache.thumb:
            return
        self.cache.set_thumb(thumb)
        self.verticalScrollBar().setSingleStep(self.cache.tile.height() // 3)
        current = self.currentIndex()
        self.scheduleDelayedItemsLayout()  # uniform item sizes are cached until the next layout
        self.executeDelayedItemsLayout()
        if current.isValid():
            self.scrollTo(current)
        self.thumbChanged.emit(thumb)

    def zoom(self, steps: int) -> None:
        """Larger (steps > 0) or smaller tiles, by THUMB_SIZES."""
        now = min(range(len(THUMB_SIZES)), key=lambda k: abs(THUMB_SIZES[k] - self.cache.thumb))
        self.set_thumb(THUMB_SIZES[max(0, min(len(THUMB_SIZES) - 1, now + steps))])

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() // 120
            if steps:
                self.zoom(steps)
            event.accept()
            return
        super().wheelEvent(event)

    def set_session(self, session: ReviewSession | None) -> None:
        self.cache.reset(session)
        self.grid_model.set_session(session)

    def refresh(self, sample: int) -> None:
        """Sample ``sample`` changed (relabelled, excluded): draw its tile again."""
        self.cache.invalidate(sample)
        self.grid_model.refresh(sample)

    def refresh_all(self) -> None:
        """Every tile changed (new suggestions): draw them again as they come into view."""
        self.cache.reset(self.cache.session)
        self.viewport().update()

    def set_order(self, order: np.ndarray, keep: int | None = None) -> None:
        """Show ``order``; ``keep`` (a sample index) stays current when it is still shown,
        else the first tile becomes current."""
        self.grid_model.set_order(order)
        row = self.grid_model.row_of(keep) if keep is not None else -1
        self.go_to_row(row if row >= 0 else 0)

    def selected_rows(self) -> list[int]:
        """The selected rows in order, read from the selection's ranges (Ctrl+A on FER-2013 is one
        range: no 35,887 index objects on every Shift+arrow)."""
        return sorted({row for r in self.selectionModel().selection() for row in range(r.top(), r.bottom() + 1)})

    def selected_samples(self) -> list[int]:
        """The selected tiles' samples in the grid's order; the current one when none is selected."""
        rows = self.selected_rows()
        if not rows:
            current = self.current_sample()
            return [current] if current >= 0 else []
        return [self.grid_model.sample_at(row) for row in rows]

    def current_sample(self) -> int:
        index = self.currentIndex()
        return self.grid_model.sample_at(index.row()) if index.isValid() else -1

    def go_to_row(self, row: int) -> None:
        n = self.grid_model.rowCount()
        if n == 0:
            self.currentSampleChanged.emit(-1)
            return
        index = self.grid_model.index(max(0, min(row, n - 1)))
        self.setCurrentIndex(index)
        self.scrollTo(index)

    def step(self, delta: int) -> None:
        index = self.currentIndex()
        self.go_to_row((index.row() if index.isValid() else -1) + delta)

    def paintEvent(self, event) -> None:
        delegate = self.itemDelegate()
        delegate.deadline = time.perf_counter() + PAINT_BUDGET_S
        delegate.deferred = 0
        super().paintEvent(event)
        delegate.deadline = float("inf")
        self.last_deferred = delegate.deferred
        if delegate.deferred:
            self.deferred_paints += 1
            QTimer.singleShot(0, self.viewport().update)

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        A = QAbstractItemView.CursorAction
        row = self.currentIndex().row() if self.currentIndex().isValid() else -1
        n = self.grid_model.rowCount()
        if action in (A.MoveRight, A.MoveDown, A.MoveNext):
            return self.grid_model.index(min(row + 1, n - 1))
        if action in (A.MoveLeft, A.MoveUp, A.MovePrevious):
            return self.grid_model.index(max(row - 1, 0))
        return super().moveCursor(action, modifiers)

    # Shift ranges run in the grid's order, from the anchor to the tile: Qt's list view selects
    # the rectangle between two tiles' positions instead, which on wrapped rows is not a range.
    def mousePressEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if shift and event.button() == Qt.MouseButton.LeftButton and index.isValid() and self.anchor_row >= 0:
            self._select_range(index.row(), add=bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event) -> None:
        moves = {Qt.Key.Key_Left: QAbstractItemView.CursorAction.MoveLeft,
                 Qt.Key.Key_Right: QAbstractItemView.CursorAction.MoveRight,
                 Qt.Key.Key_Up: QAbstractItemView.CursorAction.MoveUp,
                 Qt.Key.Key_Down: QAbstractItemView.CursorAction.MoveDown}
        action = moves.get(Qt.Key(event.key()))
        if action is not None and event.modifiers() & Qt.KeyboardModifier.ShiftModifier and self.anchor_row >= 0:
            self._select_range(self.moveCursor(action, event.modifiers()).row(), add=False)
            return
        super().keyPressEvent(event)

    def _select_range(self, row: int, *, add: bool) -> None:
        """Select the rows from the anchor to ``row`` and make ``row`` current (the anchor stays)."""
        first, last = sorted((self.anchor_row, row))
        flags = QItemSelectionModel.SelectionFlag.Select if add else QItemSelectionModel.SelectionFlag.ClearAndSelect
        model = self.selectionModel()
        model.select(QItemSelection(self.grid_model.index(first), self.grid_model.index(last)), flags)
        model.setCurrentIndex(self.grid_model.index(row), QItemSelectionModel.SelectionFlag.NoUpdate)
        self.scrollTo(self.grid_model.index(row))

    def keyboardSearch(self, search: str) -> None:
        pass  # typed digits are labels, not a search for an id

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.anchor_row = current.row() if current.isValid() else -1
        self.currentSampleChanged.emit(self.grid_model.sample_at(current.row()) if current.isValid() else -1)
