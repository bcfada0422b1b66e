"""What the Browse grid shows, in which order, and which images a prediction filter lets through.

Kept apart from the Qt model so the rules — natural name order, "unknown" as a choice of its own,
images without a prediction never passing a label filter — are tested without a window.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .model_spec import ModelSpec
from .predictions import UNKNOWN, HeadAnswer, Prediction, prediction_heads

SORT_KEYS = ("name", "date", "cluster", "prediction")
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class BrowseItem:
    relpath: str
    size: int
    mtime_ns: int
    group: str | None  # the name of its group in the grouping shown, if any
    prediction: Prediction | None  # None until the image is indexed (or for a model without heads)


@functools.lru_cache(maxsize=1 << 16)
def natural_key(text: str) -> tuple[tuple[str | int, ...], str]:
    """'img2' before 'img10', case ignored: how a person reads a file list. Ties (e.g. 'a1' and
    'a01', 'A' and 'a') fall back to the exact text, so the order never depends on the input's.

    Cached: the grid re-sorts the same names whenever the user changes the order or the filter,
    and group and label names repeat across thousands of images.
    """
    parts: list[str | int] = list(_DIGITS.split(text.casefold()))  # text, number, text, …
    parts[1::2] = [int(p) for p in parts[1::2]]
    return tuple(parts), text


def _confident(prediction: Prediction | None) -> HeadAnswer | None:
    """The answer behind best_label: the most specific head that gave a confident label."""
    if prediction is None or prediction.best_label is None:
        return None
    return next(a for a in reversed(prediction.answers.values()) if a.label == prediction.best_label)


def _by_name(item: BrowseItem) -> tuple[Any, ...]:
    return natural_key(item.relpath)


def _by_date(item: BrowseItem) -> tuple[Any, ...]:
    return (item.mtime_ns, natural_key(item.relpath))


def _by_cluster(item: BrowseItem) -> tuple[Any, ...]:
    group = () if item.group is None else natural_key(item.group)
    return (item.group is None, group, natural_key(item.relpath))


def _by_prediction(item: BrowseItem) -> tuple[Any, ...]:
    best = _confident(item.prediction)
    if best is None:
        return (True, (), 0.0, natural_key(item.relpath))
    return (False, natural_key(str(best.label)), -(best.confidence or 0.0), natural_key(item.relpath))


_SORTS: dict[str, Callable[[BrowseItem], tuple[Any, ...]]] = {
    "name": _by_name,
    "date": _by_date,
    "cluster": _by_cluster,
    "prediction": _by_prediction,
}


def sort_items(items: Iterable[BrowseItem], key: str) -> list[BrowseItem]:
    """name; date (oldest first); cluster (groupless last); prediction (label, surest first, unsure last)."""
    if key not in _SORTS:
        raise ValueError(f"unknown sort {key!r}: expected one of {', '.join(SORT_KEYS)}")
    return sorted(items, key=_SORTS[key])


def filter_items(items: Iterable[BrowseItem], label: str | None, min_confidence: float) -> list[BrowseItem]:
    """The images a label filter lets through, in their given order.

    label None: every image whose most specific confident answer reaches `min_confidence` (at 0,
    every image, predicted or not). "unknown": images the model was unsure of — scene unknown, or
    room unknown for an indoor scene; the threshold does not apply, since unsure answers are below
    it by definition. Any other label: images where some head said it with at least that confidence.
    """
    if label is None:
        if min_confidence <= 0:
            return list(items)
        return [
            i
            for i in items
            if (best := _confident(i.prediction)) and (best.confidence or 0.0) >= min_confidence
        ]
    if label == UNKNOWN:
        # A head that does not apply (room for an outdoor scene) answers None, not "unknown".
        return [
            i
            for i in items
            if i.prediction and any(a.label == UNKNOWN for a in i.prediction.answers.values())
        ]
    return [
        i
        for i in items
        if i.prediction
        and any(
            a.label == label and (a.confidence or 0.0) >= min_confidence
            for a in i.prediction.answers.values()
        )
    ]


def filter_labels(spec: ModelSpec) -> list[str]:
    """The filter's choices: each probability head's labels in the order heads are answered (scene
    before room), then "unknown"; nothing when the model makes no predictions."""
    if not spec.probability_heads:
        return []
    labels = dict.fromkeys(str(label) for head in prediction_heads(spec).values() for label in head["labels"])
    return [*labels, UNKNOWN]
