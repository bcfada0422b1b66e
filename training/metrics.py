"""Classification metrics on probability matrices, in plain numpy so they can be checked by hand.

Conventions: `probs` is [N, C] (rows sum to 1), `labels` is [N] class indices. Balanced accuracy
is the mean recall over the classes that occur in `labels` (a class with no examples has no
recall). Confidence is the largest probability of a row; the "unknown" threshold keeps the
predictions whose confidence is at least the threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Accuracy the predictions the app shows must reach (on the validation split). Indoor/outdoor is
# right ~98 % of the time, so only a high target makes "unknown" mean anything there; room type
# is harder, and 90 % keeps about four in five answers.
DEFAULT_TARGETS = {"scene": 0.99, "room": 0.90}

FloatArray = NDArray[np.floating[Any]]
IntArray = NDArray[np.integer[Any]]


def accuracy_at_k(probs: FloatArray, labels: IntArray, k: int) -> float:
    """Share of rows whose label is among the k most probable classes."""
    if labels.size == 0:
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def confusion_matrix(predicted: IntArray, labels: IntArray, classes: int) -> NDArray[np.int64]:
    """Rows: true class; columns: predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def per_class_recall(predicted: IntArray, labels: IntArray, classes: int) -> list[float | None]:
    """Recall of each class; None for a class with no examples."""
    matrix = confusion_matrix(predicted, labels, classes)
    totals = matrix.sum(axis=1)
    return [float(matrix[c, c] / totals[c]) if totals[c] else None for c in range(classes)]


def balanced_accuracy(predicted: IntArray, labels: IntArray, classes: int) -> float:
    recalls = [r for r in per_class_recall(predicted, labels, classes) if r is not None]
    return float(np.mean(recalls)) if recalls else float("nan")


def expected_calibration_error(probs: FloatArray, labels: IntArray, bins: int = 15) -> float:
    """ECE over equal-width confidence bins: Σ_b (n_b / N) · |accuracy_b − mean confidence_b|."""
    if labels.size == 0:
        return float("nan")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    # Bin b holds confidences in (b/bins, (b+1)/bins]; confidence 0 joins the first bin.
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


@dataclass(frozen=True)
class ThresholdChoice:
    """Say "unknown" below `threshold`; on the data it was chosen on, `coverage` of the
    predictions are kept and `accuracy` of those are right. `reached` is False when no threshold
    meets the target (then nothing is kept: threshold 1.0 + ε would be needed)."""

    threshold: float
    coverage: float
    accuracy: float
    target: float
    reached: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def choose_threshold(confidence: FloatArray, correct: NDArray[np.bool_], target: float) -> ThresholdChoice:
    """The lowest confidence threshold at which the kept predictions are ≥ `target` accurate.

    Lowest, because it keeps the most predictions. Candidates are the observed confidences (a
    threshold between two of them keeps the same set as the higher one); ties are kept together.
    """
    n = confidence.size
    if n == 0:
        return ThresholdChoice(1.0, 0.0, float("nan"), target, False)
    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    hits = np.cumsum(correct[order])
    kept = np.arange(1, n + 1)
    # Only positions after which the confidence drops: a threshold cannot split tied confidences.
    ends = np.flatnonzero(np.append(conf_sorted[1:] < conf_sorted[:-1], True))
    accuracy = hits[ends] / kept[ends]
    good = np.flatnonzero(accuracy >= target)
    if good.size == 0:
        return ThresholdChoice(1.0, 0.0, float("nan"), target, False)
    best = ends[good[-1]]  # the most predictions kept
    return ThresholdChoice(
        threshold=float(conf_sorted[best]),
        coverage=float((best + 1) / n),
        accuracy=float(hits[best] / (best + 1)),
        target=target,
        reached=True,
    )


def accuracy_of_most_sure(confidence: FloatArray, correct: NDArray[np.bool_], share: float) -> float:
    """Accuracy on the `share` of the predictions made with the highest confidence: a figure at a
    fixed coverage that needs no threshold."""
    top = np.argsort(-confidence)[: round(share * confidence.size)]
    return float(correct[top].mean())


def kept_at(confidence: FloatArray, correct: NDArray[np.bool_], threshold: float) -> tuple[float, float]:
    """(coverage, accuracy of the kept) when predictions below `threshold` become "unknown"."""
    if confidence.size == 0:
        return 0.0, float("nan")
    keep = confidence >= threshold
    return float(keep.mean()), float(correct[keep].mean()) if keep.any() else float("nan")


def classification_report(
    probs: FloatArray, labels: IntArray, names: list[str], threshold: float | None = None
) -> dict[str, Any]:
    """Everything `evaluate` reports for one head on one set of images."""
    classes = len(names)
    predicted = probs.argmax(axis=1) if labels.size else np.zeros(0, dtype=np.int64)
    report: dict[str, Any] = {
        "count": int(labels.size),
        "accuracy": accuracy_at_k(probs, labels, 1),
        "balanced_accuracy": balanced_accuracy(predicted, labels, classes),
        "per_class_recall": dict(zip(names, per_class_recall(predicted, labels, classes), strict=True)),
        "class_counts": dict(zip(names, np.bincount(labels, minlength=classes).tolist(), strict=True)),
        "confusion": confusion_matrix(predicted, labels, classes).tolist(),
        "ece": expected_calibration_error(probs, labels),
    }
    if classes > 2:
        report["accuracy_at_3"] = accuracy_at_k(probs, labels, 3)
    if threshold is not None:
        coverage, kept_accuracy = kept_at(probs.max(axis=1), predicted == labels, threshold)
        report["unknown_below"] = threshold
        report["coverage"] = coverage
        report["accuracy_of_kept"] = kept_accuracy
    return report
