"""Which images are not photographs of scenes (charts, diagrams, documents, flat graphics).

A scorer is anything with `score(pixels, embeddings)` returning, per image, the probability that
it is *not* a photo; `curate` drops images scoring at or above its threshold. The default is a
logistic-regression probe on the bundled embedder's 1280-d embeddings, whose 1,281 weights are
committed beside this module (`noise_probe.json`) with the figures measured on held-out images of
the shared datasets. It works offline and costs nothing beyond the embedding already computed.
It is only valid for the embedder it was fitted on: loading it for any other model is refused.

Refit (and re-measure) with `python -m training.curate.fit_noise_probe` (see that module).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import TrainingError

DEFAULT_PROBE = Path(__file__).resolve().parent / "noise_probe.json"
PROBE_FORMAT = 1
NOISE_THRESHOLD = 0.5  # curate's default: drop at p(not a photo) ≥ this


class NoiseScorer(Protocol):
    """`score` gets a batch: model pixels uint8 [B, H, W, 3] and embeddings float32 [B, D]."""

    def score(self, pixels: NDArray[np.uint8], embeddings: NDArray[np.float32]) -> NDArray[np.float64]:
        """Probability of "not a photo of a scene", one per image, in [0, 1]."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the scorer: enough to know which one ran."""
        ...


@dataclass(frozen=True)
class ProbeScorer:
    """p(not a photo) = sigmoid(embedding · weights + bias); pixels are not looked at."""

    weights: NDArray[np.float64]
    bias: float
    model_id: str
    source: str = "in memory"
    threshold: float = 0.5  # the operating point the committed figures were measured at

    def score(self, pixels: NDArray[np.uint8], embeddings: NDArray[np.float32]) -> NDArray[np.float64]:
        del pixels
        return sigmoid(embeddings.astype(np.float64) @ self.weights + self.bias)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "embedding logistic probe",
            "file": self.source,
            "model_id": self.model_id,
            "measured_threshold": self.threshold,
        }

    def to_json(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": PROBE_FORMAT,
            "model_id": self.model_id,
            "threshold": self.threshold,
            "bias": round(self.bias, 7),
            "weights": [float(f"{w:.7g}") for w in self.weights],
            **extra,
        }


def load_probe(path: Path, model_id: str) -> ProbeScorer:
    """The probe stored at `path`, refused unless it was fitted on the embedder `model_id`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainingError(f"cannot read noise probe {path}: {exc}") from exc
    if data.get("format") != PROBE_FORMAT:
        raise TrainingError(f"noise probe {path}: unsupported format {data.get('format')!r}")
    if data.get("model_id") != model_id:
        raise TrainingError(
            f"noise probe {path} was fitted on embedder {data.get('model_id')!r}, not {model_id!r}: "
            "refit it (python -m training.curate.fit_noise_probe) or pass --noise-scorer none"
        )
    return ProbeScorer(
        weights=np.asarray(data["weights"], dtype=np.float64),
        bias=float(data["bias"]),
        model_id=model_id,
        source=path.name,
        threshold=float(data.get("threshold", 0.5)),
    )


def sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)  # no overflow for large |x|


def fit_logistic(
    features: NDArray[np.float32],
    targets: NDArray[np.bool_],
    *,
    l2: float = 1e-2,
    iterations: int = 25,
) -> tuple[NDArray[np.float64], float]:
    """L2-regularised logistic regression by Newton's method.

    Features are standardised for the fit (so `l2` weighs every dimension alike) and the result is
    folded back into weights on raw embeddings. Classes are weighted to equal mass because
    non-photos are ~3 % of the data; the bias is not regularised.
    """
    mean = features.mean(axis=0, dtype=np.float64)
    scale = np.maximum(features.std(axis=0, dtype=np.float64), 1e-6)  # so that l2 means the same per feature
    x = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
    y = targets.astype(np.float64)
    positives = max(int(targets.sum()), 1)
    negatives = max(len(targets) - positives, 1)
    sample_weight = np.where(targets, 0.5 / positives, 0.5 / negatives)
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = sigmoid(x @ beta)
        gradient = x.T @ (sample_weight * (p - y)) + penalty * beta
        hessian = (x * (sample_weight * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    weights = beta[:-1] / scale  # back to raw embeddings: x·w + b needs no standardising at score time
    return weights, float(beta[-1] - (mean * weights).sum())
