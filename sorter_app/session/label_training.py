"""What a label set's model knows about the open folder, computed in one background job, and how
the window words it.

`train_and_answer` runs in a worker with a `Library` of its own: it trains the set's model if its
labels changed (core/labelling.py caches it by a fingerprint of the labels), answers for every
usable image of the folder, and queues images for review. The UI thread only swaps the result in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.label_model import LabelModel, TooFewLabelsError
from ..core.labelling import Answer, Labelling
from .wording import plural

REVIEW_SIZE = 40  # images queued per retrain; the queue is rebuilt after every retrain anyway
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
