"""Icons from a maintained set (qtawesome's Material Design Icons), with the platform theme's as
a fallback, so toolbar and buttons look alike on every desktop and in the frozen build."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

# name → (qtawesome id, freedesktop theme name)
ICONS = {
    "open": ("mdi6.folder-open-outline", "document-open"),
    "undo": ("mdi6.undo", "edit-undo"),
    "redo": ("mdi6.redo", "edit-redo"),
    "settings": ("mdi6.cog-outline", "preferences-system"),
    "view": ("mdi6.image-outline", "image-x-generic"),
    "similar": ("mdi6.image-search-outline", "edit-find"),
    "export": ("mdi6.file-export-outline", "document-save-as"),
    "trash": ("mdi6.trash-can-outline", "user-trash"),
    "move": ("mdi6.folder-move-outline", "folder-new"),
    "copy": ("mdi6.content-copy", "edit-copy"),
    "keep": ("mdi6.star-outline", "emblem-favorite"),
    "compare": ("mdi6.compare-horizontal", "view-split-left-right"),
    "dismiss": ("mdi6.close-circle-outline", "dialog-cancel"),
    "resume": ("mdi6.play-circle-outline", "media-playback-start"),
    "help": ("mdi6.help-circle-outline", "help-contents"),
    "back": ("mdi6.arrow-left", "go-previous"),
    "forward": ("mdi6.arrow-right", "go-next"),
    "zoom-fit": ("mdi6.fit-to-screen-outline", "zoom-fit-best"),
    "zoom-100": ("mdi6.magnify-plus-outline", "zoom-original"),
    "close": ("mdi6.close", "window-close"),
    "folder": ("mdi6.folder-outline", "folder"),
    "refresh": ("mdi6.refresh", "view-refresh"),
}


@cache
def icon(name: str) -> QIcon:
    """The named icon; an empty one if neither source has it (text still labels the action)."""
    awesome, theme = ICONS[name]
    try:
        import qtawesome

        found: QIcon = qtawesome.icon(awesome)
        if not found.isNull():
            return found
    except Exception:  # a missing font file in an odd install: fall back to the theme
        pass
    return QIcon.fromTheme(theme)
