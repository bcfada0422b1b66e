"""The classifier of one label set: trained in seconds on stored embeddings, honest about its errors.

A class-balanced softmax regression (softmax_regression.py) does the work. Its regularisation is
chosen by cross-validation inside the labelled examples — never on images nobody labelled — and the
same out-of-fold answers give the estimated accuracy, each label's precision and recall, and the
confidence below which an answer is "unknown": the lowest at which the out-of-fold answers at or
above it were right at least `TARGET_PRECISION` of the time.

A label with fewer than `FEW_EXAMPLES` examples, beside labels with more, gets a nearest-neighbour
fallback: an image closer to one of its examples than any example of another label is, takes that
label. A linear model learns little from one or two points. Tried on places365_rooms,
intel_outdoor_scenes and house_rooms (one label with 1 or 2 examples, the others with 5 or 20;
12 settings) before it was built in: that label's recall rose in every setting (e.g. 4 % → 11 %,
29 % → 47 %), overall accuracy moved by −1.8 to +1.7 points, and 29–46 % of the images it gave the
small label were wrong. It is cheap: each image is compared with those few examples only.

Training is a plain function with `progress` and `cancelled`, so a window can run it in the
background; it reads nothing but the arrays it is given.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .errors import SorterError
from .label_quality import LabelQuality, balanced_score, choose_threshold, label_quality
from .softmax_regression import Floats, Ints, SoftmaxWeights, fit_softmax, softmax

FEW_EXAMPLES = 3
PRIORS = (3.0, 1.0, 0.3, 0.1, 0.03)  # strongest first: each fit warm-starts the next
MAX_FOLDS = 5
CV_PER_LABEL = 40  # cross-validation sees at most this many examples of each label,
CV_LIMIT = 600  # and about this many in all: its cost grows with examples × labels
TRAIN_LIMIT = 2000  # the final fit sees at most about this many examples, spread over the labels
_FORMAT = 1


class TooFewLabelsError(SorterError):
    """Training needs examples of at least two labels."""


@dataclass(frozen=True)
class Guesses:
    best: Ints  # index into the model's labels, per image
    confidence: Floats  # the best label's probability
    probabilities: Floats  # (n, labels)


@dataclass(frozen=True)
class LabelModel:
    labels: tuple[str, ...]
    weights: Floats  # (d, labels), applied to raw vectors
    bias: Floats  # (labels,)
    rare_vectors: Floats  # examples of labels with fewer than FEW_EXAMPLES, beside bigger ones
    rare_targets: Ints
    rare_radii: Floats  # each such example's similarity to the nearest example of another label
    prior: float
    threshold: float  # below it an answer is "unknown"; 1.0 when too few examples to choose one
    accuracy: float | None  # out-of-fold; None when nothing could be held out
    coverage: float | None  # share of out-of-fold answers at or above the threshold
    per_label: tuple[LabelQuality, ...]
    examples: int
    fingerprint: str

    def predict(self, vectors: Floats) -> Guesses:
        probabilities = _answer(vectors @ self.weights + self.bias, vectors, self._fallback)
        best = probabilities.argmax(axis=1).astype(np.int64)
        return Guesses(best, probabilities[np.arange(len(best)), best], probabilities)

    @property
    def _fallback(self) -> _Fallback:
        return _Fallback(self.rare_vectors, self.rare_targets, self.rare_radii)

    def to_bytes(self) -> bytes:
        meta = {
            "format": _FORMAT,
            "labels": list(self.labels),
            "prior": self.prior,
            "threshold": self.threshold,
            "accuracy": self.accuracy,
            "coverage": self.coverage,
            "per_label": [vars(q) for q in self.per_label],
            "examples": self.examples,
            "fingerprint": self.fingerprint,
        }
        out = io.BytesIO()
        np.savez(
            out,
            meta=np.array(json.dumps(meta)),
            weights=self.weights,
            bias=self.bias,
            rare_vectors=self.rare_vectors,
            rare_targets=self.rare_targets,
            rare_radii=self.rare_radii,
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LabelModel:
        """Raises ValueError for anything that is not a model this version wrote."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                if meta.get("format") != _FORMAT:
                    raise ValueError("another format")
                return cls(
                    labels=tuple(meta["labels"]),
                    weights=arrays["weights"].astype(np.float32),
                    bias=arrays["bias"].astype(np.float32),
                    rare_vectors=arrays["rare_vectors"].astype(np.float32),
                    rare_targets=arrays["rare_targets"].astype(np.int64),
                    rare_radii=arrays["rare_radii"].astype(np.float32),
                    prior=float(meta["prior"]),
                    threshold=float(meta["threshold"]),
                    accuracy=meta["accuracy"],
                    coverage=meta["coverage"],
                    per_label=tuple(LabelQuality(**q) for q in meta["per_label"]),
                    examples=int(meta["examples"]),
                    fingerprint=str(meta["fingerprint"]),
                )
        except (OSError, KeyError, TypeError, json.JSONDecodeError, EOFError) as exc:
            raise ValueError(f"not a label model: {exc}") from None


@dataclass(frozen=True)
class _Fallback:
    vectors: Floats
    targets: Ints
    radii: Floats


def train_label_model(
    vectors: Floats,
    targets: Ints,
    labels: Sequence[str],
    *,
    fingerprint: str = "",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LabelModel:
    """Train on L2-normalised `vectors` whose `targets` index `labels`; labels without examples are
    left out of the model. The order of the examples decides which are kept when there are more
    than the limits (give them in a stable order, e.g. by content hash, so retraining is repeatable).

    BLAS runs on one thread meanwhile: the products here are small (hundreds of rows), threads gain
    little on them, and on a busy 2-core machine — a window indexing, other programs — every call
    waits for a descheduled thread: measured 0.75 s on one thread against 7.8 s on two for the same
    training (200 examples, 10 labels; benchmarks/bench_labels.py).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(vectors, targets, labels, fingerprint, progress, cancelled)


def _train(
    vectors: Floats,
    targets: Ints,
    labels: Sequence[str],
    fingerprint: str,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> LabelModel:
    counts = np.bincount(targets, minlength=len(labels))
    used = np.flatnonzero(counts > 0)
    if len(used) < 2:
        raise TooFewLabelsError("label images with at least two different labels before training")
    remap = np.full(len(labels), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    targets = remap[targets]
    kept = keep_for_training(targets)
    vectors, targets = np.ascontiguousarray(vectors[kept], dtype=np.float32), targets[kept]
    n_labels = len(used)
    cv_rows = _first_per_label(targets, max(2, min(CV_PER_LABEL, CV_LIMIT // n_labels)))
    folds = _folds(targets[cv_rows])
    n_folds = int(folds.max()) + 1 if len(folds) else 0
    total = n_folds * len(PRIORS) + 1
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    out_of_fold = _cross_validate(vectors[cv_rows], targets[cv_rows], folds, n_labels, step, cancelled)
    prior = PRIORS[len(PRIORS) // 2]
    tested = folds >= 0
    if out_of_fold:
        prior = max(
            out_of_fold, key=lambda p: balanced_score(out_of_fold[p][tested], targets[cv_rows][tested])
        )
    weights, bias = _fit(vectors, targets, n_labels, prior, cancelled)
    step()
    chosen = out_of_fold.get(prior)
    held_out = targets[cv_rows][tested]
    answers = chosen[tested] if chosen is not None else np.zeros((0, n_labels), dtype=np.float32)
    threshold, coverage = choose_threshold(answers, held_out)
    names = [labels[int(i)] for i in used]
    fallback = _fallback_for(vectors, targets, n_labels)
    return LabelModel(
        labels=tuple(names),
        weights=weights,
        bias=bias,
        rare_vectors=fallback.vectors,
        rare_targets=fallback.targets,
        rare_radii=fallback.radii,
        prior=prior,
        threshold=threshold,
        accuracy=float((answers.argmax(axis=1) == held_out).mean()) if len(held_out) else None,
        coverage=coverage,
        per_label=label_quality(names, np.bincount(targets, minlength=n_labels), answers, held_out),
        examples=len(targets),
        fingerprint=fingerprint,
    )


def keep_for_training(targets: Ints) -> Ints:
    """Indices of the examples training uses: the first of each label in the order given, at most
    TRAIN_LIMIT / labels of each (the final fit's cost grows with their number; a linear model on
    these embeddings gains about a point from 200 to 400 examples per label)."""
    labels = len(np.unique(targets))
    return _first_per_label(targets, TRAIN_LIMIT // max(labels, 1))


def _first_per_label(targets: Ints, limit: int) -> Ints:
    """Indices of at most `limit` examples of each label, the first ones in the given order."""
    rank = np.zeros(len(targets), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, t in enumerate(targets.tolist()):
        rank[i] = seen.get(t, 0)
        seen[t] = rank[i] + 1
    return np.flatnonzero(rank < limit)


def _folds(targets: Ints) -> Ints:
    """A fold per example (-1: never held out), stratified: a label's examples go round the folds,
    so every fold keeps at least one example of each label for training. A label with a single
    example is never held out — its fold would have nothing of it to learn from."""
    counts = np.bincount(targets)
    n_folds = min(MAX_FOLDS, int(counts.max())) if len(counts) else 0
    folds = np.full(len(targets), -1, dtype=np.int64)
    if n_folds < 2:
        return folds
    seen: dict[int, int] = {}
    for i, t in enumerate(targets.tolist()):
        if counts[t] >= 2:
            folds[i] = seen.get(t, 0) % n_folds
            seen[t] = seen.get(t, 0) + 1
    return folds


def _cross_validate(
    vectors: Floats,
    targets: Ints,
    folds: Ints,
    n_labels: int,
    step: Callable[[], None],
    cancelled: Callable[[], bool] | None,
) -> dict[float, Floats]:
    """Out-of-fold probabilities of every held-out example, for each prior of the path."""
    if not (folds >= 0).any():
        return {}
    out = {prior: np.zeros((len(targets), n_labels), dtype=np.float32) for prior in PRIORS}
    basis = _row_space(vectors, n_labels, fits=len(PRIORS) * (int(folds.max()) + 1))
    reduced = vectors if basis is None else vectors @ basis
    for fold in range(int(folds.max()) + 1):
        train, test = folds != fold, folds == fold
        center = reduced[train].mean(axis=0)
        features = reduced[train] - center
        fallback = _fallback_for(vectors[train], targets[train], n_labels)
        fitted: SoftmaxWeights | None = None
        for prior in PRIORS:
            fitted = fit_softmax(
                features, targets[train], n_labels, prior=prior, start=fitted, cancelled=cancelled
            )
            scores = (reduced[test] - center) @ fitted.weights + fitted.bias
            out[prior][test] = _answer(scores, vectors[test], fallback)
            step()
    return out


def _fallback_for(vectors: Floats, targets: Ints, n_labels: int) -> _Fallback:
    """The examples of labels too small for the linear model, when there are bigger labels."""
    counts = np.bincount(targets, minlength=n_labels)
    rare = (counts > 0) & (counts < FEW_EXAMPLES)
    if not rare.any() or counts.max() < FEW_EXAMPLES:
        return _Fallback(
            np.zeros((0, vectors.shape[1]), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32)
        )
    rows = np.flatnonzero(rare[targets])
    similarity = vectors[rows] @ vectors.T
    similarity[targets[rows][:, None] == targets[None, :]] = -np.inf
    return _Fallback(vectors[rows].copy(), targets[rows].copy(), similarity.max(axis=1).astype(np.float32))


def _fit(
    vectors: Floats, targets: Ints, n_labels: int, prior: float, cancelled: Callable[[], bool] | None
) -> tuple[Floats, Floats]:
    """(weights, bias) for raw vectors, fitted on centred vectors in their rows' span."""
    basis = _row_space(vectors, n_labels, fits=1)
    reduced = vectors if basis is None else vectors @ basis
    center = reduced.mean(axis=0)
    fitted = fit_softmax(reduced - center, targets, n_labels, prior=prior, cancelled=cancelled)
    weights = fitted.weights if basis is None else basis @ fitted.weights
    return weights.astype(np.float32), (fitted.bias - center @ fitted.weights).astype(np.float32)


def _row_space(vectors: Floats, n_labels: int, fits: int) -> Floats | None:
    """An orthonormal basis (d × r) of the span of the rows, when fitting in it saves more than
    finding it costs; None otherwise.

    The regularised optimum's weights are a combination of the centred training rows (the
    representer theorem; the unpenalised bias absorbs the centre), so fitting on the rows'
    coordinates in this basis solves the same problem exactly, at r/d of the cost per iteration.
    Finding it costs about 3·n²·d; a fit saves about 50 iterations × 4·n·(d − n)·labels. A
    cross-validation's 25 fits share one basis (every fold lies in the span of all its rows).
    """
    n, dim = vectors.shape
    if n >= dim or fits * 200 * n * (dim - n) * n_labels < 3 * n * n * dim:
        return None
    values, vecs = np.linalg.eigh(vectors.astype(np.float64) @ vectors.T.astype(np.float64))
    keep = values > max(float(values[-1]), 1e-12) * 1e-9
    basis: Floats = (vectors.T.astype(np.float64) @ (vecs[:, keep] / np.sqrt(values[keep]))).astype(
        np.float32
    )
    return basis


def _answer(scores: Floats, vectors: Floats, fallback: _Fallback) -> Floats:
    """Probabilities per label from the linear `scores`; where an image falls inside a rare
    example's radius, that label trades places with the linear model's best, so it leads with the
    confidence the model had."""
    probabilities = softmax(scores)
    if len(fallback.targets) == 0:
        return probabilities
    margin = vectors @ fallback.vectors.T - fallback.radii
    closest = margin.argmax(axis=1)
    inside = np.flatnonzero(margin[np.arange(len(vectors)), closest] > 0)
    rare = fallback.targets[closest[inside]]
    best = probabilities[inside].argmax(axis=1)
    top = probabilities[inside, best]
    probabilities[inside, best] = probabilities[inside, rare]
    probabilities[inside, rare] = top
    return probabilities
