"""Where an image's labels come from, said once for every view that filters, sorts or names by them.

Today the only source is the model: one answer per head of the sidecar, in `prediction_heads`
order (a head others depend on first: kind, then scene, then room), so a head a new model adds
shows up in filters, sorts, captions and the "This is…" menu without a line of UI code. A user's
own label sets (few-shot, per-image labels with confidence) are meant to be a second
`LabelSource`: anything with these four methods plugs into Browse and cluster naming.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .model_spec import ModelSpec
from .predictions import UNKNOWN, Prediction, broader_labels, names_something, prediction_heads

if TYPE_CHECKING:
    from .browse import BrowseItem


@dataclass(frozen=True)
class LabelAnswer:
    """One question's answer for one image."""

    head: str  # the question: "kind", "scene", "room", or a label set's name
    label: str | None  # None: the question does not apply (no room outdoors); "unknown": not sure
    confidence: float | None
    corrected: bool = False  # the user's word, not a prediction
    by_hand: str = "corrected"  # how the user's word is said: a model's label corrected, a set's labelled


class LabelSource(Protocol):
    """Says what images show. `answers` come most general first, most specific last."""

    @property
    def name(self) -> str: ...

    def choices(self) -> list[str]:
        """The labels a filter offers, in a stable order ("unknown" last where it can occur)."""
        ...

    def correctable(self) -> list[str]:
        """The labels a user may give an image ("This is…")."""
        ...

    def answers(self, item: BrowseItem) -> Sequence[LabelAnswer]: ...

    def best_label(self, item: BrowseItem) -> str | None:
        """`best_answer(answers(item))`'s label, without building the answers: what names a
        cluster, asked for every image of the folder each time clusters are computed."""
        ...

    def broader(self) -> Mapping[str, str]:
        """Label → the label it lies within ("kitchen" → "indoor"): what names a cluster whose
        members share no label but share that one."""
        ...


def answers_of(prediction: Prediction | None) -> list[LabelAnswer]:
    if prediction is None:
        return []
    return [LabelAnswer(h, a.label, a.confidence, a.corrected) for h, a in prediction.answers.items()]


def best_answer(answers: Sequence[LabelAnswer]) -> LabelAnswer | None:
    """The most specific confident answer (a room before its scene): what names a cluster.

    A kind of "photo" names nothing, as in `Prediction.best_label`: a photo whose scene is
    unknown has no best answer (it sorts and filters with the unsure, not as "photo 99 %")."""
    return next((a for a in reversed(answers) if names_something(a.head, a.label)), None)


def caption(answers: Sequence[LabelAnswer]) -> str:
    """A thumbnail's second line: the most specific answer with its confidence, ✓ when the user's.

    Only that answer's own correction earns the ✓: an image corrected to "indoor" whose room is
    still the model's guess reads "bathroom 57 %", not "bathroom ✓" (which a newcomer read as
    the room having been checked)."""
    best = best_answer(answers)
    if best is None:
        return UNKNOWN if any(a.label == UNKNOWN for a in answers) else ""
    if best.corrected:
        return f"{_words(best.label)} ✓"
    if best.confidence is None:
        return _words(best.label)
    return f"{_words(best.label)} {best.confidence:.0%}"


def _words(label: str | None) -> str:
    return (label or "").replace("_", " ")


def describe(answer: LabelAnswer) -> str:
    """ "Room: kitchen · 81 %", "Scene: unknown (not confident)", "Kind: graphic · corrected by you"."""
    title = answer.head.replace("_", " ").capitalize()
    label = _words(answer.label)
    if answer.corrected:
        return f"{title}: {label} · {answer.by_hand} by you"
    if answer.label == UNKNOWN:
        return f"{title}: unknown (not confident)"
    if answer.confidence is None:
        return f"{title}: {label}"
    return f"{title}: {label} · {answer.confidence * 100:.0f} %"


class ModelLabels:
    """The bundled model's heads, read generically from its sidecar."""

    name = "model"

    def __init__(self, spec: ModelSpec | None) -> None:
        heads = prediction_heads(spec) if spec is not None and spec.probability_heads else {}
        self._labels = [str(label) for head in heads.values() for label in head["labels"]]
        self._broader = broader_labels(spec) if spec is not None else {}

    def choices(self) -> list[str]:
        if not self._labels:
            return []
        return [*dict.fromkeys(self._labels), UNKNOWN]

    def correctable(self) -> list[str]:
        return list(self._labels)

    def answers(self, item: BrowseItem) -> list[LabelAnswer]:
        return answers_of(item.prediction)

    def best_label(self, item: BrowseItem) -> str | None:
        return item.prediction.best_label if item.prediction is not None else None

    def broader(self) -> Mapping[str, str]:
        return self._broader
