"""The user's word on what images show ("This is…", "Correct prediction…"), as undo steps.

A correction is written in a serial job that also reads every head's corrections of those images
before and after (a room correction settles the scene too, and "outdoor" takes a room away), so
Undo puts back exactly what each image had, and Redo what the step gave it. The rules of what a
label implies stay in core (`corrections.py`); this only records and replays their outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.browse import BrowseItem
from ..core.library import Library
from .events import Changes
from .history import CorrectionStep
from .serial_writes import SerialWrites
from .wording import plural

if TYPE_CHECKING:
    from .session import Session

Corrected = tuple[CorrectionStep, list[BrowseItem]]  # the step as written, and the folder's items now


class Corrections:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._writes = SerialWrites(session, "correct")

    def correct(self, paths: Iterable[str], label: str | None) -> None:
        """`label` as the user's word on the images (None: forget what they said), one undo step."""
        root = self.s.root
        chosen = list(paths)
        if root is None or not chosen:
            return
        words = (label or "").replace("_", " ")
        images = plural(len(chosen), "Image")
        text = f"Correct {images} “{words}”" if label is not None else f"Clear Correction of {images}"
        hashes = [
            h for p in chosen if (item := self.s.items.get(self.s.relpath(p))) and (h := item.content_hash)
        ]

        def call(lib: Library, progress: object, cancelled: object) -> Corrected:
            before = lib.catalog.corrections(hashes)
            for path in chosen:
                if label is None:
                    lib.clear_correction(root, Path(path))
                else:
                    lib.correct(root, Path(path), label)
            after = lib.catalog.corrections(hashes)
            step = CorrectionStep(text, _each(hashes, before), _each(hashes, after))
            return step, lib.browse_items(root)

        def done(result: Corrected) -> None:
            step, items = result
            self.s.groups.history.push(step)
            n = plural(len(chosen), "image")
            what = f"Corrected {n} as “{words}”" if label is not None else f"Cleared the correction of {n}"
            self._show(items, f"{what}; Undo (Ctrl+Z) takes it back")

        self._writes.write(call, done, text)

    def undo(self, step: CorrectionStep) -> None:
        self._replay(step, undo=True)

    def redo(self, step: CorrectionStep) -> None:
        self._replay(step, undo=False)

    def _replay(self, step: CorrectionStep, *, undo: bool) -> None:
        root = self.s.root
        if root is None:
            return

        def call(lib: Library, progress: object, cancelled: object) -> list[BrowseItem]:
            lib.catalog.replace_corrections(step.before if undo else step.after)
            return lib.browse_items(root)

        def done(items: list[BrowseItem]) -> None:
            history = self.s.groups.history
            (history.undone if undo else history.redone)(step)
            self._show(items, f"{'Undone' if undo else 'Redone'}: {step.text}")

        self._writes.replay(call, done, step.text)

    def _show(self, items: list[BrowseItem], message: str) -> None:
        for item in items:
            self.s.items[item.relpath] = item
        self.s.emit(Changes(items=True, history=True))
        self.s.message.emit(message)


def _each(hashes: list[str], found: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {h: found.get(h, {}) for h in hashes}
