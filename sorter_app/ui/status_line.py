"""The status bar's message: one line, elided to the room left by the progress strip, whole in its
tooltip, cleared after a while.

QStatusBar's own temporary message is cut off at the first permanent widget with no "…", so a long
report ("Set “photos”: 265 images labelled; labels …") ran into the progress strip's label
mid-letter. This is a normal status-bar widget that stretches, so the layout gives it exactly the
width the strip leaves, and it shortens itself to that.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QWidget

from .long_text import ElidedLabel


class StatusLine(ElidedLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.TextElideMode.ElideRight, parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear)

    def say(self, text: str, ms: int) -> None:
        """Show `text` for `ms` milliseconds (until another message replaces it)."""
        self.setText(text)
        self.setToolTip(text)
        self._timer.start(ms)

    def clear(self) -> None:
        self.setText("")
        self.setToolTip("")
