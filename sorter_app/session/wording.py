"""Every sentence the window says about analyses and file operations, in one table.

Views and the session look words up here instead of spelling them where they are used, so the
status bar, the tab, the progress strip and the undo menu always call a thing by one name.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.kinds import AnalysisKind, MoveMode


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


@dataclass(frozen=True)
class AnalysisWords:
    title: str  # the tab
    running: str  # the progress strip, while it computes
    hint: str  # the page's line before anything is found
    empty: str  # shown in the page when the analysis found nothing
    noun: str  # "cluster", "group"


ANALYSIS: dict[AnalysisKind, AnalysisWords] = {
    AnalysisKind.DUPLICATES: AnalysisWords(
        "Duplicates",
        "Finding duplicates",
        "Exact copies and edited copies (re-encoded, resized, cropped, flipped); each group keeps one copy.",
        "No duplicates in this folder.",
        "group",
    ),
    AnalysisKind.CLUSTERS: AnalysisWords(
        "Clusters",
        "Finding clusters",
        "Images grouped by what they show.",
        "No clusters yet: the folder has too few indexed images.",
        "cluster",
    ),
    AnalysisKind.OUTLIERS: AnalysisWords(
        "Outliers",
        "Finding outliers",
        "The images least like any other in the folder, most unusual first.",
        "No outliers: every image has close neighbours.",
        "group",
    ),
    AnalysisKind.SEED_GROUPS: AnalysisWords(
        "Seed groups",
        "Gathering seed groups",
        "Pick example images (right-click → Use as seed); each gathers the images most like it.",
        "No seeds yet. In Browse, right-click an image and choose “Use as seed”.",
        "seed group",
    ),
    AnalysisKind.MAP: AnalysisWords(
        "Map",
        "Drawing the map",
        "Every image as a point laid out by similarity, coloured by cluster.",
        "No images on the map yet.",
        "point",
    ),
}


@dataclass(frozen=True)
class MoveWords:
    verb: str  # "Move"
    done: str  # "moved"
    running: str  # "Moving files"
    act_on_groups: str  # the groups page's button
    undo: str  # "Move" in "Undo Move of 12 Files"


MOVES: dict[MoveMode, MoveWords] = {
    MoveMode.MOVE: MoveWords("Move", "moved", "Moving files", "Move ticked into folders…", "Move"),
    MoveMode.COPY: MoveWords("Copy", "copied", "Copying files", "Copy ticked into folders…", "Copy"),
    MoveMode.TRASH: MoveWords(
        "Move to Trash",
        "moved to the trash",
        "Moving to the trash",
        "Send extra copies to the trash…",
        "Trash",
    ),
}

INDEXING = "Indexing"
LOADING = "Loading"
PLANNING = "Planning"
UNDOING = "Undoing"
REDOING = "Redoing"
EXPORTING = "Exporting"
RECOVERING = "Checking moves"


def analysis_summary(kind: AnalysisKind, groups: int, images: int, *, alike: int = 0) -> str:
    """The line above a page's groups once computed; `alike`: duplicates' look-alike groups."""
    if kind is AnalysisKind.CLUSTERS:
        return (
            f"{plural(groups, 'cluster')} of {plural(images, 'image')}. Tick the ones to move into folders."
        )
    if kind is AnalysisKind.DUPLICATES:
        found = f"{plural(groups, 'group')} of duplicates ({plural(images, 'image')})"
        if alike:
            found += f"; {plural(alike, 'group')} of look-alikes to look at, never trashed"
        return found + "."
    if kind is AnalysisKind.OUTLIERS:
        return f"The {plural(images, 'image')} least like any other, most unusual first."
    return f"{plural(groups, 'seed group')} ({plural(images, 'image')})."
