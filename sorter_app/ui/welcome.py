"""What the window shows before a folder is open: how to start, and the folders opened lately."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    open_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        title = QLabel("<h2>Drop a folder of photos here</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Image Sorter indexes every image, then shows similar images, duplicates, clusters and "
            "outliers, and what each photo shows. Nothing moves until you preview it, and every move "
            "can be undone."
        )
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        open_button = QPushButton("Open Folder…")
        open_button.clicked.connect(self.open_requested)
        self._recent = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(open_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(self._recent)
        layout.addStretch(2)

    def set_recent(self, folders: Sequence[str]) -> None:
        while (item := self._recent.takeAt(0)) is not None:
            if (widget := item.widget()) is not None:
                widget.deleteLater()
        if folders:
            self._recent.addWidget(QLabel("Recent folders:"), 0, Qt.AlignmentFlag.AlignCenter)
        for folder in folders[:5]:
            button = QPushButton(folder)
            button.setFlat(True)
            button.setEnabled(Path(folder).is_dir())
            button.clicked.connect(lambda _=False, f=folder: self.recent_requested.emit(f))
            self._recent.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
