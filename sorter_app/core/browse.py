"""What the Browse grid shows, in which order, and which images a filter lets through.

Kept apart from the Qt model so the rules — natural name order, "unknown" as a choice of its own,
images without a prediction never passing a label filter, sub-folder and name filters, the section
headers of a sorted grid — are tested without a window. Labels come from a `LabelSource`
(label_source.py): the model's heads by default, any other source the same way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .label_source import LabelAnswer, LabelSource, ModelLabels, best_answer
from .model_spec import ModelSpec
from .predictions import UNKNOWN, Prediction
from .ratings import REJECTED, UNRATED, rating_text

SORT_KEYS = ("name", "date", "cluster", "prediction", "rating")
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)  # slots: one per image, a million in a big folder
class BrowseItem:
    relpath: str
    size: int
    mtime_ns: int
    prediction: Prediction | None  # None until the image is indexed (or for a model without heads)
    content_hash: str | None = None  # None until indexed: what the user's choices are keyed by
    rating: int = 0  # the user's stars (1–5), −1 rejected, 0 none (ratings.py)

    @property
    def folder(self) -> str:
        """The sub-folder the file is in, '' for the top."""
        return self.relpath.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.relpath.rpartition("/")[2]


@dataclass(frozen=True)
class BrowseFilter:
    """What Browse shows: a label (None = any, "unknown" = unsure ones) at a confidence, inside a
    sub-folder ('' = everywhere, sub-folders included), with a name containing `text`, rated
    `rating` (None = any; 1–5: at least that many stars; 0: unrated only; −1: rejected only)."""

    label: str | None = None
    min_confidence: float = 0.0
    folder: str = ""
    text: str = ""
    rating: int | None = None

    @property
    def is_default(self) -> bool:
        return self == BrowseFilter()


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


_MODEL = ModelLabels(None)


def _answers(item: BrowseItem, source: LabelSource | None) -> Sequence[LabelAnswer]:
    return (source or _MODEL).answers(item)


def _by_name(item: BrowseItem) -> tuple[Any, ...]:
    return natural_key(item.relpath)


def _by_date(item: BrowseItem) -> tuple[Any, ...]:
    return (item.mtime_ns, natural_key(item.relpath))


def _by_rating(item: BrowseItem) -> tuple[Any, ...]:
    return (-item.rating if item.rating != REJECTED else 1, natural_key(item.relpath))  # best first


def _by_cluster(groups: Mapping[str, str]) -> Callable[[BrowseItem], tuple[Any, ...]]:
    def key(item: BrowseItem) -> tuple[Any, ...]:
        group = groups.get(item.relpath)
        return (group is None, () if group is None else natural_key(group), natural_key(item.relpath))

    return key


def _by_label(source: LabelSource | None) -> Callable[[BrowseItem], tuple[Any, ...]]:
    def key(item: BrowseItem) -> tuple[Any, ...]:
        best = best_answer(_answers(item, source))
        if best is None:
            return (True, (), 0.0, natural_key(item.relpath))
        return (False, natural_key(str(best.label)), -(best.confidence or 0.0), natural_key(item.relpath))

    return key


def sort_items(
    items: Iterable[BrowseItem],
    key: str,
    source: LabelSource | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[BrowseItem]:
    """name; date (oldest first); cluster (by `groups`, relpath → cluster name; groupless last);
    prediction (label, surest first, unsure last); rating (most stars first, rejected last)."""
    sorts: dict[str, Callable[[BrowseItem], tuple[Any, ...]]] = {
        "name": _by_name,
        "date": _by_date,
        "cluster": _by_cluster(groups or {}),
        "prediction": _by_label(source),
        "rating": _by_rating,
    }
    if key not in sorts:
        raise ValueError(f"unknown sort {key!r}: expected one of {', '.join(SORT_KEYS)}")
    return sorted(items, key=sorts[key])


def section_of(
    item: BrowseItem, key: str, source: LabelSource | None = None, groups: Mapping[str, str] | None = None
) -> str | None:
    """The header an item goes under when sorted by `key`: its cluster (in `groups`), its label or
    its rating; None for sorts that have no sections (name, date)."""
    if key == "rating":
        return rating_text(item.rating) if item.rating != UNRATED else "no rating"
    if key == "cluster":
        return (groups or {}).get(item.relpath) or "in no cluster"
    if key == "prediction":
        best = best_answer(_answers(item, source))
        return str(best.label).replace("_", " ") if best is not None else "not sure / not predicted"
    return None


def apply_filter(
    items: Iterable[BrowseItem], chosen: BrowseFilter, source: LabelSource | None = None
) -> list[BrowseItem]:
    """The items `chosen` lets through, in their given order."""
    shown = filter_items(items, chosen.label, chosen.min_confidence, source)
    if chosen.folder:
        prefix = chosen.folder.rstrip("/") + "/"
        shown = [i for i in shown if i.relpath.startswith(prefix)]
    if chosen.text.strip():
        needle = chosen.text.strip().casefold()
        shown = [i for i in shown if needle in i.name.casefold()]
    if chosen.rating is not None:
        shown = [i for i in shown if rated(i.rating, chosen.rating)]
    return shown


def rated(rating: int, wanted: int) -> bool:
    """Whether an image's `rating` passes a rating filter: at least `wanted` stars (1–5), unrated
    (0) or rejected (−1) only."""
    return rating >= wanted if wanted > UNRATED else rating == wanted


def subfolders(items: Iterable[BrowseItem]) -> dict[str, int]:
    """Every sub-folder that holds images (directly or below) → how many, '' for the whole folder."""
    counts: dict[str, int] = {}
    for item in items:
        parts = item.relpath.split("/")[:-1]
        counts[""] = counts.get("", 0) + 1
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            counts[folder] = counts.get(folder, 0) + 1
    return counts


def filter_items(
    items: Iterable[BrowseItem], label: str | None, min_confidence: float, source: LabelSource | None = None
) -> list[BrowseItem]:
    """The images a label filter lets through, in their given order.

    label None: every image whose most specific confident answer reaches `min_confidence` (at 0,
    every image, predicted or not). "unknown": images the source was unsure of — scene unknown, or
    room unknown for an indoor scene; the threshold does not apply, since unsure answers are below
    it by definition. Any other label: images where some head said it with at least that confidence.
    """
    if label is None:
        if min_confidence <= 0:
            return list(items)
        return [
            i
            for i in items
            if (best := best_answer(_answers(i, source))) and (best.confidence or 0.0) >= min_confidence
        ]
    if label == UNKNOWN:
        # A head that does not apply (room for an outdoor scene) answers None, not "unknown".
        return [i for i in items if any(a.label == UNKNOWN for a in _answers(i, source))]
    return [
        i
        for i in items
        if any(a.label == label and (a.confidence or 0.0) >= min_confidence for a in _answers(i, source))
    ]


def filter_labels(spec: ModelSpec) -> list[str]:
    """The filter's choices: each probability head's labels in the order heads are answered (scene
    before room), then "unknown"; nothing when the model makes no predictions."""
    return ModelLabels(spec).choices()
