"""What the model thinks each image shows, said as "unknown" when it is not confident.

Probabilities are stored while indexing (no second pass over the pixels); turning them into words
follows the model's sidecar: each head's labels, the confidence below which the answer is
"unknown", and conditions such as "room only when the scene is indoor". What the user said an image
shows (corrections.py) overrides the model, under the same conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .catalog import Catalog
from .errors import SorterError
from .model_spec import ModelSpec

UNKNOWN = "unknown"
# A model with a `kind` head says "photo" for what the app expects by default: it names nothing, so
# only a non-photo kind ("graphic", "artwork") can be an image's best label.
KIND_HEAD, DEFAULT_KIND = "kind", "photo"
_PREDICTION_CHUNK = 50_000
HeadSpec = Mapping[str, Any]  # one head's entry in the sidecar's outputs: labels, unknown_below, only_when


@dataclass(frozen=True, slots=True)  # slots: a million-image folder holds three per image
class HeadAnswer:
    label: str | None  # a class label, "unknown", or None when the head does not apply
    confidence: float | None
    corrected: bool = False  # the label is the user's (confidence 1.0), not the model's


NOT_APPLICABLE = HeadAnswer(None, None)  # one object for every "no room outdoors"


def names_something(head: str, label: str | None) -> bool:
    """Whether an answer can name an image (its best label, its cluster): a confident label, and
    for the kind head anything but "photo", which says nothing about what a photo shows."""
    return label not in (None, UNKNOWN) and not (head == KIND_HEAD and label == DEFAULT_KIND)


def broader_labels(spec: ModelSpec) -> dict[str, str]:
    """Each label of a head shown only under another head's label, with that label ("kitchen" →
    "indoor") where it names something (a kind of "photo" says nothing of what a photo shows):
    what names a cluster of kitchens, bedrooms and bathrooms."""
    heads = spec.probability_heads
    return {
        label: parent
        for out in heads.values()
        for parent_head, parent in out.get("only_when", {}).items()
        if parent_head in heads and names_something(parent_head, parent)
        for label in out.get("labels", ())
    }


class Prediction:
    """One image's answers by head (e.g. "scene", "room"), corrections applied, and the model's own
    answers where the user corrected one."""

    __slots__ = ("_answers", "_model_answers", "path")

    def __init__(
        self,
        path: str,
        answers: dict[str, HeadAnswer],
        model_answers: dict[str, HeadAnswer] | None = None,
    ) -> None:
        self.path = path
        self._answers = answers
        self._model_answers = model_answers if model_answers is not None else {}

    @property
    def answers(self) -> dict[str, HeadAnswer]:
        return self._answers

    @property
    def model_answers(self) -> dict[str, HeadAnswer]:
        """Before corrections: only heads the user corrected need be here."""
        return self._model_answers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prediction):
            return NotImplemented
        return (self.path, self.answers, self.model_answers) == (
            other.path,
            other.answers,
            other.model_answers,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable dicts inside, as the dataclass it was

    def __repr__(self) -> str:
        return f"Prediction({self.path!r}, {self.answers!r}, {self.model_answers!r})"

    def to_json(self) -> dict[str, Any]:
        """{"path", "scene", "scene_confidence", "scene_corrected", "room", …} for a scene+room model."""
        data: dict[str, Any] = {"path": self.path}
        for head, answer in self.answers.items():
            data[head] = answer.label
            data[f"{head}_confidence"] = None if answer.confidence is None else round(answer.confidence, 4)
            data[f"{head}_corrected"] = answer.corrected
        return data

    def model_answer(self, head: str) -> HeadAnswer:
        """What the model itself said, whatever the user corrected: what an export compares against."""
        return self.model_answers.get(head, self.answers[head])

    @property
    def corrected(self) -> bool:
        return any(answer.corrected for answer in self.answers.values())

    @property
    def best_label(self) -> str | None:
        """The most specific confident answer (room before scene, scene before kind): what names a
        cluster. A kind of "photo" names nothing: a photo whose scene is unknown has no best label."""
        for head, answer in reversed(list(self.answers.items())):
            if names_something(head, answer.label):
                return answer.label
        return None


class StoredPrediction(Prediction):
    """A row of a folder's `PredictionColumns`, read as a Prediction: its answers are made when
    asked for. What Browse holds, one per image: an answer object per image and head weighed
    0.5 KB an image, half a gigabyte at a million."""

    __slots__ = ("_columns", "_row")

    def __init__(self, path: str, columns: PredictionColumns, row: int) -> None:
        self.path = path
        self._columns, self._row = columns, row

    @property
    def answers(self) -> dict[str, HeadAnswer]:
        return self._columns.answers(self._row)

    @property
    def best_label(self) -> str | None:
        return self._columns.best_labels[self._row]

    @property
    def model_answers(self) -> dict[str, HeadAnswer]:
        return self._columns.corrected_rows.get(self._row, {})


@dataclass(frozen=True)
class PredictionColumns:
    """A folder's answers as arrays, a row per content: each head's label codes and confidences."""

    heads: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]  # per head, what its codes index
    codes: NDArray[np.int16]  # (rows, heads); -1: the head does not apply
    confidences: NDArray[np.float32]  # (rows, heads); NaN: no confidence
    corrected: NDArray[np.bool_]  # (rows, heads): the user's label
    corrected_rows: dict[int, dict[str, HeadAnswer]]  # the model's own answers, where corrected

    def answers(self, row: int) -> dict[str, HeadAnswer]:
        codes = self.codes[row].tolist()
        confidences = self.confidences[row].tolist()
        corrected = self.corrected[row].tolist()
        return {
            head: NOT_APPLICABLE
            if code < 0
            else HeadAnswer(labels[code], None if conf != conf else conf, fixed)  # NaN != NaN
            for head, labels, code, conf, fixed in zip(
                self.heads, self.labels, codes, confidences, corrected, strict=True
            )
        }

    @cached_property
    def best_labels(self) -> list[str | None]:
        """`Prediction.best_label` of every row, in one numpy pass over the heads: clusters are
        named from it for every image of the folder, and making each image's answers to find it
        was Python beside the window's thread (~10 µs an image)."""
        best = np.full(len(self.codes), None, dtype=object)
        open_rows = np.ones(len(self.codes), dtype=bool)
        for j in reversed(range(len(self.heads))):
            names = np.array([*self.labels[j], None], dtype=object)  # code -1 → None
            names_one = np.array(
                [*(names_something(self.heads[j], label) for label in self.labels[j]), False]
            )
            codes = self.codes[:, j].astype(np.int64)
            take = open_rows & names_one[codes]
            best[take] = names[codes[take]]
            open_rows &= ~take
        result: list[str | None] = best.tolist()
        return result


class _ColumnWriter:
    """Fills PredictionColumns: whole columns of the model's answers (`folder_prediction_columns`
    writes `codes` and `confidences` directly), then `put` row by row for corrected contents. A
    label's code is its place in the labels given, or given the first time it is seen."""

    def __init__(self, heads: Sequence[str], rows: int, labels: Sequence[Sequence[str]] = ()) -> None:
        """`labels`: per head, the labels whose codes are their positions (the rest are given one
        when first seen)."""
        self.heads = tuple(heads)
        self.codes = np.full((rows, len(heads)), -1, dtype=np.int16)
        self.confidences = np.full((rows, len(heads)), np.nan, dtype=np.float32)
        self.corrected = np.zeros((rows, len(heads)), dtype=bool)
        self.labels: list[dict[str, int]] = [{} for _ in heads]
        for known, names in zip(self.labels, labels, strict=False):
            for name in names:
                known.setdefault(name, len(known))
        self.by_model: dict[int, dict[str, HeadAnswer]] = {}

    def put(self, row: int, answers: dict[str, HeadAnswer], model_answers: dict[str, HeadAnswer]) -> None:
        if model_answers is not answers:
            self.by_model[row] = model_answers
        self.codes[row], self.confidences[row], self.corrected[row] = -1, np.nan, False
        for j, head in enumerate(self.heads):
            answer = answers.get(head, NOT_APPLICABLE)
            if answer.label is None:
                continue
            self.codes[row, j] = self.labels[j].setdefault(answer.label, len(self.labels[j]))
            if answer.confidence is not None:
                self.confidences[row, j] = answer.confidence
            self.corrected[row, j] = answer.corrected

    def columns(self) -> PredictionColumns:
        labels = tuple(tuple(names) for names in self.labels)
        return PredictionColumns(
            self.heads, labels, self.codes, self.confidences, self.corrected, self.by_model
        )


def prediction_heads(spec: ModelSpec) -> dict[str, HeadSpec]:
    """The model's probability heads, each after the heads its `only_when` names (scene before room).

    The sidecar is written with sorted keys ("room" before "scene"), so its order cannot be used.
    """
    heads = spec.probability_heads
    if not heads:
        raise SorterError(
            f"the installed model ({spec.model_id}) makes no scene or room predictions; "
            "train and install one with sorter-train"
        )

    def depth(name: str, seen: frozenset[str]) -> int:
        conditions = heads.get(name, {}).get("only_when", {})
        return max((1 + depth(other, seen | {name}) for other in conditions if other not in seen), default=0)

    return dict(sorted(heads.items(), key=lambda item: depth(item[0], frozenset())))


def answer(probabilities: NDArray[np.float32], head: HeadSpec) -> HeadAnswer:
    best = int(np.argmax(probabilities))
    confidence = float(probabilities[best])
    confident = confidence >= float(head.get("unknown_below", 0.0))
    return HeadAnswer(str(head["labels"][best]) if confident else UNKNOWN, confidence)


def resolve(
    probabilities: Mapping[str, NDArray[np.float32]],
    heads: Mapping[str, HeadSpec],
    corrections: Mapping[str, str] | None = None,
) -> dict[str, HeadAnswer]:
    """Each head's answer, the user's where corrected, honouring `only_when` conditions on other heads.

    `heads` come as `prediction_heads` orders them, so conditions are judged on answers already
    given, corrected ones included: an image corrected to "outdoor" has no room.
    """
    said = {name: answer(probabilities[name], head) for name, head in heads.items() if name in probabilities}
    return _conditioned(said, heads, corrections or {})


def with_what_they_imply(corrections: Mapping[str, str], heads: Mapping[str, HeadSpec]) -> dict[str, str]:
    """`corrections` with what each stands on, for heads the user did not correct themselves:
    "kitchen" → setting "home" → scene "indoor" → kind "photo". A room corrected before a model
    put a head between room and scene keeps its room, whatever the new head says."""
    implied = dict(corrections)
    pending = list(corrections)
    while pending:
        for other, want in heads.get(pending.pop(), {}).get("only_when", {}).items():
            if other not in implied:
                implied[other] = want
                pending.append(other)
    return implied


def _conditioned(
    said: Mapping[str, HeadAnswer], heads: Mapping[str, HeadSpec], corrections: Mapping[str, str]
) -> dict[str, HeadAnswer]:
    """What the model `said` per head, with the user's corrections (and what they imply) and
    `only_when` applied."""
    corrections = with_what_they_imply(corrections, heads)
    answers: dict[str, HeadAnswer] = {}
    for name, head in heads.items():
        conditions = head.get("only_when", {})
        applies = all(answers.get(other, NOT_APPLICABLE).label == want for other, want in conditions.items())
        if not applies:
            answers[name] = NOT_APPLICABLE
        elif name in corrections:
            answers[name] = HeadAnswer(corrections[name], 1.0, corrected=True)
        else:
            answers[name] = said.get(name, NOT_APPLICABLE)
    return answers


def folder_predictions(
    catalog: Catalog, spec: ModelSpec, paths_by_hash: Mapping[str, list[str]]
) -> list[Prediction]:
    """Every path's prediction, by path."""
    columns = folder_prediction_columns(catalog, spec, list(paths_by_hash))
    out: list[Prediction] = [
        StoredPrediction(path, columns, row)
        for row, paths in enumerate(paths_by_hash.values())
        for path in paths
    ]
    out.sort(key=lambda p: p.path)
    return out


def folder_prediction_columns(catalog: Catalog, spec: ModelSpec, hashes: Sequence[str]) -> PredictionColumns:
    """Row i: the answers for content hashes[i].

    Whole columns at a time: each head's answers in one numpy pass, its `only_when` conditions as
    a comparison of codes. Only the few contents the user corrected go through `_conditioned`
    one by one. A loop over every image (two dicts of answers each) ran in the window's load job
    just as it drew the loaded folder, and kept its thread waiting for the GIL.
    """
    heads = prediction_heads(spec)
    column = {name: j for j, name in enumerate(heads)}
    table = [[*head["labels"], UNKNOWN] for head in heads.values()]  # per head: codes 0.. are these
    writer = _ColumnWriter(list(heads), len(hashes), table)
    # The stored probabilities a chunk at a time: all of a million images' at once (an array per
    # image and head) weighed more than the answers made from them.
    for start in range(0, len(hashes), _PREDICTION_CHUNK):
        chunk = hashes[start : start + _PREDICTION_CHUNK]
        rows = slice(start, start + len(chunk))
        position = {content_hash: i for i, content_hash in enumerate(chunk)}
        said_codes = np.full((len(chunk), len(heads)), -1, dtype=np.int16)
        said_confidences = np.full((len(chunk), len(heads)), np.nan, dtype=np.float32)
        for j, (name, head) in enumerate(heads.items()):
            found, probabilities = catalog.prediction_matrix(spec.model_id, name, chunk)
            if found:
                at = np.fromiter((position[h] for h in found), dtype=np.int64, count=len(found))
                said_codes[at, j], said_confidences[at, j] = answer_codes(probabilities, head)
            # The model's answer where the heads it depends on said what it needs, else none.
            applies = np.ones(len(chunk), dtype=bool)
            for other, want in head.get("only_when", {}).items():
                k = column[other]
                applies &= writer.codes[rows, k] == writer.labels[k].get(want, -2)
            writer.codes[rows, j] = np.where(applies, said_codes[:, j], -1)
            writer.confidences[rows, j] = np.where(applies, said_confidences[:, j], np.nan)
        for content_hash, corrected in catalog.corrections(chunk).items():
            i = position[content_hash]
            given = {
                name: HeadAnswer(table[j][said_codes[i, j]], float(said_confidences[i, j]))
                for j, name in enumerate(heads)
                if said_codes[i, j] >= 0
            }
            writer.put(start + i, _conditioned(given, heads, corrected), _conditioned(given, heads, {}))
    return writer.columns()


def answer_codes(
    probabilities: NDArray[np.float32], head: HeadSpec
) -> tuple[NDArray[np.int16], NDArray[np.float32]]:
    """`answer` for each row of an (images, labels) matrix, in one numpy pass: codes into the head's
    labels followed by UNKNOWN, and the confidences."""
    best = probabilities.argmax(axis=1)
    confidences = probabilities[np.arange(len(best)), best]
    unsure = confidences.astype(np.float64) < float(head.get("unknown_below", 0.0))  # as `answer` compares
    return np.where(unsure, len(head["labels"]), best).astype(np.int16), confidences.astype(np.float32)
