"""A one-line question in a dialog wide enough for its title.

QInputDialog sizes itself to its question and field; a window manager then cuts a longer title
in the middle ("Import su… der names"), so the dialog no longer says what it is for.
"""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog, QInputDialog, QWidget

TITLE_BAR_ROOM = 160  # the title bar's icon and buttons, in pixels
MAX_WIDTH = 640


def title_width(dialog: QWidget, title: str) -> int:
    """How wide `dialog` must be for a window manager to show `title` whole (title bars often use
    a bolder, larger font than the dialog: a third is added)."""
    return min(MAX_WIDTH, dialog.fontMetrics().horizontalAdvance(title) * 4 // 3 + TITLE_BAR_ROOM)


class _Question(QInputDialog):
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        # The layout, made as the dialog is first shown, fixes its size to the contents': a
        # minimum width set before then is overridden. Shown events come before the window is.
        super().showEvent(event)
        self.setMinimumWidth(title_width(self, self.windowTitle()))


def ask_text(parent: QWidget | None, title: str, question: str, text: str = "") -> str | None:
    """The answer, stripped, or None when cancelled or left empty."""
    dialog = _Question(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(question)
    dialog.setTextValue(text)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.textValue().strip() or None
