"""What the model thinks each image shows, said as "unknown" when it is not confident.

Probabilities are stored while indexing (no second pass over the pixels); turning them into words
follows the model's sidecar: each head's labels, the confidence below which the answer is
"unknown", and conditions such as "room only when the scene is indoor".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .catalog import Catalog
from .errors import SorterError
from .model_spec import ModelSpec

UNKNOWN = "unknown"


@dataclass(frozen=True)
class HeadAnswer:
    label: str | None  # a class label, "unknown", or None when the head does not apply
    confidence: float | None


@dataclass(frozen=True)
class Prediction:
    path: str
    answers: dict[str, HeadAnswer]  # by head name, e.g. "scene", "room"

    def to_json(self) -> dict[str, Any]:
        """{"path", "scene", "scene_confidence", "room", "room_confidence"} for a scene+room model."""
        data: dict[str, Any] = {"path": self.path}
        for head, answer in self.answers.items():
            data[head] = answer.label
            data[f"{head}_confidence"] = None if answer.confidence is None else round(answer.confidence, 4)
        return data

    @property
    def best_label(self) -> str | None:
        """The most specific confident answer (room before scene): what names a cluster."""
        for answer in reversed(list(self.answers.values())):
            if answer.label not in (None, UNKNOWN):
                return answer.label
        return None


def answer(probabilities: NDArray[np.float32], head: Mapping[str, Any]) -> HeadAnswer:
    best = int(np.argmax(probabilities))
    confidence = float(probabilities[best])
    confident = confidence >= float(head.get("unknown_below", 0.0))
    return HeadAnswer(str(head["labels"][best]) if confident else UNKNOWN, confidence)


def resolve(
    probabilities: Mapping[str, NDArray[np.float32]], heads: Mapping[str, Mapping[str, Any]]
) -> dict[str, HeadAnswer]:
    """Each head's answer, honouring `only_when` conditions on other heads.

    Heads with conditions are answered after the heads they depend on, whatever the order of the
    sidecar (which is written with sorted keys: "room" before "scene").
    """
    answers: dict[str, HeadAnswer] = {}
    for name, head in sorted(heads.items(), key=lambda item: len(item[1].get("only_when", {}))):
        conditions = head.get("only_when", {})
        applies = all(
            answers.get(other, HeadAnswer(None, None)).label == want for other, want in conditions.items()
        )
        if not applies or name not in probabilities:
            answers[name] = HeadAnswer(None, None)
        else:
            answers[name] = answer(probabilities[name], head)
    return answers


def folder_predictions(
    catalog: Catalog, spec: ModelSpec, paths_by_hash: Mapping[str, list[str]]
) -> list[Prediction]:
    heads = spec.probability_heads
    if not heads:
        raise SorterError(
            f"the installed model ({spec.model_id}) makes no scene or room predictions; "
            "train and install one with sorter-train"
        )
    hashes = list(paths_by_hash)
    stored = {name: catalog.predictions(spec.model_id, name, hashes) for name in heads}
    out = []
    for content_hash, paths in paths_by_hash.items():
        probabilities = {name: stored[name][content_hash] for name in heads if content_hash in stored[name]}
        answers = resolve(probabilities, heads)
        out += [Prediction(path, answers) for path in paths]
    out.sort(key=lambda p: p.path)
    return out
