"""A plan file is data anyone can edit: what every entry must satisfy before anything moves.

A plan made by `make_plan` always passes; a forged or hand-edited one that would reach outside the
folder it names is refused as a whole, with the first reason, before a single file is touched:

- every source is an image file (by extension, as the scanner sees them) inside the plan's folder
  once symbolic links and `..` are resolved, so no link inside the folder can pull in a file that
  lives elsewhere;
- every destination keeps its source's extension and is `<destination root>/<group folder>/<name>`,
  its group folder, once resolved, still directly under the root (not a link pointing elsewhere);
  no destination is hidden, and no destination root is inside a hidden folder other than the plan's
  own folder (`~/.config/autostart` is not where photos are sorted);
- a trash plan's destination root is the real trash (the one this program would use), so files
  and their `.trashinfo` records only go to its `files/` and `info/` folders.

The check runs when `sorter move` (or the window) applies the plan, before the journal is created,
and again for each entry right before it is carried out (mover.py), so that a folder swapped for a
link while the plan is being applied is caught; what is left is the instant between that check and
the file's move.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .plan import Move, MovePlan, PlanError, is_inside
from .scan import is_image_name
from .trash import default_trash_root


@dataclass(frozen=True)
class Bounds:
    """Where a plan may read and write, resolved: its folder, and its destination root (or trash)."""

    mode: str
    folder: Path
    destination: Path


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in ("", "..")


def plan_bounds(plan: MovePlan, trash_root: Path | None = None) -> Bounds:
    """The resolved folder and destination of `plan`, or PlanError if they are missing or not allowed.

    `trash_root` is the trash this program uses (default: the system trash, see trash.py).
    """
    if plan.folder is None or plan.destination is None:
        raise PlanError(
            "the plan does not name its folder and destination (made by an older version?): make it again"
        )
    folder = _real(plan.folder)
    if not folder.is_dir():
        raise PlanError(f"the plan's folder {plan.folder} is not a folder")
    destination = _real(plan.destination)
    if plan.mode == "trash":
        trash = _real(trash_root if trash_root is not None else default_trash_root())
        if destination != trash:
            raise PlanError(f"the plan sends files to {plan.destination}, which is not the trash ({trash})")
        for sub in ("files", "info"):
            if _real(trash / sub) != trash / sub:
                raise PlanError(f"the trash's {sub} folder is a link to {_real(trash / sub)}: not used")
    elif not is_inside(str(destination), str(folder)) and any(_hidden(p) for p in destination.parts[1:]):
        raise PlanError(f"the plan's destination {plan.destination} is inside a hidden folder")
    return Bounds(plan.mode, folder, destination)


def resolved_inside(path: Path, folder: Path, real: Callable[[str], str] = os.path.realpath) -> bool:
    """Whether `path`, its folder resolved (symbolic links, '..'), lies in the resolved `folder`:
    where a move may read from, and where an undo may put a file back."""
    directory, name = os.path.split(os.fspath(path))
    return is_inside(os.path.join(real(directory), name), os.fspath(folder))


def entry_problem(bounds: Bounds, move: Move, real: Callable[[str], str] = os.path.realpath) -> str | None:
    """Why `move` may not be carried out within `bounds`, or None if it may. `real` resolves a
    folder (a cached `os.path.realpath` when many moves share folders)."""
    src, dst = move.src, move.dst
    src_name = os.path.basename(os.fspath(src))
    dst_dir, dst_name = os.path.split(os.fspath(dst))
    if not is_image_name(src_name) or _hidden(src_name):
        return f"{src} is not an image file the folder's index could hold"
    if not resolved_inside(src, bounds.folder, real):
        return f"{src} is outside the plan's folder {bounds.folder} (through a symbolic link or '..')"
    if os.path.splitext(dst_name)[1].lower() != os.path.splitext(src_name)[1].lower():  # .JPG is .jpg
        return f"{dst} does not keep the extension of {src_name}"
    if _hidden(dst_name):
        return f"{dst} is a hidden name"
    group = real(dst_dir)
    if bounds.mode == "trash":
        if group != os.path.join(bounds.destination, "files"):
            return f"{dst} is not in the trash's files folder ({bounds.destination / 'files'})"
    else:
        group_name = os.path.basename(dst_dir)
        if _hidden(group_name) or group != os.path.join(bounds.destination, group_name):
            return f"{dst} is not in a folder directly under the plan's destination {bounds.destination}"
    return None


def check_plan(plan: MovePlan, trash_root: Path | None = None) -> Bounds:
    """Refuse `plan` (PlanError, the first reason) unless every entry stays within its bounds."""
    bounds = plan_bounds(plan, trash_root)
    real = functools.cache(os.path.realpath)  # thousands of moves share a few dozen folders
    for n, move in enumerate(plan.moves):
        if (why := entry_problem(bounds, move, real)) is not None:
            raise PlanError(f"refusing plan {plan.id}: moves[{n}]: {why}")
    by_source = {m.src: m.dst for m in plan.moves}
    for n, rename in enumerate(plan.renamed):
        if by_source.get(rename.src) != rename.dst:
            raise PlanError(f"refusing plan {plan.id}: renamed[{n}] does not match a move of the plan")
    return bounds
