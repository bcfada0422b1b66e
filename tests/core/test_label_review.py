"""The review queue: least certain first, near-copies of a queued image later."""

from __future__ import annotations

import numpy as np

from sorter_app.core.label_review import margins, review_order


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def test_margins_are_best_minus_second() -> None:
    p = np.array([[0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [1.0, 0.0, 0.0]], dtype=np.float32)
    assert np.allclose(margins(p), [0.2, 0.01, 1.0])


def test_least_certain_first_but_not_two_near_copies_in_a_row() -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng.normal(size=(6, 16)))
    vectors[1] = _unit(vectors[0:1] + 0.01 * rng.normal(size=(1, 16)))[0]  # a near-copy of 0
    top = np.array([0.45, 0.40, 0.50, 0.60, 0.90, 0.70], dtype=np.float32)
    probabilities = np.stack([top, 1 - top], axis=1)  # margins grow with |top - 0.5|
    order = review_order(vectors, probabilities, 6).tolist()
    assert order[0] == 2  # margin 0: the least certain
    assert order.index(0) < order.index(3) < order.index(1)  # 1 waits: 0 is queued and alike
    assert sorted(order) == list(range(6))
    assert review_order(vectors, probabilities, 2, near=2.0).tolist() == [2, 0]
    assert review_order(vectors, probabilities, 0).tolist() == []
