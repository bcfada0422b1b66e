"""The softmax regression reaches the optimum of its stated objective, checked in float64 by the test."""

from __future__ import annotations

import numpy as np
import pytest

from sorter_app.core.errors import CancelledError
from sorter_app.core.softmax_regression import balanced_weights, fit_softmax


def _problem(seed: int = 0, n: int = 60, dim: int = 8, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    targets = rng.integers(0, classes, n)
    targets[:classes] = np.arange(classes)
    features = centres[targets] + 1.5 * rng.normal(size=(n, dim))
    return features.astype(np.float32), targets.astype(np.int64)


def _objective(
    features: np.ndarray, targets: np.ndarray, w: np.ndarray, b: np.ndarray, prior: float
) -> float:
    """The documented objective, written out independently in float64."""
    x = features.astype(np.float64)
    scores = x @ w + b
    log_norm = np.log(np.exp(scores - scores.max(1, keepdims=True)).sum(1)) + scores.max(1)
    weights = balanced_weights(targets, w.shape[1]).astype(np.float64)
    loss = weights @ (log_norm - scores[np.arange(len(targets)), targets])
    return float((loss + prior / 2 * (w * w).sum()) / len(targets))


def test_the_fit_is_the_minimum_of_the_objective() -> None:
    features, targets = _problem()
    fitted = fit_softmax(features, targets, 3, prior=0.5, tolerance=1e-6, max_iterations=500)
    w, b = fitted.weights.astype(np.float64), fitted.bias.astype(np.float64)
    best = _objective(features, targets, w, b, 0.5)
    rng = np.random.default_rng(1)
    for _ in range(20):
        dw, db = rng.normal(size=w.shape) * 1e-2, rng.normal(size=b.shape) * 1e-2
        assert _objective(features, targets, w + dw, b + db, 0.5) > best
    assert best < _objective(features, targets, np.zeros_like(w), np.zeros_like(b), 0.5)


def test_a_stronger_prior_shrinks_the_weights_and_warm_starts_converge_faster() -> None:
    features, targets = _problem(2)
    loose = fit_softmax(features, targets, 3, prior=0.01)
    tight = fit_softmax(features, targets, 3, prior=10.0)
    assert np.linalg.norm(tight.weights) < np.linalg.norm(loose.weights) / 3
    again = fit_softmax(features, targets, 3, prior=0.01, start=loose)
    assert again.iterations < loose.iterations
    assert np.allclose(again.weights, loose.weights, atol=1e-2)


def test_separable_labels_are_learnt_and_probabilities_sum_to_one() -> None:
    features, targets = _problem(3, dim=16)
    features = features + 6 * np.eye(16, dtype=np.float32)[targets]
    fitted = fit_softmax(features, targets, 3, prior=0.1)
    probabilities = fitted.probabilities(features)
    assert (probabilities.argmax(1) == targets).all()
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-5)


def test_every_class_weighs_the_same() -> None:
    targets = np.array([0] * 9 + [1] * 3 + [2], dtype=np.int64)
    weights = balanced_weights(targets, 4)
    assert weights.mean() == pytest.approx(1.0)
    totals = [weights[targets == c].sum() for c in range(3)]
    assert totals == pytest.approx([totals[0]] * 3)


def test_cancelling_stops_the_fit() -> None:
    features, targets = _problem()
    with pytest.raises(CancelledError):
        fit_softmax(features, targets, 3, prior=0.1, cancelled=lambda: True)
