"""Labelling images: a selection, a whole group or the head of the review queue gets a label of the
active set, as one step of the session's undo history; an import of sub-folder names is one too.

A `LabelStep` keeps each image's label before the step, read in the same job that writes the new
one, so Undo gives every image back exactly what it had (its old label, or none) and Redo gives the
labels of the step again; a step that made the set or added labels to it (an import) also gives the
set back as it was. Writes are serial jobs, in order; the views learn of them through `LabelSets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from ..core.label_store import LabelStore
from ..core.library import Library
from ..core.plan import name_key
from .events import Changes
from .history import LabelStep, SetChange
from .labels import Snapshot, snapshot
from .serial_writes import SerialWrites
from .wording import plural

if TYPE_CHECKING:
    from .session import Session


class ImageLabels:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._writes = SerialWrites(session, "labelling")

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
        text = f"{verb} {plural(len(hashes), 'Image')} {words}"
        if label is not None and len(self.s.label_sets.sets) > 1:  # Undo may touch a set not shown
            text += f" in “{chosen.name}”"
        done = "Labelled" if label is not None else "Unlabelled"
        said = f"{done} {plural(len(hashes), 'image')} {words}; Undo (Ctrl+Z) takes it back"
        self._apply(LabelStep(text, chosen.name, {}, dict.fromkeys(hashes, label)), "do", said)

    def review_answer(self, label: str | None = None) -> None:
        """The image at the head of the review queue: its guess accepted (None), or `label`."""
        review = self.s.label_sets.review
        if review:
            head = review.pop(0)
            self.s.label_sets.answering(head)
            self.label([head.path], label or head.guess)

    def pushed(self, step: LabelStep) -> None:
        """A step written elsewhere (an import of sub-folder names) joins the undo history."""
        self.s.groups.history.push(step)
        self.s.emit(Changes(history=True))

    def undo(self, step: LabelStep) -> None:
        self._apply(step, "undo")

    def redo(self, step: LabelStep) -> None:
        self._apply(step, "redo")

    def _apply(self, step: LabelStep, direction: Literal["do", "undo", "redo"], said: str = "") -> None:
        set_name, undo = step.set_name, direction == "undo"

        def call(lib: Library, p: object, c: object) -> tuple[LabelStep, Snapshot]:
            store = LabelStore(lib.catalog)
            if direction == "redo" and step.set_change is not None:
                redo_set(store, set_name, step.set_change)
            found = store.get(set_name)
            if direction != "do":
                store.assign(set_name, step.before if undo else step.after)
                if undo and step.set_change is not None:
                    undo_set(store, set_name, step.set_change)
                return step, snapshot(store)
            before: dict[str, str | None] = dict.fromkeys(step.after)
            before.update(store.image_labels(found, list(step.after)))
            store.assign(set_name, step.after)
            labels = store.get(set_name).labels  # "New Label…" adds one: Undo takes it away again
            change = SetChange(found.labels, labels) if labels != found.labels else None
            return replace(step, before=before, set_change=change), snapshot(store)

        def done(result: tuple[LabelStep, Snapshot]) -> None:
            written, found = result
            history = self.s.groups.history
            if direction == "do":
                history.push(written)
                if said:  # the status line says what happened, as for every other change
                    self.s.message.emit(said)
            else:
                (history.undone if undo else history.redone)(step)
                self.s.message.emit(f"{'Undone' if undo else 'Redone'}: {step.text}")
            self.s.emit(Changes(history=True))
            self.s.label_sets.labels_written(written, found, undo=undo)

        (self._writes.write if direction == "do" else self._writes.replay)(call, done, step.text)


def undo_set(store: LabelStore, set_name: str, change: SetChange) -> None:
    """The set as it was before the step: gone if the step made it, else without the labels it added."""
    if change.before is None:
        store.delete(set_name)
        return
    kept = {name_key(label) for label in change.before}
    for label in store.get(set_name).labels:
        if name_key(label) not in kept:
            store.remove_label(set_name, label)


def redo_set(store: LabelStore, set_name: str, change: SetChange) -> None:
    """The set with the labels the step gave it, made again if an undo took it away."""
    if store.find(set_name) is None:
        store.create(set_name, change.after)
    else:
        store.add_labels(set_name, change.after)
