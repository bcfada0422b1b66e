"""The label classifier: cross-validated quality and threshold, the nearest-neighbour fallback for a
label with very few examples, and its file form. Vectors are unit-length like embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from sorter_app.core.errors import CancelledError
from sorter_app.core.label_model import LabelModel, TooFewLabelsError, train_label_model
from sorter_app.core.label_quality import MIN_SUPPORT, choose_threshold

DIM = 32


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return out


def _clusters(counts: list[int], spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, targets, centres): `counts[i]` noisy unit vectors around centre i."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(len(counts), DIM)))
    targets = np.repeat(np.arange(len(counts)), counts)
    vectors = _unit(centres[targets] + spread * rng.normal(size=(len(targets), DIM)) / np.sqrt(DIM))
    order = rng.permutation(len(targets))
    return vectors[order], targets[order].astype(np.int64), centres


def test_well_separated_labels_are_predicted_and_their_quality_estimated() -> None:
    vectors, targets, centres = _clusters([12, 12, 12], spread=0.5)
    model = train_label_model(vectors, targets, ["a", "b", "c"])
    assert model.labels == ("a", "b", "c") and model.examples == 36
    assert model.accuracy == 1.0
    assert [(q.label, q.examples, q.precision, q.recall) for q in model.per_label] == [
        ("a", 12, 1.0, 1.0),
        ("b", 12, 1.0, 1.0),
        ("c", 12, 1.0, 1.0),
    ]
    assert model.threshold < 1.0 and model.coverage == 1.0
    truth = np.repeat(np.arange(3), 5)
    noise = np.random.default_rng(1).normal(size=(15, DIM)) / np.sqrt(DIM)
    guesses = model.predict(_unit(centres[truth] + 0.2 * noise))
    assert (guesses.best == truth).all() and (guesses.confidence >= model.threshold).all()


def test_overlapping_labels_get_a_threshold_that_leaves_some_unknown() -> None:
    vectors, targets, _ = _clusters([40, 40, 40], spread=4.0, seed=2)
    model = train_label_model(vectors, targets, ["a", "b", "c"])
    assert model.accuracy is not None and 0.4 < model.accuracy < 0.95
    assert model.coverage is not None and 0.0 <= model.coverage < 1.0
    assert 1 / 3 < model.threshold <= 1.0


def test_the_threshold_is_where_answers_stop_being_right_often_enough() -> None:
    right = np.array([[0.95, 0.05]] * 30 + [[0.6, 0.4]] * 10)  # sure and right, then unsure and wrong
    targets = np.array([0] * 30 + [1] * 10)
    threshold, coverage = choose_threshold(right.astype(np.float32), targets)
    assert threshold == pytest.approx(0.95) and coverage == pytest.approx(0.75)
    all_right = np.array([[0.9, 0.1]] * 20 + [[0.55, 0.45]] * 20, dtype=np.float32)
    threshold, coverage = choose_threshold(all_right, np.zeros(40, dtype=np.int64))
    assert threshold == pytest.approx(0.55) and coverage == 1.0
    assert choose_threshold(all_right[: MIN_SUPPORT - 1], np.zeros(MIN_SUPPORT - 1, dtype=np.int64)) == (
        1.0,
        None,
    )


def test_one_example_per_label_trains_but_cannot_estimate() -> None:
    vectors, targets, _ = _clusters([1, 1, 1], spread=0.3)
    model = train_label_model(vectors, targets, ["a", "b", "c"])
    assert model.accuracy is None and model.threshold == 1.0
    assert [q.recall for q in model.per_label] == [None, None, None]
    assert (model.predict(vectors).best == targets).all()


def test_a_label_with_one_example_falls_back_to_its_nearest_neighbours() -> None:
    vectors, targets, centres = _clusters([15, 15, 1], spread=0.6, seed=4)
    model = train_label_model(vectors, targets, ["big", "other", "rare"])
    assert model.rare_targets.tolist() == [2] and len(model.rare_vectors) == 1
    example = model.rare_vectors[0]
    near = _unit(example + 0.05 * np.random.default_rng(5).normal(size=(4, DIM)).astype(np.float32))
    assert (model.predict(near).best == 2).all()
    assert (model.predict(_unit(centres[:2])).best == [0, 1]).all()


def test_labels_without_examples_are_left_out_and_one_label_is_not_enough() -> None:
    vectors, targets, _ = _clusters([6, 6], spread=0.5)
    model = train_label_model(vectors, targets * 2, ["a", "empty", "c"])
    assert model.labels == ("a", "c")
    with pytest.raises(TooFewLabelsError, match="at least two different labels"):
        train_label_model(vectors[targets == 0], targets[targets == 0], ["a", "c"])


def test_progress_is_reported_and_cancel_stops_training() -> None:
    vectors, targets, _ = _clusters([10, 10], spread=0.5)
    seen: list[tuple[int, int]] = []
    train_label_model(vectors, targets, ["a", "b"], progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == list(range(1, len(seen) + 1))
    with pytest.raises(CancelledError):
        train_label_model(vectors, targets, ["a", "b"], cancelled=lambda: True)


def test_a_saved_model_predicts_the_same_and_garbage_is_refused() -> None:
    vectors, targets, _ = _clusters([10, 10, 2], spread=1.0, seed=6)
    model = train_label_model(vectors, targets, ["a", "b", "c"], fingerprint="abc")
    again = LabelModel.from_bytes(model.to_bytes())
    assert (again.labels, again.threshold, again.fingerprint, again.per_label) == (
        model.labels,
        model.threshold,
        "abc",
        model.per_label,
    )
    assert np.array_equal(again.predict(vectors).probabilities, model.predict(vectors).probabilities)
    with pytest.raises(ValueError):
        LabelModel.from_bytes(b"not a model")
