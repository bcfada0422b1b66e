"""The 2-D map: groups that are apart in embedding space are apart on the map, for made-up and real images."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sorter_app.core import map2d
from sorter_app.core.child_process import work_child
from sorter_app.core.embedder import Embedder
from sorter_app.core.errors import CancelledError
from sorter_app.core.images import load_image
from sorter_app.core.map2d import EPOCHS, MAP_K, layout_2d
from sorter_app.core.neighbours import knn_graph
from sorter_app.core.preprocess import to_model_pixels

PER_CATEGORY = 30


def _blobs(
    per_blob: int = 50, blobs: int = 4, seed: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Unit vectors around `blobs` random centres in 1280-d: cosine ≈ 0.5 within a blob, ≈ 0 across."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(blobs), per_blob)
    vectors = rng.normal(size=(blobs, 1280))[labels] + rng.normal(size=(len(labels), 1280))
    unit = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit, labels


def _map_agreement(positions: NDArray[np.float32], labels: NDArray[np.int64], k: int = 5) -> float:
    """How often an image's k nearest points on the map share its label."""
    d = ((positions[:, None, :] - positions[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())


def test_blobs_stay_together_and_apart() -> None:
    vectors, labels = _blobs()
    positions = layout_2d(vectors)
    assert positions.shape == (len(vectors), 2) and positions.dtype == np.float32
    assert _map_agreement(positions, labels) >= 0.95
    centroids = np.stack([positions[labels == b].mean(axis=0) for b in range(4)])
    spread = max(
        float(np.linalg.norm(positions[labels == b] - centroids[b], axis=1).mean()) for b in range(4)
    )
    gaps = [float(np.linalg.norm(centroids[a] - centroids[b])) for a in range(4) for b in range(a + 1, 4)]
    print(f"\nblobs: smallest centroid gap {min(gaps):.3f}, largest mean spread {spread:.3f}")
    assert min(gaps) > 3 * spread


def test_the_map_fills_the_unit_square() -> None:
    positions = layout_2d(_blobs()[0])
    assert np.isclose(positions.min(), 0.0) and np.isclose(positions.max(), 1.0)  # one axis spans it
    assert np.isclose(positions.min(axis=0) + positions.max(axis=0), 1.0).all()  # the other is centred


def test_the_same_seed_gives_the_same_map() -> None:
    vectors, _ = _blobs(per_blob=20)
    first = layout_2d(vectors, seed=3)
    assert np.array_equal(first, layout_2d(vectors, seed=3))
    assert not np.array_equal(first, layout_2d(vectors, seed=4))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_folders_get_a_map(n: int) -> None:
    positions = layout_2d(_blobs(per_blob=1, blobs=n)[0])
    assert positions.shape == (n, 2) and positions.dtype == np.float32
    assert ((positions >= 0) & (positions <= 1)).all()
    if n >= 2:
        assert len({tuple(p) for p in positions.tolist()}) == n  # every image is a dot of its own


def test_copies_of_one_picture_get_finite_positions() -> None:
    vectors = np.tile(_blobs(per_blob=1, blobs=1)[0], (12, 1))
    positions = layout_2d(vectors)
    assert np.isfinite(positions).all() and ((positions >= 0) & (positions <= 1)).all()


def test_progress_runs_to_its_total() -> None:
    calls: list[tuple[int, int]] = []
    layout_2d(_blobs(per_blob=10)[0], progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and len({t for _, t in calls}) == 1
    assert calls[-1][0] == calls[-1][1] > 0


@pytest.mark.parametrize("after", [0, 6])
def test_cancel_stops_the_work(after: int) -> None:
    """Cancelled at once (while the graph is built) or part-way through the epochs."""
    calls: list[int] = []
    with pytest.raises(CancelledError):
        layout_2d(
            _blobs(per_blob=10)[0],
            progress=lambda done, total: calls.append(done),
            cancelled=lambda: len(calls) >= after,
        )
    assert len(calls) <= max(after, 1)


def test_a_map_laid_out_in_a_child_process_is_the_same_map() -> None:
    """The window's map runs its epochs in a child (no GIL held in the app): same positions, bit
    for bit, as in-process, from the same stored graph; and Cancel still stops it part-way."""
    vectors, _ = _blobs(per_blob=40)
    graph = knn_graph(vectors, MAP_K)
    here = layout_2d(vectors, graph=graph, seed=5)
    calls: list[int] = []
    with work_child(map2d.ready) as child:
        there = layout_2d(vectors, graph=graph, seed=5, child=child)
        with pytest.raises(CancelledError):
            layout_2d(
                vectors,
                graph=graph,
                child=child,
                progress=lambda done, total: calls.append(done),
                cancelled=lambda: len(calls) >= 3,
            )
    assert np.array_equal(here, there)
    assert len(calls) == 3 and calls[-1] < EPOCHS


# --- real photos through the real model -----------------------------------------------------------


def _category_files(datasets: Path) -> dict[str, list[Path]]:
    """Three plainly different kinds of picture, a spread-out sample of each."""
    wanted = {  # name: (source, category), None for any category of that source
        "desert": ("sun8_scenes", "desert"),
        "bathroom": ("places365_rooms", "bathroom"),
        "chart": ("non_photo/devsonni_charts", None),  # five kinds of synthetic chart
    }
    with open(datasets / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    files: dict[str, list[Path]] = {}
    for name, (source, category) in wanted.items():
        paths = sorted(
            datasets / row["path"]
            for row in rows
            if row["source"] == source and category in (None, row["category"])
        )
        files[name] = paths[:: max(1, len(paths) // PER_CATEGORY)][:PER_CATEGORY]
        assert len(files[name]) == PER_CATEGORY, f"too few {name} images in the shared datasets"
    return files


def test_real_categories_separate_on_the_map(datasets: Path, embedder: Embedder) -> None:
    files = _category_files(datasets)
    pre = embedder.spec.preprocess
    pixels = [
        to_model_pixels(load_image(path.read_bytes(), min_side=pre.size).image, pre)
        for paths in files.values()
        for path in paths
    ]
    vectors = np.concatenate(
        [embedder.embed(np.stack(pixels[i : i + 32])) for i in range(0, len(pixels), 32)]
    )
    labels = np.repeat(np.arange(len(files)), PER_CATEGORY)
    agreement = _map_agreement(layout_2d(vectors), labels)
    print(f"\nreal images ({', '.join(files)}): 2-D 5-NN label agreement {agreement:.3f}")
    assert agreement >= 0.9
