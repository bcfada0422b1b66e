"""A user's label set as a `LabelSource`: what Browse filters, sorts and captions by, and what can
name clusters, once the set's model has answered for the folder.

Answers are kept by content hash, not by path, so they hold while files move (the next retrain
brings them up to date anyway). An image the person labelled answers with their label, marked as
their word; any other with the model's label and confidence, or "unknown" below the set's
threshold; an image the model has not answered for yet (indexed after the last training) has no
answer, so a label filter never shows it and the "unknown" filter does not either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .label_source import LabelAnswer, best_answer
from .labelling import Answer
from .predictions import UNKNOWN

if TYPE_CHECKING:
    from .browse import BrowseItem


class SetLabels:
    """One label set's answers, read through the `LabelSource` protocol."""

    def __init__(self, name: str, labels: tuple[str, ...], answers: Mapping[str, Answer]) -> None:
        self.name = name
        self._labels = labels
        self._answers = dict(answers)  # content hash → answer

    def choices(self) -> list[str]:
        return [*self._labels, UNKNOWN] if self._labels else []

    def correctable(self) -> list[str]:
        return list(self._labels)

    def answers(self, item: BrowseItem) -> list[LabelAnswer]:
        answer = self._answers.get(item.content_hash or "")
        if answer is None:
            return []
        return [
            LabelAnswer(
                self.name, answer.label, answer.confidence, corrected=answer.labelled, by_hand="labelled"
            )
        ]

    def best_label(self, item: BrowseItem) -> str | None:
        best = best_answer(self.answers(item))
        return best.label if best is not None else None

    def broader(self) -> Mapping[str, str]:
        return {}  # a set's labels are the user's own: none lies within another
