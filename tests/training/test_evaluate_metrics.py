"""The metric functions `evaluate` reports, on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    accuracy_at_k,
    accuracy_of_most_sure,
    balanced_accuracy,
    choose_threshold,
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    kept_at,
    per_class_recall,
)


def test_balanced_accuracy_is_the_mean_recall_of_present_classes() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    assert per_class_recall(predicted, labels, 4) == [0.75, 0.5, 1.0, None]
    assert balanced_accuracy(predicted, labels, 4) == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    # Predicting the majority class everywhere: plain accuracy 0.5, balanced accuracy 1/3.
    majority = np.zeros(8, dtype=np.int64)
    assert balanced_accuracy(majority, labels, 3) == pytest.approx(1 / 3)
    assert confusion_matrix(predicted, labels, 3).tolist() == [[3, 1, 0], [1, 1, 0], [0, 0, 2]]


def test_accuracy_at_k() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.4, 0.35, 0.25]])
    labels = np.array([1, 2, 2])
    assert accuracy_at_k(probs, labels, 1) == pytest.approx(1 / 3)
    assert accuracy_at_k(probs, labels, 2) == pytest.approx(2 / 3)
    assert accuracy_at_k(probs, labels, 3) == 1.0


def test_ece_of_a_perfectly_calibrated_and_an_overconfident_model() -> None:
    # Ten predictions at confidence 0.8, eight of them right: calibrated, ECE 0.
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)
    # Same confidence, only half right: |0.5 − 0.8| = 0.3.
    assert expected_calibration_error(probs, np.array([0] * 5 + [1] * 5)) == pytest.approx(0.3)
    # Two bins: 4 at 0.95 (all right, gap 0.05) and 4 at 0.65 (1 right, gap 0.4) → (0.05 + 0.4) / 2.
    probs = np.array([[0.95, 0.05]] * 4 + [[0.65, 0.35]] * 4)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    assert expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.225)


def test_threshold_is_the_lowest_confidence_that_reaches_the_target() -> None:
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.55, 0.5])
    correct = np.array([True, True, True, False, True, True, False, False])
    # Kept from the top: 1/1, 2/2, 3/3, 3/4, 4/5, 5/6, 5/7, 5/8.
    choice = choose_threshold(confidence, correct, 0.8)
    assert choice.reached
    assert choice.threshold == 0.6  # 5/6 = 0.83 ≥ 0.8; 0.55 would give 5/7 = 0.71
    assert choice.coverage == pytest.approx(6 / 8)
    assert choice.accuracy == pytest.approx(5 / 6)
    assert choose_threshold(confidence, correct, 1.0).threshold == 0.9
    assert choose_threshold(confidence, correct, 0.5).threshold == 0.5  # everything kept
    coverage, accuracy = kept_at(confidence, correct, 0.6)
    assert coverage == 0.75
    assert accuracy == pytest.approx(5 / 6)


def test_threshold_never_splits_tied_confidences_and_reports_an_unreachable_target() -> None:
    confidence = np.array([0.9, 0.9, 0.9, 0.4])
    correct = np.array([True, False, True, True])
    # The first 0.9 alone would be 100 % accurate, but a threshold keeps all three 0.9s (2/3).
    assert choose_threshold(confidence, correct, 0.7).threshold == 0.4  # 3/4 = 0.75
    unreachable = choose_threshold(confidence, correct, 0.9)
    assert not unreachable.reached
    assert unreachable.threshold == 1.0 and unreachable.coverage == 0.0
    assert not choose_threshold(np.array([]), np.array([], dtype=bool), 0.9).reached


def test_classification_report_fields() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 0])
    report = classification_report(probs, labels, ["indoor", "outdoor"], threshold=0.7)
    assert report["count"] == 4
    assert report["accuracy"] == 0.5
    assert report["per_class_recall"] == {"indoor": 0.5, "outdoor": 0.5}
    assert report["class_counts"] == {"indoor": 2, "outdoor": 2}
    assert report["confusion"] == [[1, 1], [1, 1]]
    assert report["coverage"] == 0.5 and report["accuracy_of_kept"] == 1.0
    assert "accuracy_at_3" not in report  # meaningless for two classes


def test_accuracy_of_the_most_sure_share() -> None:
    confidence = np.array([0.9, 0.2, 0.8, 0.6, 0.4], dtype=np.float32)
    correct = np.array([True, True, False, True, False])
    assert accuracy_of_most_sure(confidence, correct, 0.6) == pytest.approx(2 / 3)  # 0.9, 0.8, 0.6
    assert accuracy_of_most_sure(confidence, correct, 1.0) == pytest.approx(3 / 5)
