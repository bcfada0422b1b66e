"""How good a label set's classifier is, judged on its out-of-fold answers: the score that picks the
regularisation, the confidence below which an answer is "unknown", and each label's precision and
recall. Kept apart from the fitting (label_model.py) because these are the rules a person reads
next to the labels, and each is tested on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .softmax_regression import Floats, Ints

TARGET_PRECISION = 0.9
MIN_SUPPORT = 10  # out-of-fold answers needed before a confidence threshold is trusted
_Z = 1.0  # the lower bound's width, in standard errors


@dataclass(frozen=True)
class LabelQuality:
    label: str
    examples: int
    precision: float | None  # of the out-of-fold answers naming this label; None if it was never named
    recall: float | None  # None when the label had too few examples to be tested


def balanced_score(probabilities: Floats, targets: Ints) -> tuple[float, float]:
    """Balanced accuracy first (every label counts the same), then likelihood to break ties."""
    right = probabilities.argmax(axis=1) == targets
    present = np.unique(targets)
    balanced = float(np.mean([right[targets == t].mean() for t in present]))
    likelihood = float(np.log(np.maximum(probabilities[np.arange(len(targets)), targets], 1e-12)).mean())
    return balanced, likelihood


def choose_threshold(probabilities: Floats, targets: Ints) -> tuple[float, float | None]:
    """(threshold, coverage): the lowest confidence at which the answers at or above it were right at
    least TARGET_PRECISION of the time (over at least MIN_SUPPORT answers), and the share of answers
    it keeps. 1.0 — every answer "unknown" — when there is too little to judge by or none qualifies."""
    if len(targets) < MIN_SUPPORT:
        return 1.0, None
    confidence = probabilities.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    right = (probabilities.argmax(axis=1) == targets)[order]
    answered = np.arange(1, len(right) + 1)
    precision = lower_bound(np.cumsum(right), answered)
    ranked = confidence[order]
    cut = np.append(ranked[:-1] > ranked[1:], True)  # a threshold takes all answers that tie with it
    good = np.flatnonzero((precision >= TARGET_PRECISION) & (answered >= MIN_SUPPORT) & cut)
    if len(good) == 0:
        return 1.0, 0.0
    last = int(good[-1])
    return float(ranked[last]), (last + 1) / len(right)


def lower_bound(successes: Ints, trials: Ints) -> Floats:
    """Wilson score interval's lower end at one standard error: a precision measured on few
    answers, and picked as the best of many cut-offs, is optimistic; this is what it surely reaches."""
    p = successes / trials
    z2 = _Z * _Z
    centre = p + z2 / (2 * trials)
    spread = _Z * np.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return ((centre - spread) / (1 + z2 / trials)).astype(np.float32)


def label_quality(
    names: Sequence[str], counts: Ints, probabilities: Floats, targets: Ints
) -> tuple[LabelQuality, ...]:
    said = probabilities.argmax(axis=1) if len(targets) else np.zeros(0, dtype=np.int64)
    out = []
    for i, name in enumerate(names):
        named, actual = said == i, targets == i
        precision = float((targets[named] == i).mean()) if named.any() else None
        recall = float((said[actual] == i).mean()) if actual.any() else None
        out.append(LabelQuality(name, int(counts[i]), precision, recall))
    return tuple(out)
