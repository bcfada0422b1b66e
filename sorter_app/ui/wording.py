"""How the window words numbers: counts with the right noun, sizes in the units file managers use."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """'1 file', '2,345 files'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def format_size(size: int) -> str:
    """Decimal units, as macOS and GNOME file managers show sizes (and as core's reports word them)."""
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("KB", "MB", "GB"):
        if value < 999.5:
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
