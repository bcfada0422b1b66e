"""The thumbnail grid behind every image list of the window: browse, similar images, groups, lasso.

Model/view so that a grid of 100,000 images costs only the rows on screen: the view asks the
model for the rows it paints, the model asks the `ThumbnailCache`, which answers at once with a
pixmap or nothing (a placeholder is shown and the load is queued) and later says `ready`, which
the model turns into `dataChanged` for that one row.

Cells stretch so that the columns fill the view's width. A model with section headers (Browse
sorted by cluster or label) switches the view to variable item sizes: a header is a row-wide item,
so each section starts on a line of its own. An empty grid says why it is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractListModel,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionFocusRect,
    QStyleOptionViewItem,
    QWidget,
)

from .rating_keys import rating_of_key
from .thumbnails import ThumbnailCache

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 2
HEADER_ROLE = Qt.ItemDataRole.UserRole + 3
HEADER_PADDING = 6
# What an in-place update changes: words, never a cell's size (a header stays a header).
TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, DETAIL_ROLE)

MIN_THUMBNAIL_SIZE = 64
MAX_THUMBNAIL_SIZE = 384
DEFAULT_THUMBNAIL_SIZE = 160
_ZOOM_FACTOR = 1.25  # one zoom step: multiplicative, so each step looks alike at any size
_WHEEL_STEP = 120  # angleDelta of one notch of a classic mouse wheel; touchpads send fractions
_PADDING = 4  # around the thumbnail and the text, inside the cell
_TEXT_GAP = 2
_CELL_GAP = 6  # between cells
_LAYOUT_BATCH = 500  # rows laid out per event-loop turn, so a huge grid never freezes the window


@dataclass(frozen=True)
class GridItem:
    """One cell. `caption` defaults to the file name; `detail` is a second, dimmer line."""

    path: str
    caption: str = ""
    detail: str = ""
    tooltip: str = ""
    header: bool = False  # a section title spanning the row, not an image

    def __post_init__(self) -> None:
        if not self.caption and not self.header:
            object.__setattr__(self, "caption", Path(self.path).name)


_HEADER_PATH = "\x00header:"  # no file path starts with a NUL


def header_item(title: str, count: int) -> GridItem:
    return GridItem(path=f"{_HEADER_PATH}{title}", caption=f"{title} · {count:,}", header=True)


def is_header_path(path: str) -> bool:
    return path.startswith(_HEADER_PATH)


class ImageGridModel(QAbstractListModel):
    """Grid items, one per path (a repeated path is shown once, where it first appears)."""

    def __init__(self, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._items: list[GridItem | int] = []  # an int: not made yet, the `cell` argument to make it
        self._make: Callable[[int], GridItem] | None = None
        self._paths: list[str] = []  # of the items, in order
        self._rows: dict[str, int] = {}
        self._waiting: set[str] = set()  # shown as the loading placeholder, thumbnail requested
        self._generation = 0
        self.has_headers = False
        self._placeholder = _placeholder(broken=False)
        self._broken_placeholder = _placeholder(broken=True)
        thumbnails.ready.connect(self._on_thumbnail_changed)
        thumbnails.failed.connect(self._on_thumbnail_failed)
        thumbnails.requests_dropped.connect(self._on_requests_dropped)

    @property
    def generation(self) -> int:
        """Bumped by every `set_items` that shows other images: work started for an older
        generation is for another grid."""
        return self._generation

    def set_items(self, items: Iterable[GridItem]) -> None:
        """Show `items`. The same images in the same order (new captions after clustering or a
        retrain) are updated in place: a reset of a 5,000-row grid makes the view lay it out again,
        drops its selection and re-asks for every thumbnail on screen, all on the UI thread."""
        new = list(items)
        if len({item.path for item in new}) < len(new):
            new = _first_of_each_path(new)
        self.set_cells([item.path for item in new], new.__getitem__, any(item.header for item in new))

    def set_cells(self, paths: list[str], cell: Callable[[int], GridItem], headers: bool) -> None:
        """Show one cell per path (distinct paths), each made by `cell(row)` when it is first asked
        for: a folder of 5,000 images shows a few dozen at a time, and making every cell's strings
        up front was most of Browse's rebuild on the UI thread. `headers`: some cells are headers.
        Updates in place as `set_items` does."""
        self._make = cell
        if paths and paths == self._paths:
            self._items = list(range(len(paths)))
            self.dataChanged.emit(self.index(0, 0), self.index(len(paths) - 1, 0), list(TEXT_ROLES))
            return
        self.beginResetModel()
        self._items = list(range(len(paths)))
        self._paths = list(paths)
        self._rows = {path: row for row, path in enumerate(self._paths)}
        self.has_headers = headers
        self._waiting.clear()
        self._generation += 1
        self._thumbnails.cancel_pending()
        self.endResetModel()

    def append_items(self, items: Iterable[GridItem]) -> None:
        new = [item for item in _first_of_each_path(items) if item.path not in self._rows]
        if not new:
            return
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._items.extend(new)
        self._paths.extend(item.path for item in new)
        self._rows.update((item.path, first + offset) for offset, item in enumerate(new))
        self.endInsertRows()

    def remove_paths(self, paths: Iterable[str]) -> None:
        rows = sorted({self._rows[path] for path in paths if path in self._rows}, reverse=True)
        for last, first in _descending_runs(rows):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._items[first : last + 1]
            del self._paths[first : last + 1]
            self.endRemoveRows()
        if rows:
            self._rows = {path: row for row, path in enumerate(self._paths)}

    def items(self) -> list[GridItem]:
        return [self.item(row) for row in range(len(self._items))]

    def paths(self) -> list[str]:
        return list(self._paths)

    def item(self, row: int) -> GridItem:
        item = self._items[row]
        if isinstance(item, int):
            assert self._make is not None
            item = self._items[row] = self._make(item)
        return item

    def row_of(self, path: str) -> int | None:
        return self._rows.get(path)

    # QAbstractListModel -------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._items)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self.item(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return item.caption
        if role == HEADER_ROLE:
            return item.header
        if role == Qt.ItemDataRole.DecorationRole:
            return None if item.header else self.thumbnail(item.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.tooltip or item.path
        if role == PATH_ROLE:
            return item.path
        if role == DETAIL_ROLE:
            return item.detail
        return None

    def detail_text(self, row: int) -> str:
        return self.item(row).detail

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self.item(index.row()).header:  # skipped by the keyboard and never selected
            return Qt.ItemFlag.ItemNeverHasChildren
        return Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren

    def thumbnail(self, path: str) -> QPixmap:
        """The image's thumbnail, or a placeholder while it loads (the load is queued) or if it
        cannot be shown."""
        pixmap = self._thumbnails.pixmap(path)  # queues a load when it is not cached
        if pixmap is not None:
            return pixmap
        if self._thumbnails.is_broken(path):
            return self._broken_placeholder
        self._waiting.add(path)
        return self._placeholder

    @Slot(str)
    def _on_thumbnail_changed(self, path: str) -> None:
        self._waiting.discard(path)
        row = self._rows.get(path)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    @Slot(str, str)
    def _on_thumbnail_failed(self, path: str, _reason: str) -> None:
        self._on_thumbnail_changed(path)

    @Slot()
    def _on_requests_dropped(self) -> None:
        """Repaint the placeholders whose loads were dropped: painting asks for them again, and
        only where they are still on screen (a hidden view does not paint). One signal for all of
        them: after a long scroll hundreds wait, and a signal each took 50 ms of the UI thread when
        another grid's reset dropped them."""
        waiting, self._waiting = self._waiting, set()
        rows = [row for path in waiting if (row := self._rows.get(path)) is not None]
        if rows:
            roles = [Qt.ItemDataRole.DecorationRole]
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), 0), roles)


class ThumbnailDelegate(QStyledItemDelegate):
    """A cell: the thumbnail fitted into a square, the caption below it, then the detail line."""

    def __init__(self, parent: QObject | None = None, thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE) -> None:
        super().__init__(parent)
        self._size = thumbnail_size
        self.cell_width = 0  # stretched to fill the row; 0 = the natural width
        self.row_width = 0  # a header's width: the view's
        # The view asks every row's size when it lays out a grid with headers (5,000 asks for a
        # 5,000-image folder): font metrics are measured once per font and thumbnail size.
        self._cell_sizes: dict[tuple[str, int], QSize] = {}

    @property
    def thumbnail_size(self) -> int:
        return self._size

    def set_thumbnail_size(self, size: int) -> None:
        self._size = size

    def cell_size(self, font: QFont) -> QSize:
        key = (font.key(), self._size)
        size = self._cell_sizes.get(key)
        if size is None:
            text_height = QFontMetrics(font).height() + QFontMetrics(_detail_font(font)).height()
            size = QSize(self._size + 2 * _PADDING, self._size + 2 * _PADDING + _TEXT_GAP + text_height)
            self._cell_sizes[key] = size
        return QSize(size)

    def thumbnail_rect(self, cell: QRect) -> QRect:
        return QRect(cell.x() + (cell.width() - self._size) // 2, cell.y() + _PADDING, self._size, self._size)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        if index.data(HEADER_ROLE):
            return QSize(
                max(self.row_width, 1), QFontMetrics(_header_font(option.font)).height() + 2 * HEADER_PADDING
            )
        size = self.cell_size(option.font) + QSize(_CELL_GAP, _CELL_GAP)
        return QSize(max(size.width(), self.cell_width), size.height())

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        # The cell's item is asked for once, not through index.data() per role: each of those is a
        # call from C++ back into Python, and with worker threads wanting the GIL every such call
        # may wait for it (a grid's paint: 7 ms alone, 21 ms beside three busy workers).
        model = index.model()
        assert isinstance(model, ImageGridModel)
        item = model.item(index.row())
        cell, state, palette, font = option.rect, option.state, option.palette, option.font
        if item.header:
            _paint_header(painter, option, item.caption)
            return
        selected = bool(state & QStyle.StateFlag.State_Selected)
        group = _colour_group(state)
        if cell.width() > self.cell_size(font).width() + _CELL_GAP:  # a stretched cell: centre it
            natural = self.cell_size(font)
            cell = QRect(
                cell.x() + (cell.width() - natural.width()) // 2, cell.y(), natural.width(), natural.height()
            )
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.brush(group, QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(cell, _PADDING, _PADDING)
        if state & QStyle.StateFlag.State_HasFocus:
            # Under the thumbnail: some styles fill the focus frame, which would tint the photo.
            _draw_focus_rect(painter, option, group, selected)

        area = self.thumbnail_rect(cell)
        pixmap = model.thumbnail(item.path)
        if not pixmap.isNull():
            target = QRect(
                QPoint(0, 0), pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            )
            target.moveCenter(area.center())
            painter.drawPixmap(target, pixmap)

        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_width = cell.width() - 2 * _PADDING
        caption_metrics = QFontMetrics(font)
        caption_rect = QRect(
            cell.x() + _PADDING, area.bottom() + 1 + _TEXT_GAP, text_width, caption_metrics.height()
        )
        caption = caption_metrics.elidedText(item.caption, Qt.TextElideMode.ElideMiddle, text_width)
        painter.setFont(font)
        painter.setPen(palette.color(group, text_role))
        painter.drawText(caption_rect, Qt.AlignmentFlag.AlignCenter, caption)

        detail = item.detail
        if detail:
            detail_font = _detail_font(font)
            detail_metrics = QFontMetrics(detail_font)
            detail_rect = QRect(
                caption_rect.x(), caption_rect.bottom() + 1, text_width, detail_metrics.height()
            )
            dim = QColor(palette.color(group, text_role))
            dim.setAlphaF(0.8)
            painter.setFont(detail_font)
            painter.setPen(dim)
            painter.drawText(
                detail_rect,
                Qt.AlignmentFlag.AlignCenter,
                detail_metrics.elidedText(detail, Qt.TextElideMode.ElideRight, text_width),
            )
        painter.restore()


class ImageGridView(QListView):
    """A zoomable, keyboard-driven icon grid; its model (`setModel`) is an `ImageGridModel`.

    Enter/Return emits `activated_path` (not Qt's `activated`, which some platforms fire on a
    single click); double-click and Space emit `view_requested` (the full-size viewer); the context
    menu asks with the selected paths (`context_requested`), so every grid offers the same menu.
    """

    activated_path = Signal(str)
    view_requested = Signal(str)
    context_requested = Signal(list, QPoint)  # selected paths, global position
    trash_requested = Signal(list)  # selected paths: the Delete key
    rating_requested = Signal(list, int)  # selected paths, rating: Ctrl+0…5, Alt+Delete (as Bridge)
    current_path_changed = Signal(str)  # only for a valid current item
    zoomed = Signal(int)

    def __init__(self, parent: QWidget | None = None, thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE) -> None:
        super().__init__(parent)
        self._delegate = ThumbnailDelegate(self, _clamp(thumbnail_size))
        self._wheel_angle = 0
        self._scroll_target = QPersistentModelIndex()
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(_LAYOUT_BATCH)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(self._delegate)
        self.placeholder_text = ""  # said in the middle of an empty grid
        self._headers = False
        self._update_grid()
        self.doubleClicked.connect(self._view)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)

    def setModel(self, model: QAbstractItemModel | None) -> None:  # noqa: N802 - Qt override
        super().setModel(model)
        if isinstance(model, ImageGridModel):
            model.modelReset.connect(self._layout_for_model)
            self._layout_for_model()

    @property
    def thumbnail_size(self) -> int:
        return self._delegate.thumbnail_size

    def set_thumbnail_size(self, size: int) -> None:
        size = _clamp(size)
        if size == self._delegate.thumbnail_size:
            return
        self._delegate.set_thumbnail_size(size)
        self._update_grid()
        if self.currentIndex().isValid():
            self._scroll_to_when_laid_out(self.currentIndex())  # zoom about what the user looks at
        self.zoomed.emit(size)

    def shown_paths(self) -> list[str]:
        """Every image of the grid in its order (headers left out), without making its cells."""
        return [path for path in self._grid_model().paths() if not is_header_path(path)]

    def selected_paths(self) -> list[str]:
        """In grid order, whatever order they were selected in."""
        selection = self.selectionModel().selection()  # blocks, not indexes: Ctrl+A of 100,000 is one
        rows: set[int] = set()
        for i in range(selection.count()):
            rows.update(range(selection.at(i).top(), selection.at(i).bottom() + 1))
        model = self._grid_model()
        return [item.path for row in sorted(rows) if not (item := model.item(row)).header]

    def select_path(self, path: str) -> None:
        """Make `path` the current and only selected item, scrolled into view; ignored if not shown."""
        model = self._grid_model()
        row = model.row_of(path)
        if row is None:
            return
        index = model.index(row, 0)
        self.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._scroll_to_when_laid_out(index)

    def select_paths(self, paths: Iterable[str], current: str) -> None:
        """`current` the current item, and the shown ones of `paths` selected with it: a rebuild of
        the grid (a new sort, a rating) keeps the user's selection."""
        self.select_path(current)
        model = self._grid_model()
        selection = QItemSelection()
        for row in (r for r in map(model.row_of, paths) if r is not None):
            selection.select(model.index(row, 0), model.index(row, 0))
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.Select)

    # Qt overrides ---------------------------------------------------------------------------------

    def currentChanged(  # noqa: N802
        self, current: QModelIndex | QPersistentModelIndex, previous: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().currentChanged(current, previous)
        if current.isValid():
            self.current_path_changed.emit(current.data(PATH_ROLE))

    def dataChanged(  # noqa: N802
        self,
        top_left: QModelIndex | QPersistentModelIndex,
        bottom_right: QModelIndex | QPersistentModelIndex,
        roles: Sequence[int] = (),
    ) -> None:
        """New words for many cells (captions after a retrain) are a repaint, not a new layout.

        QListView measures every changed row again, whatever the roles: with section headers the
        rows have no uniform size, so new captions for a 5,000-image folder cost 5,000 `sizeHint`
        calls on the UI thread (110 ms). Text roles never change a cell's size here, so such a
        change skips QListView's part and goes to QAbstractItemView's, which repaints.
        """
        if roles and top_left.row() != bottom_right.row() and set(roles) <= set(TEXT_ROLES):
            QAbstractItemView.dataChanged(self, top_left, bottom_right, roles)
        else:
            super().dataChanged(top_left, bottom_right, roles)

    def updateGeometries(self) -> None:  # noqa: N802
        super().updateGeometries()  # called, among other times, when a batched layout is done
        self._scroll_to_target()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, ctrl = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._activate(self.currentIndex())
        elif key == Qt.Key.Key_Space and self.currentIndex().isValid():
            self._view(self.currentIndex())
        elif (rating := rating_of_key(event)) is not None and (selected := self.selected_paths()):
            self.rating_requested.emit(selected, rating)
        elif event.matches(QKeySequence.StandardKey.Delete) and (selected := self.selected_paths()):
            self.trash_requested.emit(selected)
        elif ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):  # Ctrl+= is Ctrl++ without Shift
            self._zoom(1)
        elif ctrl and key == Qt.Key.Key_Minus:
            self._zoom(-1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
            return
        self._wheel_angle += event.angleDelta().y()
        steps = int(self._wheel_angle / _WHEEL_STEP)  # toward zero: the remainder waits for more
        if steps:
            self._wheel_angle -= steps * _WHEEL_STEP
            self._zoom(steps)
        event.accept()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._update_grid()  # the caption lines' height follows the font

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_grid()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        model = self.model()
        if self.placeholder_text and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.viewport().rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.placeholder_text,
            )

    def set_placeholder_text(self, text: str) -> None:
        self.placeholder_text = text
        self.viewport().update()

    # --------------------------------------------------------------------------------------------------

    def _grid_model(self) -> ImageGridModel:
        model = self.model()
        if not isinstance(model, ImageGridModel):
            raise TypeError(f"ImageGridView shows an ImageGridModel, not {type(model).__name__}")
        return model

    def _zoom(self, steps: int) -> None:
        self.set_thumbnail_size(round(self._delegate.thumbnail_size * _ZOOM_FACTOR**steps))

    def _scroll_to_when_laid_out(self, index: QModelIndex) -> None:
        """Batched layout places rows a batch per event-loop turn, and a row not yet placed has
        nowhere to scroll to: remember it until it has."""
        self._scroll_target = QPersistentModelIndex(index)
        self._scroll_to_target()

    def _scroll_to_target(self) -> None:
        if not self._scroll_target.isValid():
            return
        index = self.model().index(self._scroll_target.row(), 0)
        if self.visualRect(index).isValid():
            self._scroll_target = QPersistentModelIndex()
            self.scrollTo(index)

    def _layout_for_model(self) -> None:
        """Headers need items of different sizes; a plain grid keeps the fast uniform layout."""
        model = self.model()
        headers = isinstance(model, ImageGridModel) and model.has_headers
        if headers != self._headers:
            self._headers = headers
            self.setUniformItemSizes(not headers)
            self._update_grid()

    def _update_grid(self) -> None:
        """Cells as wide as it takes for the columns to fill the viewport (no ragged gap at the right)."""
        size = self._delegate.thumbnail_size
        self.setIconSize(QSize(size, size))
        natural = self._delegate.cell_size(self.font()) + QSize(_CELL_GAP, _CELL_GAP)
        # The width left with a scroll bar, whether or not one shows: its appearing must not
        # change the number of columns (and so the layout) under the user's eyes.
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width = max(self.width() - 2 * self.frameWidth() - bar - 1, natural.width())
        columns = max(1, width // natural.width())
        self._delegate.cell_width = width // columns
        self._delegate.row_width = width - 1
        if self._headers:
            self.setGridSize(QSize())
            self.setSpacing(0)
            self.scheduleDelayedItemsLayout()
        else:
            self.setGridSize(QSize(width // columns, natural.height()))

    @Slot(QModelIndex)
    def _activate(self, index: QModelIndex) -> None:
        if not index.data(HEADER_ROLE):
            self.activated_path.emit(index.data(PATH_ROLE))

    @Slot(QModelIndex)
    def _view(self, index: QModelIndex) -> None:
        if index.isValid() and not index.data(HEADER_ROLE):
            self.view_requested.emit(index.data(PATH_ROLE))

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if index.isValid() and not self.selectionModel().isSelected(index) and not index.data(HEADER_ROLE):
            self.select_path(index.data(PATH_ROLE))
        chosen = self.selected_paths()
        if chosen:
            self.context_requested.emit(chosen, self.viewport().mapToGlobal(pos))


def _clamp(size: int) -> int:
    return max(MIN_THUMBNAIL_SIZE, min(MAX_THUMBNAIL_SIZE, size))


def _first_of_each_path(items: Iterable[GridItem]) -> list[GridItem]:
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.path not in seen:
            seen.add(item.path)
            unique.append(item)
    return unique


def _descending_runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """[9, 8, 7, 4, 3] → [(9, 7), (4, 3)]: blocks of adjacent rows, each removed in one step."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def _detail_font(font: QFont) -> QFont:
    """A little smaller than the caption, never below 8 pt: it must stay readable."""
    smaller = QFont(font)
    if font.pointSizeF() > 0:
        smaller.setPointSizeF(max(8.0, font.pointSizeF() * 0.9))
    else:
        smaller.setPixelSize(max(11, round(font.pixelSize() * 0.9)))
    return smaller


def _header_font(font: QFont) -> QFont:
    bold = QFont(font)
    bold.setBold(True)
    if font.pointSizeF() > 0:
        bold.setPointSizeF(font.pointSizeF() * 1.1)
    return bold


def _paint_header(painter: QPainter, option: QStyleOptionViewItem, text: str) -> None:
    painter.save()
    rect = option.rect.adjusted(_PADDING, HEADER_PADDING // 2, -_PADDING, -HEADER_PADDING // 2)
    painter.setFont(_header_font(option.font))
    # Active, not the option's group: a header cannot be selected, so its state is "disabled",
    # whose grey (#BEBEBE on white) a newcomer could hardly read.
    painter.setPen(option.palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText))
    painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
    line = QColor(option.palette.color(QPalette.ColorRole.Mid))
    painter.setPen(QPen(line, 1))
    painter.drawLine(rect.bottomLeft(), rect.bottomRight())
    painter.restore()


def _colour_group(state: QStyle.StateFlag) -> QPalette.ColorGroup:
    if not state & QStyle.StateFlag.State_Enabled:
        return QPalette.ColorGroup.Disabled
    if not state & QStyle.StateFlag.State_Active:
        return QPalette.ColorGroup.Inactive
    return QPalette.ColorGroup.Normal


def _draw_focus_rect(
    painter: QPainter, option: QStyleOptionViewItem, group: QPalette.ColorGroup, selected: bool
) -> None:
    """As QStyledItemDelegate draws it, so that focus looks native in every style."""
    focus = QStyleOptionFocusRect()
    focus.rect = option.rect
    focus.palette = option.palette
    focus.state = option.state | QStyle.StateFlag.State_KeyboardFocusChange | QStyle.StateFlag.State_Item
    background = QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Window
    focus.backgroundColor = option.palette.color(group, background)
    style = option.widget.style() if option.widget is not None else QApplication.style()
    style.drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, focus, painter, option.widget)


def _placeholder(broken: bool, size: int = 96) -> QPixmap:
    """A neutral tile while a thumbnail loads; a crossed one for a file that cannot be shown."""
    palette = QGuiApplication.palette()
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 2))
    painter.setBrush(palette.color(QPalette.ColorRole.Midlight))
    tile = QRect(0, 0, size, size).adjusted(4, 4, -4, -4)
    painter.drawRoundedRect(tile, 8, 8)
    if broken:
        inset = tile.adjusted(size // 4, size // 4, -size // 4, -size // 4)
        painter.setPen(QPen(QColor(200, 40, 40), 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(inset.topLeft(), inset.bottomRight())
        painter.drawLine(inset.topRight(), inset.bottomLeft())
    painter.end()
    return pixmap
