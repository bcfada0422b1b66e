"""What the window shows before a folder is open: a place to drop a folder, and the folders
opened lately, one click each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from .icons import icon


class DropTarget(QFrame):
    """A dashed box that lights up while a folder is dragged over it."""

    dropped = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.setObjectName("drop-target")
        self.setMinimumSize(QSize(420, 160))
        self._style(False)
        title = QLabel("<h2>Drop a folder of photos here</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("or choose one with Open Folder… (Ctrl+O)")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)

    def _style(self, hovering: bool) -> None:
        colour = "palette(highlight)" if hovering else "palette(mid)"
        self.setStyleSheet(f"#drop-target {{ border: 2px dashed {colour}; border-radius: 12px; }}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()
            self._style(True)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 - Qt override
        self._style(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self._style(False)
        for url in event.mimeData().urls():
            if Path(url.toLocalFile()).is_dir():
                self.dropped.emit(url.toLocalFile())
                event.acceptProposedAction()
                return


class WelcomePage(QWidget):
    open_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.drop_target = DropTarget()
        self.drop_target.dropped.connect(self.recent_requested)
        hint = QLabel(
            "Image Sorter indexes every image, then shows similar images, duplicates, clusters and "
            "outliers, and what each photo shows. Nothing moves until you preview it, and every move "
            "can be undone."
        )
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        open_button = QPushButton("Open Folder…")
        open_button.setIcon(icon("open"))
        open_button.clicked.connect(self.open_requested)
        self._recent = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.drop_target, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(hint)
        layout.addWidget(open_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(self._recent)
        layout.addStretch(2)
        self.recent_buttons: list[QPushButton] = []

    def set_recent(self, folders: Sequence[str]) -> None:
        while (item := self._recent.takeAt(0)) is not None:
            if (widget := item.widget()) is not None:
                widget.deleteLater()
        self.recent_buttons = []
        if folders:
            self._recent.addWidget(QLabel("<b>Recent folders</b>"), 0, Qt.AlignmentFlag.AlignCenter)
        for folder in folders[:6]:
            button = QPushButton(icon("folder"), folder)
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            exists = Path(folder).is_dir()
            button.setEnabled(exists)
            button.setToolTip(
                f"Open {folder}" if exists else f"{folder} is not there (a disconnected drive?)"
            )
            button.clicked.connect(lambda _=False, f=folder: self.recent_requested.emit(f))
            self._recent.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
            self.recent_buttons.append(button)
