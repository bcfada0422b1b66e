"""File names and paths in labels: long ones must never widen the window.

A QLabel asks its layout for the width of its whole text, and a label that wraps can only wrap at
spaces, which names like `house_rooms_train_bath_1004_jpg.rf.c9101ba5e5767ae5….jpg` do not have:
one such name in a caption made the window wider than a 1600-px screen. Either shorten the text to
the width the layout gives (`ElidedLabel`) or give it places to wrap (`breakable`).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

ZERO_WIDTH_SPACE = "\u200b"
LONGEST_UNBROKEN = 16  # characters of a run with no separator (a hash) before a break is offered
AFTER_SEPARATOR = re.compile(r"([/\\_.-])")
INSIDE_LONG_RUN = re.compile(
    rf"([^\s/\\_.\-{ZERO_WIDTH_SPACE}]{{{LONGEST_UNBROKEN}}})(?=[^\s/\\_.\-{ZERO_WIDTH_SPACE}])"
)


def breakable(text: str) -> str:
    """`text` that a word-wrapping label may wrap after a separator, or inside a long run of
    letters and digits; it reads the same (the breaks are zero-width spaces)."""
    text = AFTER_SEPARATOR.sub("\\1" + ZERO_WIDTH_SPACE, text)
    return INSIDE_LONG_RUN.sub("\\1" + ZERO_WIDTH_SPACE, text)


def shortened(text: str, limit: int) -> str:
    """`text` cut in the middle to at most `limit` characters, for places with no width of their
    own to elide to (an action's text in a menu and a tool bar)."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return text[: limit - 1 - tail] + "…" + text[len(text) - tail :]


def action_text(text: str) -> str:
    """`text` as a QAction shows it: a "&" in a file name is a "&", not a keyboard mnemonic."""
    return text.replace("&", "&&")


class ElidedLabel(QLabel):
    """One line, shortened with "…" to the width it is given; `text()` is still the whole text.

    It asks for no width of its own (a minimum of none), so the layout decides and the text fits.
    """

    def __init__(
        self, mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._whole = ""
        self._mode = mode
        self.setTextFormat(Qt.TextFormat.PlainText)  # a file name may look like markup

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._whole = text
        self._elide()

    def text(self) -> str:
        return self._whole

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self.fontMetrics().horizontalAdvance(self._whole), super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        super().setText(self.fontMetrics().elidedText(self._whole, self._mode, max(width, 0)))
