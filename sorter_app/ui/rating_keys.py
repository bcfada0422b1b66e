"""Rating from the keyboard and the context menus, with digiKam's and Bridge's keys: Ctrl+1…5 for
stars, Ctrl+0 for none, Alt+Delete to reject."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMenu

from ..core.ratings import MAX_STARS, REJECTED, UNRATED, rating_name, rating_text

_DIGITS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(MAX_STARS + 1)}
REJECT_KEYS = "Alt+Del"


def rating_of_key(event: QKeyEvent) -> int | None:
    """The rating a key press asks for, or None for any other key."""
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    key = event.key()
    if modifiers == Qt.KeyboardModifier.ControlModifier and key in _DIGITS:
        return _DIGITS[key]
    if modifiers == Qt.KeyboardModifier.AltModifier and key == Qt.Key.Key_Delete:
        return REJECTED
    return None


def add_rating_menu(menu: QMenu, rate: Callable[[int], None], current: int | None = None) -> QMenu:
    """A "Rating" submenu: no rating, 1–5 stars, reject, each with its keys; `current` (the
    images' one rating, if they share it) is checked."""
    ratings = QMenu("Rating", menu)
    for rating in (UNRATED, *range(1, MAX_STARS + 1), REJECTED):
        text = rating_text(rating) if rating > UNRATED else rating_name(rating).capitalize()
        action = ratings.addAction(text, partial(rate, rating))
        action.setShortcut(QKeySequence(REJECT_KEYS if rating == REJECTED else f"Ctrl+{rating}"))
        action.setCheckable(current is not None)
        action.setChecked(rating == current)
    menu.addMenu(ratings)
    return ratings
