"""Menus made for one right-click or one key press."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QWidget


def transient_menu(parent: QWidget) -> QMenu:
    """A popup menu that deletes itself, with its actions, once closed. A menu made per right-click
    and kept by its parent piles up, and the Keyboard Shortcuts dialog (which lists the window's
    actions) listed its Del, Space and Return once per click."""
    menu = QMenu(parent)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return menu
