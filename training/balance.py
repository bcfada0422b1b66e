"""Per-sample loss weights: every class counts the same, and within a class every source does.

Class balance alone would still let the biggest source of a class (Intel's 2,158 small outdoor
photos) define that class; weighting sources equally within each class means "outdoor" is learnt
from Intel, MiniPlaces, SUN and the stock photos alike, which is the source-shortcut remedy that
needs no pixels. Weights average 1 over the labelled samples so the learning rate keeps its meaning.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from numpy.typing import NDArray


def sample_weights(labels: NDArray[np.int64], sources: NDArray[np.str_], mode: str) -> NDArray[np.float32]:
    """Weights for rows with `labels >= 0` (others get 0); `mode` is none, class or class_source."""
    labelled = labels >= 0
    weights = np.zeros(labels.shape[0], dtype=np.float64)
    if not labelled.any():
        return weights.astype(np.float32)
    if mode == "none":
        weights[labelled] = 1.0
    elif mode == "class":
        counts = Counter(labels[labelled].tolist())
        for cls, count in counts.items():
            weights[labels == cls] = 1.0 / (len(counts) * count)
    elif mode == "class_source":
        counts = Counter(labels[labelled].tolist())
        for cls in counts:
            in_class = labels == cls
            per_source = Counter(sources[in_class].tolist())
            for source, count in per_source.items():
                weights[in_class & (sources == source)] = 1.0 / (len(counts) * len(per_source) * count)
    else:
        raise ValueError(f"unknown balance mode {mode!r}")
    weights[labelled] *= labelled.sum() / weights[labelled].sum()
    return weights.astype(np.float32)
