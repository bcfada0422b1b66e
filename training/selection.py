"""Model selection that measures generalisation: every recipe scored leave-one-source-out.

For each head and each source S that has the head's labels, a recipe is fitted on every other
source and predicts all of S: the score a model earns on photos from a collection it has never
seen, which is what users will give it. The split-test score (train and test from the same
sources) hid an 11-point loss on rooms (#10); this one cannot.

A recipe is a function `fit(data, rows, head) -> predict(rows) -> probabilities`; the first row of
every table is `lr`, a plain logistic regression on the frozen centre-crop embedding (C = 1,
balanced classes). Out-of-source probabilities of every row are kept, so that "unknown"
thresholds can be chosen on held-out-source predictions (`thresholds.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .linear import LinearModel, balanced_weights, fit_logistic
from .metrics import balanced_accuracy
from .selection_data import HEAD_LABELS, SelectionData

Rows = NDArray[np.int64]
Predict = Callable[[Rows], NDArray[np.float32]]
Fit = Callable[[SelectionData, Rows, str], Predict]


@dataclass
class HeldOut:
    """One head's out-of-source predictions: `probs[i]` for row `rows[i]`, by a model that never
    saw that row's source."""

    rows: Rows
    probs: NDArray[np.float32]
    folds: dict[str, dict[str, Any]] = field(default_factory=dict)  # per held-out source: figures


def training_rows(data: SelectionData, head: str, held_out: str) -> Rows:
    return np.flatnonzero((data.labels[head] >= 0) & (data.source != held_out))


def leave_one_source_out(
    data: SelectionData, head: str, fit: Fit, log: Callable[[str], None] = print
) -> HeldOut:
    labels = data.labels[head]
    classes = len(HEAD_LABELS[head])
    all_rows, all_probs, folds = [], [], {}
    for source in data.sources_with(head):
        test = np.flatnonzero((labels >= 0) & (data.source == source))
        train = training_rows(data, head, source)
        probs = fit(data, train, head)(test)
        folds[source] = fold_figures(probs, labels[test], np.unique(labels[train]), classes)
        log(f"  {head} held out {source}: {folds[source]['accuracy']:.3f} ({test.size} images)")
        all_rows.append(test)
        all_probs.append(probs)
    return HeldOut(np.concatenate(all_rows), np.concatenate(all_probs), folds)


def fold_figures(
    probs: NDArray[np.float32], y: NDArray[np.int64], trained: NDArray[np.int64], classes: int
) -> dict[str, Any]:
    """A held-out source's figures; `trained` are the classes training had (a room source may
    hold a class no other source has: places365_rooms' entrance_hall)."""
    predicted = probs.argmax(1)
    seen = np.isin(y, trained)
    return {
        "count": int(y.size),
        "accuracy": float((predicted == y).mean()),
        "balanced_accuracy": balanced_accuracy(predicted, y, classes),
        "accuracy_on_trained_classes": float((predicted == y)[seen].mean()) if seen.any() else None,
        "count_on_trained_classes": int(seen.sum()),
    }


# --- recipes on frozen embeddings ----------------------------------------------------------


def source_balanced_weights(
    labels: NDArray[np.int64], sources: NDArray[np.str_], classes: int
) -> NDArray[np.float64]:
    """Every class weighs the same, and within a class every source weighs the same."""
    weights = np.zeros(labels.size, dtype=np.float64)
    present = [c for c in range(classes) if (labels == c).any()]
    for c in present:
        members = labels == c
        names = np.unique(sources[members])
        for name in names:
            rows = members & (sources == name)
            weights[rows] = labels.size / (len(present) * len(names) * rows.sum())
    return weights


_FITTED: dict[tuple[Any, ...], LinearModel] = {}  # recipes that differ only at test time share fits


@dataclass(frozen=True)
class LogisticRecipe:
    """LR fitted on the embeddings of `train_views` (stacked as extra samples), averaging the
    probabilities of `test_views` at prediction time."""

    c: float = 1.0
    train_views: tuple[str, ...] = ("centre",)
    test_views: tuple[str, ...] = ("centre",)
    balance: str = "class"

    def model(self, data: SelectionData, rows: Rows, head: str) -> LinearModel:
        key = (
            id(data),
            self.c,
            self.train_views,
            self.balance,
            head,
            hashlib.sha1(rows.tobytes()).hexdigest(),
        )
        if key not in _FITTED:
            classes = len(HEAD_LABELS[head])
            y = data.labels[head][rows]
            x = np.concatenate([data.embeddings(v)[rows] for v in self.train_views])
            if self.balance == "class_source":
                w = source_balanced_weights(y, data.source[rows], classes)
            else:
                w = balanced_weights(y, classes)
            times = len(self.train_views)
            _FITTED[key] = fit_logistic(
                x, np.tile(y, times), classes, c=self.c, sample_weight=np.tile(w, times)
            )
        return _FITTED[key]

    def fit(self, data: SelectionData, rows: Rows, head: str) -> Predict:
        model = self.model(data, rows, head)
        return lambda test: average_views(model, [data.embeddings(v)[test] for v in self.test_views])


def logistic_recipe(**settings: Any) -> LogisticRecipe:
    return LogisticRecipe(**settings)


def average_views(model: LinearModel, views: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    return np.asarray(np.mean([model.probabilities(x) for x in views], axis=0), dtype=np.float32)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    logistic: LogisticRecipe
    heads: tuple[str, ...] = ("kind", "scene", "room")
    views: tuple[str, ...] = ("centre",)  # what the cache must hold

    @property
    def fit(self) -> Fit:
        return self.logistic.fit

    def fit_model(self, data: SelectionData, rows: Rows, head: str) -> LinearModel:
        """The final model: fitted on `rows` (every source), to be exported."""
        return self.logistic.model(data, rows, head)


def embedding_recipes() -> list[Recipe]:
    """The candidates on frozen embeddings; `lr` first, the baseline every table starts with."""
    flip, aug = ("centre", "flip"), ("centre", "flip", "aug0", "aug1")
    return [
        Recipe(
            "lr", "logistic regression on the frozen embedding, C = 1, balanced classes", logistic_recipe()
        ),
        Recipe("lr_c0.3", "the same, C = 0.3 (stronger L2)", logistic_recipe(c=0.3)),
        Recipe("lr_c3", "the same, C = 3", logistic_recipe(c=3.0)),
        Recipe(
            "lr_source",
            "the same, every class and every source within a class weighing the same",
            logistic_recipe(balance="class_source"),
        ),
        Recipe(
            "lr_flip_tta",
            "lr; at test time the mean of the centre crop and its mirror image",
            logistic_recipe(test_views=flip),
            views=flip,
        ),
        Recipe(
            "lr_letterbox",
            "lr; at test time the whole image, letterboxed",
            logistic_recipe(test_views=("letterbox",)),
            views=("centre", "letterbox"),
        ),
        Recipe(
            "lr_3crop",
            "lr; at test time the mean of the centre and both end crops (covers the whole image)",
            logistic_recipe(test_views=("centre", "crop_start", "crop_end")),
            views=("centre", "crop_start", "crop_end"),
        ),
        Recipe(
            "lr_aug",
            "lr fitted on the centre, mirrored and two augmented views of each image",
            logistic_recipe(train_views=aug),
            views=aug,
        ),
    ]


def run_recipes(
    data: SelectionData, recipes: list[Recipe], heads: tuple[str, ...], log: Callable[[str], None] = print
) -> dict[str, dict[str, HeldOut]]:
    """recipe → head → held-out predictions; recipes whose views the caches lack are skipped."""
    available = set.intersection(*(set(cache.views) for cache in data.caches))
    results: dict[str, dict[str, HeldOut]] = {}
    for recipe in recipes:
        if not set(recipe.views) <= available:
            log(f"{recipe.name}: skipped (the cache lacks {sorted(set(recipe.views) - available)})")
            continue
        log(f"{recipe.name}: {recipe.description}")
        results[recipe.name] = {
            head: leave_one_source_out(data, head, recipe.fit, log) for head in heads if head in recipe.heads
        }
    return results
