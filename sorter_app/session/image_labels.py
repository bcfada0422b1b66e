"""Labelling images: a selection, a whole group or the head of the review queue gets a label of the
active set, as one step of the session's undo history.

A `LabelStep` keeps each image's label before the step, read in the same job that writes the new
one, so Undo gives every image back exactly what it had (its old label, or none) and Redo gives the
label again. Writes are serial jobs, in order; the views learn of them through `LabelSets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..core.label_store import LabelStore
from ..core.library import Library
from .events import Changes
from .history import LabelStep
from .jobs import Job
from .labels import Snapshot, snapshot
from .wording import plural

if TYPE_CHECKING:
    from .session import Session


class ImageLabels:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._writes = 0
        self._stepping = False  # an undo or redo is under way: Ctrl+Z held down waits for it

    def label(self, relpaths: Iterable[str], label: str | None) -> None:
        """Give the images `label` of the active set (None: take its label off), as one undo step."""
        chosen = self.s.label_sets.current
        hashes = list(
            dict.fromkeys(h for p in relpaths if (item := self.s.items.get(p)) and (h := item.content_hash))
        )
        if chosen is None or not hashes:
            self.s.message.emit(
                "Create a label set first (the Labels tab)."
                if chosen is None
                else "Nothing labelled: these images are not indexed yet."
            )
            return
        words = f"“{label}”" if label is not None else f"of “{chosen.name}”"
        verb = "Label" if label is not None else "Unlabel"
        step = LabelStep(f"{verb} {plural(len(hashes), 'Image')} {words}", chosen.name, label, {})
        self._apply(step, hashes, label, push=True)

    def review_answer(self, label: str | None = None) -> None:
        """The image at the head of the review queue: its guess accepted (None), or `label`."""
        review = self.s.label_sets.review
        if review:
            head = review.pop(0)
            self.label([head.path], label or head.guess)

    def undo(self, step: LabelStep) -> None:
        if not self._stepping:
            self._stepping = True
            self._apply(step, list(step.before), None, undo=True)

    def redo(self, step: LabelStep) -> None:
        if not self._stepping:
            self._stepping = True
            self._apply(step, list(step.before), step.label)

    def _apply(
        self, step: LabelStep, hashes: list[str], label: str | None, *, push: bool = False, undo: bool = False
    ) -> None:
        set_name = step.set_name

        def call(lib: Library, p: object, c: object) -> tuple[dict[str, str | None], Snapshot]:
            store = LabelStore(lib.catalog)
            found = store.get(set_name)
            before: dict[str, str | None] = dict.fromkeys(hashes)
            before.update(store.image_labels(found, hashes))
            if undo:  # each image gets back what it had
                for old in {v for v in step.before.values() if v is not None}:
                    store.label_images(set_name, old, [h for h, v in step.before.items() if v == old])
                store.unlabel_images(set_name, [h for h, v in step.before.items() if v is None])
            elif label is None:
                store.unlabel_images(set_name, hashes)
            else:
                store.label_images(set_name, label, hashes)
            return before, snapshot(store)

        def done(result: tuple[dict[str, str | None], Snapshot]) -> None:
            before, found = result
            history = self.s.groups.history
            if push:
                history.push(replace(step, before=before))
            else:
                (history.undone if undo else history.redone)()
                self._stepping = False
                self.s.message.emit(f"{'Undone' if undo else 'Redone'}: {step.text}")
            self.s.emit(Changes(history=True))
            self.s.label_sets.labels_written(step, hashes, found, undo=undo)

        def failed(message: str) -> None:
            self._stepping = False
            self.s.failed.emit((step.text, message))

        self._writes += 1
        self.s.run(Job(f"labelling:{self._writes}", call, done, failed=failed, serial=True))
