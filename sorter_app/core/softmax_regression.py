"""Class-balanced, L2-regularised softmax (multinomial logistic) regression on embeddings, in numpy.

Why by hand: the app ships numpy but neither scipy nor scikit-learn (together ~100 MB more in the
double-click build) for one small convex problem. The objective is smooth and strongly convex, so
a textbook L-BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking line search reaches the
optimum in tens of iterations; each iteration is two (n × d) by (d × classes) products.

The objective, per example weight w_i (balanced: each class weighs the same in total, mean 1):

    (1/n) · [ Σ_i w_i · cross_entropy(softmax(x_i W + b), y_i) + prior/2 · ‖W‖² ]

`prior` is the Gaussian prior's precision on the weights: the same `prior` means the same belief
whatever n, so a value chosen by cross-validation on a subsample carries over to the full set.
The bias is not regularised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .errors import CancelledError

Floats = NDArray[np.float32]
Ints = NDArray[np.int64]

_HISTORY = 10  # L-BFGS curvature pairs kept
_ARMIJO = 1e-4
_MIN_STEP = 1e-8


@dataclass(frozen=True)
class SoftmaxWeights:
    weights: Floats  # (d, classes)
    bias: Floats  # (classes,)
    iterations: int

    def probabilities(self, features: Floats) -> Floats:
        return softmax(features @ self.weights + self.bias)


def softmax(scores: Floats) -> Floats:
    """Row-wise softmax, in place on a copy; stable for any score range."""
    out: Floats = scores - scores.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def balanced_weights(targets: Ints, n_classes: int) -> Floats:
    """Per-example weights that give every class present the same total weight, with mean 1: a
    label with 3 examples counts as much as one with 300."""
    counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
    present = int((counts > 0).sum())
    return (len(targets) / (present * counts[targets])).astype(np.float32)


def fit_softmax(
    features: Floats,
    targets: Ints,
    n_classes: int,
    *,
    prior: float,
    start: SoftmaxWeights | None = None,
    max_iterations: int = 200,
    tolerance: float = 1e-4,
    cancelled: Callable[[], bool] | None = None,
) -> SoftmaxWeights:
    """Fit on (n, d) float32 `features` and integer `targets` in [0, n_classes).

    `start` warm-starts from an earlier solution (the next prior of a regularisation path).
    Stops when the largest gradient entry is below `tolerance` or the loss stops decreasing.
    """
    n, dim = features.shape
    onehot = np.zeros((n, n_classes), dtype=np.float32)
    onehot[np.arange(n), targets] = 1.0
    weights = balanced_weights(targets, n_classes) / np.float32(n)
    l2 = np.float32(prior / n)
    split = dim * n_classes

    def loss_and_gradient(theta: Floats) -> tuple[float, Floats]:
        w = theta[:split].reshape(dim, n_classes)
        scores = features @ w + theta[split:]
        top = scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scores - top).sum(axis=1, keepdims=True)) + top
        residual = (np.exp(scores - log_norm) - onehot) * weights[:, None]
        loss = float(weights @ (log_norm[:, 0] - (scores * onehot).sum(axis=1))) + 0.5 * float(l2) * float(
            np.vdot(w, w)
        )
        gradient = np.concatenate([(features.T @ residual + l2 * w).ravel(), residual.sum(axis=0)])
        return loss, gradient.astype(np.float32, copy=False)

    if start is None:
        theta0 = np.zeros(split + n_classes, dtype=np.float32)
    else:
        theta0 = np.concatenate([start.weights.ravel(), start.bias]).astype(np.float32)
    theta, iterations = _lbfgs(loss_and_gradient, theta0, max_iterations, tolerance, cancelled)
    return SoftmaxWeights(theta[:split].reshape(dim, n_classes).copy(), theta[split:].copy(), iterations)


def _lbfgs(
    objective: Callable[[Floats], tuple[float, Floats]],
    x: Floats,
    max_iterations: int,
    tolerance: float,
    cancelled: Callable[[], bool] | None,
) -> tuple[Floats, int]:
    value, gradient = objective(x)
    steps: list[Floats] = []
    changes: list[Floats] = []
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 — the count is returned
        if float(np.abs(gradient).max()) < tolerance:
            break
        if cancelled is not None and cancelled():
            raise CancelledError("training cancelled")
        direction = -_inverse_hessian_times(gradient, steps, changes)
        slope = float(gradient @ direction)
        if slope >= 0:  # not a descent direction (curvature went stale): restart from the gradient
            steps.clear()
            changes.clear()
            direction = -gradient / max(float(np.abs(gradient).sum()), 1.0)
            slope = float(gradient @ direction)
        step = 1.0
        while True:
            candidate = (x + step * direction).astype(np.float32, copy=False)
            new_value, new_gradient = objective(candidate)
            if new_value <= value + _ARMIJO * step * slope or step < _MIN_STEP:
                break
            step *= 0.5
        s, y = candidate - x, new_gradient - gradient
        if float(s @ y) > 1e-12:
            steps.append(s)
            changes.append(y)
            if len(steps) > _HISTORY:
                steps.pop(0)
                changes.pop(0)
        improved = value - new_value
        x, value, gradient = candidate, new_value, new_gradient
        if improved <= 1e-9 * max(1.0, abs(value)):
            break
    return x, iteration


def _inverse_hessian_times(gradient: Floats, steps: list[Floats], changes: list[Floats]) -> Floats:
    """The two-loop recursion: the L-BFGS estimate of H⁻¹·gradient from the stored pairs."""
    if not steps:
        return gradient / max(float(np.abs(gradient).sum()), 1.0)
    q = gradient.copy()
    history = []
    for s, y in zip(reversed(steps), reversed(changes), strict=True):
        rho = 1.0 / float(y @ s)
        alpha = rho * float(s @ q)
        q -= np.float32(alpha) * y
        history.append((rho, alpha, s, y))
    q *= np.float32(float(steps[-1] @ changes[-1]) / float(changes[-1] @ changes[-1]))
    for rho, alpha, s, y in reversed(history):
        beta = rho * float(y @ q)
        q += np.float32(alpha - beta) * s
    return q
