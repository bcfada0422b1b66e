"""What a label set's model knows about the open folder, computed in one background job, and how
the window words it.

`train_and_answer` trains the set's model if its labels changed (core/labelling.py caches it by a
fingerprint of the labels), answers for every usable image of the folder, and queues images for
review. The window runs it in a child process kept for it (`train_and_answer_apart`): its Python
(reading the folder's labels and vectors, an answer object per image) otherwise took turns at the
GIL with the window's thread, which then waited after each Qt call it made — 50 ms gaps while
painting. The worker thread only waits on the child and takes the answers in, a few thousand at a
time. The UI thread only swaps the result in.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.child_process import KeptChild
from ..core.errors import CancelledError
from ..core.label_model import LabelModel, TooFewLabelsError
from ..core.labelling import Answer, Labelling
from ..core.library import Library
from .wording import plural

REVIEW_SIZE = 40  # images queued per retrain; the queue is rebuilt after every retrain anyway
# Answers unpickled at a time: each load holds the GIL throughout (~1 µs an answer).
ANSWERS_PER_PICKLE = 2_000
_POLL_SECONDS = 0.05  # how often a waiting retrain looks at its Cancel
NO_SET = (
    "No label set yet: create one (New Set…), or import the sub-folder names of a folder someone "
    "half-sorted by hand (Import Sub-folder Names…)."
)


@dataclass(frozen=True)
class Trained:
    set_name: str
    model: LabelModel | None
    note: str  # why there is no model yet ("" when there is one)
    answers: dict[str, Answer]  # content hash → the answer for the folder's image of that content
    review: list[Answer] = field(default_factory=list)  # paths relative to the session's folder


def train_and_answer(labelling: Labelling, root: Path, name: str, cancelled: Callable[[], bool]) -> Trained:
    """The set's model (trained if its labels changed), its answers and review queue for `root`."""
    store = labelling.store
    scope = labelling.scope(root)
    try:
        model, _ = labelling.model(name, cancelled=cancelled)
    except TooFewLabelsError as exc:
        usable = labelling.usable(scope)
        labels = store.image_labels(store.get(name), list(usable))
        answers = {h: Answer(usable[h][0], label, 1.0, True, label) for h, label in labels.items()}
        return Trained(name, None, str(exc), answers)
    said = labelling.folder_answers(root, name, model)
    hash_of = {p: h for h, paths in said.usable.items() for p in paths}
    answers = {hash_of[a.path]: a for a in said.answers()}
    here = scope.folder
    review = [
        replace(a, path=(scope.root / a.path).relative_to(here).as_posix()) for a in said.review(REVIEW_SIZE)
    ]
    return Trained(name, model, "", answers, review)


_child = KeptChild()


def train_and_answer_apart(library: Library, root: Path, name: str, cancelled: Callable[[], bool]) -> Trained:
    """`train_and_answer` in the child kept for it. On Cancel the wait ends at once; the child
    finishes that retrain on its own (a newer one waits in line behind it) and its answer is
    dropped: what it writes — the model's cache, under a fingerprint of its labels — is still true."""
    pending = _child.submit(_trained_in_child, library.data_dir, library.model_sidecar, root, name)
    while True:
        if cancelled():
            raise CancelledError("cancelled")
        if wait([pending], timeout=_POLL_SECONDS).done:
            break
    trained, pickled = pending.result()
    answers: dict[str, Answer] = {}
    for part in pickled:
        answers.update(pickle.loads(part))
    return replace(trained, answers=answers)


def _trained_in_child(data_dir: Path, sidecar: Path, root: Path, name: str) -> tuple[Trained, list[bytes]]:
    """Runs in the child, on a Library opened for the call (a catalog set aside after damage is
    never read again): the result, its answers pickled a part at a time (ANSWERS_PER_PICKLE)."""
    with Library(data_dir, sidecar) as library:
        trained = train_and_answer(Labelling(library), root, name, lambda: False)
    answers = list(trained.answers.items())
    pickled = [
        pickle.dumps(dict(answers[start : start + ANSWERS_PER_PICKLE]), pickle.HIGHEST_PROTOCOL)
        for start in range(0, len(answers), ANSWERS_PER_PICKLE)
    ]
    return replace(trained, answers={}), pickled


def model_status(has_set: bool, trained: Trained | None, training: bool) -> str:
    """What the Labels page and the review say about the set's model."""
    if not has_set:
        return NO_SET
    busy = " Training…" if training else ""
    if trained is None:
        return (busy or "Not trained yet.").strip()
    model = trained.model
    if model is None:
        return f"Not trained: {trained.note}.{busy}"
    labelled = plural(model.examples, "labelled image")
    if model.accuracy is None:
        return f"Trained on {labelled}; too few to estimate its accuracy.{busy}"
    text = f"Estimated accuracy {model.accuracy:.0%} (cross-validation on {labelled}); "
    if model.threshold >= 1.0:
        text += "too few to trust any answer yet: every prediction says “unknown” (label more)."
    else:
        text += f"below {model.threshold:.0%} confidence an answer is “unknown”."
    return text + busy
