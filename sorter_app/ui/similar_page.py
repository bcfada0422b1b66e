"""Similar images: the query on top, its nearest neighbours with their scores below.

Any neighbour can become the next query (Enter); Back and Forward walk the queries like a
browser's history. The page keeps only the history of its own navigation; the session runs the
search and says what it found, which the page shows if it is still the query on screen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..core.folder_index import Neighbour
from ..core.ratings import with_rating
from ..session import Changes, Session, SimilarResult
from .icons import icon
from .image_grid import GridItem, ImageGridModel, ImageGridView
from .thumbnails import ThumbnailCache


class QueryHistory:
    """Back/forward over queries: a new query drops everything after the current one."""

    def __init__(self) -> None:
        self._queries: list[str] = []
        self._at = -1

    @property
    def current(self) -> str | None:
        return self._queries[self._at] if self._queries else None

    def push(self, query: str) -> None:
        if query != self.current:
            del self._queries[self._at + 1 :]
            self._queries.append(query)
            self._at = len(self._queries) - 1

    def can_go(self, step: int) -> bool:
        return 0 <= self._at + step < len(self._queries)

    def go(self, step: int) -> str | None:
        if not self.can_go(step):
            return None
        self._at += step
        return self.current

    def clear(self) -> None:
        self._queries.clear()
        self._at = -1


class SimilarPage(QWidget):
    query_requested = Signal(str)  # absolute path whose neighbours are asked for

    def __init__(self, session: Session, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.session = session
        self._thumbnails = thumbnails
        self.history = QueryHistory()
        self._shown: tuple[str, Path, Sequence[Neighbour]] | None = None  # the results on screen
        self.back_button = QToolButton()
        self.back_button.setText("Back")
        self.back_button.setIcon(icon("back"))
        self.back_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.back_button.setToolTip("The previous query (Alt+Left)")
        self.back_button.setShortcut(QKeySequence.StandardKey.Back)
        self.back_button.clicked.connect(lambda: self._walk(-1))
        self.forward_button = QToolButton()
        self.forward_button.setText("Forward")
        self.forward_button.setIcon(icon("forward"))
        self.forward_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.forward_button.setToolTip("The next query (Alt+Right)")
        self.forward_button.setShortcut(QKeySequence.StandardKey.Forward)
        self.forward_button.clicked.connect(lambda: self._walk(1))
        self.query_image = QLabel()
        self.query_image.setFixedSize(96, 96)
        self.query_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_label = QLabel(
            "Select an image in Browse and choose “Show similar images” (or press Enter)."
        )
        self.query_label.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(self.back_button)
        header.addWidget(self.forward_button)
        header.addWidget(self.query_image)
        header.addWidget(self.query_label, 1)

        self.results = ImageGridModel(thumbnails)
        self.grid = ImageGridView()
        self.grid.setModel(self.results)
        self.grid.activated_path.connect(self.open_query)
        self.grid.set_placeholder_text("No query yet")
        session.similar_found.connect(self._found)
        session.changed.connect(self._session_changed)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.grid, 1)
        thumbnails.ready.connect(self._thumbnail_ready)
        thumbnails.requests_dropped.connect(self._show_query_thumbnail)  # another grid's reset dropped it
        self._update_buttons()

    def clear(self) -> None:
        self._shown = None
        self.history.clear()
        self.results.set_items([])
        self.query_image.clear()
        self.query_label.setText("Select an image in Browse and choose “Show similar images”.")
        self._update_buttons()

    def open_query(self, path: str) -> None:
        """A new query: it goes on the history, and the window is asked for its neighbours."""
        self.history.push(path)
        self._ask(path)

    def _walk(self, step: int) -> None:
        query = self.history.go(step)
        if query is not None:
            self._ask(query)

    def _ask(self, query: str) -> None:
        self._shown = None
        self.results.set_items([])
        self.query_label.setText(f"{Path(query).name}\nsearching…")
        self._show_query_thumbnail()
        self._update_buttons()
        self.query_requested.emit(query)
        self.session.find_similar(query)

    def _session_changed(self, changes: Changes) -> None:
        if changes.folder:
            self.clear()
        elif changes.items and self._shown is not None:
            self.show_results(*self._shown)  # a rating: the same images, updated in place

    def _found(self, found: SimilarResult) -> None:
        if found.error:
            self.show_error(found.query, found.error)
        elif self.session.root is not None:
            self.show_results(found.query, self.session.root, found.neighbours)

    def show_results(self, query: str, root: Path, neighbours: Sequence[Neighbour]) -> None:
        """Results for `query`; ignored unless it is still the query on screen."""
        if query != self.history.current:
            return
        self._shown = (query, root, neighbours)
        self.query_label.setText(f"{Path(query).name}\n{len(neighbours)} most similar images")
        names = Counter([Path(query).name, *(Path(n.relpath).name for n in neighbours)])  # the query too
        self.results.set_items(
            [
                GridItem(
                    path=str(root / n.relpath),
                    caption=_caption(n.relpath, names),
                    detail=with_rating(self.session.rating_of(n.relpath), f"similarity {n.similarity:.2f}"),
                    tooltip=n.relpath,
                )
                for n in neighbours
            ]
        )

    def show_error(self, query: str, message: str) -> None:
        if query == self.history.current:
            self.query_label.setText(f"{Path(query).name}\n{message}")

    def _show_query_thumbnail(self) -> None:
        query = self.history.current
        pixmap = self._thumbnails.pixmap(query) if query else None
        if pixmap is None:
            self.query_image.clear()
        else:
            self.query_image.setPixmap(
                pixmap.scaled(
                    96, 96, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )

    def _thumbnail_ready(self, path: str) -> None:
        if path == self.history.current:
            self._show_query_thumbnail()

    def _update_buttons(self) -> None:
        self.back_button.setEnabled(self.history.can_go(-1))
        self.forward_button.setEnabled(self.history.can_go(1))


def _caption(relpath: str, names: Counter[str]) -> str:
    """The file's name; with its folder where another result has the same name (copies of one
    picture in two folders looked like one image shown twice)."""
    path = Path(relpath)
    if names[path.name] < 2:
        return path.name
    return f"{path.name} · {path.parent.as_posix() if path.parent != Path('.') else 'top folder'}"
