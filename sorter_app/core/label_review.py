"""The review queue: which unlabelled image a person should label next so the model learns fastest.

Uncertainty sampling by margin: the images whose two best labels are closest in probability come
first — a label there moves the decision boundary, one on an image the model is sure of does not.
Taken alone, that order puts near-copies side by side (twenty shots of one unusual scene are all
unsure in the same way, and labelling the first teaches what the other nineteen would), so an image
too similar to one already queued waits until the distinct ones have been offered.
"""

from __future__ import annotations

import numpy as np

from .softmax_regression import Floats, Ints

NEAR = 0.9  # cosine similarity at which two images count as near-copies for the queue
_POOL = 10  # the diversity pass looks at this many candidates per queue place


def margins(probabilities: Floats) -> Floats:
    """Best minus second-best probability per image: 0 is a coin toss, 1 a sure answer."""
    if probabilities.shape[1] < 2:
        return np.ones(len(probabilities), dtype=np.float32)
    top2 = -np.partition(-probabilities, 1, axis=1)[:, :2]
    return (top2[:, 0] - top2[:, 1]).astype(np.float32)


def review_pool(probabilities: Floats, limit: int) -> Ints:
    """The images `review_order` can put in its first `limit` places, least certain first: the only
    ones whose vectors it compares (a caller with a million images reads just these)."""
    return np.argsort(margins(probabilities), kind="stable")[: max(limit, 0) * _POOL]


def review_order(vectors: Floats, probabilities: Floats, limit: int, *, near: float = NEAR) -> Ints:
    """Indices of up to `limit` images, most informative first.

    Candidates are taken by increasing margin; one whose similarity to an image already queued is
    `near` or more is set aside, and the set-aside ones fill the places left at the end (still by
    margin). Only the `limit × 10` least certain images are compared, so the cost stays small.
    """
    limit = min(limit, len(vectors))
    if limit <= 0:
        return np.zeros(0, dtype=np.int64)
    by_margin = np.argsort(margins(probabilities), kind="stable")
    pool = by_margin[: limit * _POOL]  # = review_pool
    chosen: list[int] = []
    deferred: list[int] = []
    chosen_vectors = np.empty((limit, vectors.shape[1]), dtype=np.float32)
    for candidate in pool.tolist():
        if len(chosen) == limit:
            break
        if chosen and float((chosen_vectors[: len(chosen)] @ vectors[candidate]).max()) >= near:
            deferred.append(candidate)
            continue
        chosen_vectors[len(chosen)] = vectors[candidate]
        chosen.append(candidate)
    rest = [*deferred, *by_margin[len(pool) :].tolist()]
    return np.array([*chosen, *rest[: limit - len(chosen)]], dtype=np.int64)
