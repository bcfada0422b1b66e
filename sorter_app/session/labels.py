"""The user's label sets in the window, without Qt: sets and labels, the set in use, its model's
answers for the folder and the review queue.

Everything a person decides — a set, a label, which image has which label — is written to
user.sqlite by content hash (core/label_store.py) in serial jobs, in order; labelling images is a
step of the undo history (image_labels.py). Whenever labels change, the set's model is retrained in
a background job — debounced by `debounce`, which the window replaces with a timer, and in one
slot, so a newer retrain replaces an older one — that also brings the folder's answers and the
review queue (label_training.py); the UI thread only swaps them in. Acting on files: label_files.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..core.label_source import LabelSource
from ..core.label_store import LabelSet, LabelStore
from ..core.labelling import Answer
from ..core.library import Library
from ..core.set_labels import SetLabels
from .events import Changes
from .history import LabelStep
from .jobs import Job
from .label_training import Trained, model_status, train_and_answer_apart

if TYPE_CHECKING:
    from .session import Session

TRAINING = "Training labels"
ANSWERS_KEPT = 500  # review answers an Undo can bring back to the queue


@dataclass(frozen=True)
class Snapshot:
    """Every set, and how many images have each label (by content, wherever they are)."""

    sets: list[LabelSet]
    counts: dict[str, dict[str, int]]  # set name → label → images


def snapshot(store: LabelStore) -> Snapshot:
    sets = store.sets()
    return Snapshot(sets, {s.name: store.counts(s) for s in sets})


class LabelSets:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.snapshot = Snapshot([], {})
        self.active: str | None = None  # the set the Labels page, the review and "Label as" use
        self.in_browse = False  # Browse shows and filters by the active set instead of the model
        self.trained: Trained | None = None  # the active set's model and answers for this folder
        self.training = False
        self.review: list[Answer] = []
        # (set, content hash) → the review question a person answered: Undo of that answer asks
        # it again at the head of the queue, so a wrong key is put right on the spot
        self.answered: dict[tuple[str, str], Answer] = {}
        self.debounce: Callable[[Callable[[], None]], None] = lambda retrain: retrain()
        self._writes = 0

    # what the views read ---------------------------------------------------------------------------

    @property
    def sets(self) -> list[LabelSet]:
        return self.snapshot.sets

    @property
    def current(self) -> LabelSet | None:
        return next((s for s in self.sets if s.name == self.active), None)

    def counts(self) -> dict[str, int]:
        return self.snapshot.counts.get(self.active or "", {})

    def predicted_counts(self) -> dict[str, int]:
        """Images of this folder the model gives each label (confidently), the labelled ones apart."""
        found: dict[str, int] = {}
        for answer in self.trained.answers.values() if self.trained else ():
            if not answer.labelled:
                found[answer.label] = found.get(answer.label, 0) + 1
        return found

    def source(self) -> LabelSource | None:
        """The active set as Browse's label source, when the user asked for it."""
        chosen = self.current
        if not self.in_browse or chosen is None:
            return None
        return SetLabels(chosen.name, chosen.labels, self.trained.answers if self.trained else {})

    def key_for(self, label: str) -> str:
        """The review key of a label: 1–9 by position."""
        chosen = self.current
        position = chosen.labels.index(label) if chosen and label in chosen.labels else 99
        return str(position + 1) if position < 9 else ""

    def label_for_key(self, key: str) -> str | None:
        """The label a key gives in the review: 1–9 by position, else the first label starting
        with the letter (case ignored)."""
        chosen = self.current
        if chosen is None or len(key) != 1:
            return None
        if key in "123456789":
            return chosen.labels[int(key) - 1] if int(key) <= len(chosen.labels) else None
        return next((label for label in chosen.labels if label[:1].casefold() == key.casefold()), None)

    def status_text(self) -> str:
        return model_status(self.current is not None, self.trained, self.training)

    def adopt(self, found: Snapshot, active: str) -> None:
        """Sets changed elsewhere (an import): show them, with `active` chosen."""
        self.snapshot = found
        self.active = active
        self.trained, self.review = None, []
        self._changed(browse=True)
        self.schedule_retrain()

    def answering(self, head: Answer) -> None:
        """The head of the review queue is being answered (image_labels.py labels it)."""
        key = self._hash(head.path)
        if self.active is not None and key is not None:
            self.answered[(self.active, key)] = head
            while len(self.answered) > ANSWERS_KEPT:
                del self.answered[next(iter(self.answered))]

    def skip(self) -> None:
        """Not now: the head of the review queue goes to its end."""
        if len(self.review) > 1:
            self.review.append(self.review.pop(0))
            self._changed()

    # the folder -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Another folder: the answers and the queue were about the old one's images."""
        self.trained, self.review, self.training = None, [], False
        self.s.runner.cancel("labels:train")

    def folder_loaded(self) -> None:
        """A folder was indexed (or its files moved): read the sets, answer for its images."""
        self._write("Reading label sets", lambda store: None, retrain=True)

    def choose(self, name: str | None) -> None:
        if name != self.active:
            self.active = name
            self.trained, self.review = None, []
            self._changed(browse=True)
            self.schedule_retrain()

    def show_in_browse(self, shown: bool) -> None:
        if shown != self.in_browse:
            self.in_browse = shown
            self._changed(browse=True, toggled=True)

    # sets and labels ---------------------------------------------------------------------------------

    def create_set(self, name: str, labels: Sequence[str] = ()) -> None:
        self._write(f"Create set {name}", lambda store: store.create(name, labels), activate=name)

    def rename_set(self, name: str, new_name: str) -> None:
        history = self.s.groups.history
        self._write(
            f"Rename set {name}",
            lambda store: store.rename(name, new_name),
            activate=new_name,
            then=lambda: history.rename_set(name, new_name),
        )

    def delete_set(self, name: str) -> None:
        def delete(store: LabelStore) -> object:
            found = store.get(name)
            return store.delete(found.name)

        history = self.s.groups.history
        self._write(f"Delete set {name}", delete, activate="", then=lambda: history.forget_set(name))

    def add_label(self, label: str) -> None:
        name = self.active
        if name is not None:
            self._write(f"Add label {label}", lambda store: store.add_labels(name, [label]), retrain=True)

    def rename_label(self, label: str, new_name: str) -> None:
        name = self.active
        if name is not None:
            self._write(
                f"Rename label {label}", lambda store: store.rename_label(name, label, new_name), retrain=True
            )

    def remove_label(self, label: str) -> None:
        name = self.active
        if name is not None:
            self._write(f"Remove label {label}", lambda store: store.remove_label(name, label), retrain=True)

    def _write(
        self,
        what: str,
        change: Callable[[LabelStore], object],
        *,
        activate: str | None = None,
        retrain: bool = False,
        then: Callable[[], None] | None = None,
    ) -> None:
        """One change of the user's label sets, in order; the sets are read back after it, and
        `then` runs once it is written (the undo history follows a renamed or deleted set)."""

        def call(lib: Library, p: object, c: object) -> Snapshot:
            store = LabelStore(lib.catalog)
            change(store)
            return snapshot(store)

        def done(found: Snapshot) -> None:
            if then is not None:
                then()
                self.s.emit(Changes(history=True))
            retrain_now = self._show(found, activate) or retrain
            self._changed(browse=True)
            if retrain_now:
                self.schedule_retrain()

        self._writes += 1
        self.s.run(
            Job(
                f"labels:{self._writes}",
                call,
                done,
                failed=lambda m: self.s.failed.emit((what, m)),
                serial=True,
            )
        )

    # labelling (image_labels.py writes; this shows) ---------------------------------------------------

    def _show(self, found: Snapshot, activate: str | None = None) -> bool:
        """Sets read back after a change: the set `activate` names (any case) becomes the active
        one, else the active one stays if it still exists, else the first; True when it changed."""
        self.snapshot = found
        names = [s.name for s in found.sets]
        wanted = activate if activate is not None else self.active
        chosen = next((n for n in names if wanted and n.casefold() == wanted.casefold()), None)
        chosen = chosen or (self.active if self.active in names else (names[0] if names else None))
        if chosen == self.active:
            return False
        self.active, self.trained, self.review = chosen, None, []
        return True

    def labels_written(self, step: LabelStep, found: Snapshot, *, undo: bool) -> None:
        """Images got `step.after` (after an undo, `step.before`; None: no label): the counts and
        the user's labels show at once; the model's answers follow after the retrain. A step that
        made its set (an import) shows it again when redone; undone, the set goes."""
        activate = step.set_name if step.set_change is not None and step.set_change.before is None else None
        self._show(found, None if undo else activate)
        given_now = step.before if undo else step.after
        hashes = list(step.after)
        if self.trained is not None and self.trained.set_name == step.set_name:
            answers = dict(self.trained.answers)
            for h in hashes:
                given = given_now.get(h)
                old = answers.get(h)
                if given is not None:
                    answers[h] = Answer(old.path if old else "", given, 1.0, True, given)
                elif old is not None and old.labelled:
                    del answers[h]  # the model answers for it again after the retrain
            self.trained = replace(self.trained, answers=answers)
        done = set(hashes)
        self.review = [a for a in self.review if self._hash(a.path) not in done]
        if undo and step.set_name == self.active:
            asked = [
                self.answered.pop((step.set_name, h), None) for h, old in step.before.items() if old is None
            ]
            again = [a for a in asked if a is not None]
            self.review = again + [a for a in self.review if a.path not in {b.path for b in again}]
        self._changed(browse=True)
        self.schedule_retrain()

    def _as_now(self, shown: Answer, trained: Trained, fresh: list[Answer]) -> Answer:
        """The image on screen, with what the newly trained model says of it: its guesses and its
        threshold's sure or unsure must not be the old model's beside the new threshold."""
        queued = next((a for a in fresh if a.path == shown.path), None)
        if queued is not None:
            return queued
        now = trained.answers.get(self._hash(shown.path) or "")
        if now is None or now.labelled:
            return shown
        return replace(now, path=shown.path, top=((now.guess, now.confidence),))

    def _hash(self, relpath: str) -> str | None:
        item = self.s.items.get(relpath)
        return item.content_hash if item else None

    # training ---------------------------------------------------------------------------------------

    def schedule_retrain(self) -> None:
        if self.current is not None and self.s.root is not None and self.s.report is not None:
            self.debounce(self.retrain)

    def retrain(self) -> None:
        """Train the active set's model if its labels changed, then answer for the folder and queue
        images for review — all in one background job; a newer retrain replaces it."""
        chosen, root = self.current, self.s.root
        if chosen is None or root is None:
            return
        name = chosen.name

        def call(lib: Library, p: object, c: Callable[[], bool]) -> Trained:
            return train_and_answer_apart(lib, root, name, c)

        def done(trained: Trained) -> None:
            self.training = False
            if trained.set_name != self.active:
                return
            given = {h for h, a in (self.trained.answers.items() if self.trained else ()) if a.labelled}
            fresh = [a for a in trained.review if self._hash(a.path) not in given]  # labelled meanwhile
            head = [self._as_now(a, trained, fresh) for a in self.review[:1]]  # the image on screen stays
            self.trained = trained
            self.review = head + [a for a in fresh if not head or a.path != head[0].path]
            self._changed(browse=True)

        def stopped() -> None:
            self.training = False

        def failed(message: str) -> None:
            self.training = False
            self._changed()
            self.s.failed.emit((TRAINING, message))

        self.training = True
        self._changed()
        self.s.run(Job("labels:train", call, done, label=TRAINING, stopped=stopped, failed=failed))

    def _changed(self, *, browse: bool = False, toggled: bool = False) -> None:
        """`browse`: what the active set answers changed; Browse's captions change with it if it
        shows the set, or if it has just been `toggled` to or from showing it."""
        if browse:
            self.s.use_label_source()
        self.s.emit(Changes(labels=True, items=browse and (self.in_browse or toggled)))
