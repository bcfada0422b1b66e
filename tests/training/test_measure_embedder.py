"""The quality measurement's own logic, on data whose answer is known."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.embedder import Embedder
from training.measure_embedder import embed_files, knn_leave_one_out, labelled_photos


def _unit(rows: NDArray[np.float64]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def test_separated_clusters_are_classified_perfectly() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16) * 10
    points = _unit(np.concatenate([c + rng.normal(0, 0.3, (20, 16)) for c in centres]))
    labels = ["a"] * 20 + ["b"] * 20 + ["c"] * 20
    accuracy, per_class = knn_leave_one_out(points, labels, k=5)
    assert accuracy == 1.0
    assert per_class == {"a": 1.0, "b": 1.0, "c": 1.0}


def test_a_vote_tie_goes_to_the_more_similar_neighbours() -> None:
    angles = np.array([0.0, 0.1, 0.3, 1.0, 1.2])  # query 0: neighbours 1,2 are "x"; 3,4 are "y"
    points = _unit(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    labels = ["x", "x", "x", "y", "y"]
    accuracy, per_class = knn_leave_one_out(points, labels, k=4)
    assert per_class["x"] == 1.0
    assert accuracy == 3 / 5


def test_manifest_rows_are_filtered_by_source_and_room(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "path,source,split,category,room,scene,kind\n"
        "a/1.jpg,rooms,train,kitchen,kitchen,indoor,photo\n"
        "a/2.jpg,rooms,train,hall,,indoor,photo\n"
        "b/3.jpg,other,,desert,,outdoor,photo\n",
        encoding="utf-8",
    )
    assert labelled_photos(tmp_path, "rooms") == [(tmp_path / "a/1.jpg", "kitchen")]


def test_embed_files_uses_the_sidecar_and_batches(
    tmp_path: Path, committed_sidecar: Path, jpeg_writer: Callable[..., Path]
) -> None:
    embedder = Embedder.from_sidecar(committed_sidecar)
    paths = [jpeg_writer(tmp_path / f"{i}.jpg", 300 + i, 240, seed=i) for i in range(5)]
    together = embed_files(embedder, paths, batch_size=5)
    in_pairs = embed_files(embedder, paths, batch_size=2)
    assert together.shape == (5, embedder.spec.embedding_dim)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.max(np.abs(together - in_pairs)) <= 1e-5
