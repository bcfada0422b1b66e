"""ask_text: a question dialog wide enough for its title, answering stripped text or None."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog
from pytestqt.qtbot import QtBot

from sorter_app.ui.ask import ask_text, title_width

TITLE = "Import sub-folder names"


def _answer_with(text: str | None, seen: list[tuple[int, int]]) -> None:
    """When the dialog is up: note its width and the width its title needs, then answer."""

    def act() -> None:
        dialog = next(
            w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog) and w.isVisible()
        )
        seen.append((dialog.width(), title_width(dialog, TITLE)))
        if text is None:
            dialog.reject()
        else:
            dialog.setTextValue(text)
            dialog.accept()

    QTimer.singleShot(0, act)


def test_the_dialog_is_as_wide_as_its_title_and_answers_stripped_text(qtbot: QtBot) -> None:
    seen: list[tuple[int, int]] = []
    _answer_with("  rooms  ", seen)
    assert ask_text(None, TITLE, "Label set to fill:", "photos") == "rooms"
    width, needed = seen[0]
    assert width >= needed > 200
    _answer_with("   ", seen)
    assert ask_text(None, TITLE, "Label set to fill:") is None
    _answer_with(None, seen)
    assert ask_text(None, TITLE, "Label set to fill:", "photos") is None
