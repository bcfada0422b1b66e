"""Compact vectors: the projection, the bound it gives, and search recall against exact search."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from annoy import AnnoyIndex
from numpy.typing import NDArray

from sorter_app.core.compact import COMPACT_DIM, Projection, bound_matrix, residuals, upper_bounds
from sorter_app.core.library import Library
from sorter_app.core.neighbours import FolderVectors, exact_similarities
from sorter_app.paths import bundled_model_sidecar


def embedding_like(n: int, dim: int = 1280, seed: int = 0) -> NDArray[np.float32]:
    """Unit vectors shaped like image embeddings: a shared direction, a few dozen directions that
    carry most of the spread, and a little noise in all the others (which a projection loses)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=dim)
    common *= 0.6 / np.linalg.norm(common)
    spread = rng.normal(size=(64, dim)) / np.sqrt(dim)
    groups = rng.normal(size=(40, 64)) * 0.5
    vectors = common + (groups[rng.integers(0, 40, n)] + rng.normal(size=(n, 64)) * 0.3) @ spread
    vectors += rng.normal(size=(n, dim)) * 0.25 / np.sqrt(dim)
    unit: NDArray[np.float32] = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


def test_projection_is_orthonormal_and_the_same_for_the_same_sample() -> None:
    sample = embedding_like(1000, dim=700)
    first, second = Projection.fit(sample), Projection.fit(sample.copy())
    assert first.basis.shape == (700, COMPACT_DIM)
    np.testing.assert_allclose(first.basis.T @ first.basis, np.eye(COMPACT_DIM), atol=1e-4)
    np.testing.assert_array_equal(first.basis, second.basis)


def test_small_vectors_are_kept_as_they_are() -> None:
    vectors = embedding_like(50, dim=64)
    projection = Projection.fit(vectors)
    np.testing.assert_array_equal(projection.basis, np.eye(64, dtype=np.float32))
    np.testing.assert_allclose(projection.project(vectors), vectors, atol=1e-3)


def test_a_sample_smaller_than_the_dimension_is_represented_exactly() -> None:
    """Fewer images than dimensions span a smaller space: their compact vectors lose nothing."""
    sample = embedding_like(120)
    projection = Projection.fit(sample)
    assert projection.dim == 120
    compact = projection.project(sample)
    assert float(residuals(compact).max()) < 0.03  # float16 rounding: sqrt(1 − ‖c‖²) magnifies it
    np.testing.assert_allclose(
        compact.astype(np.float32) @ compact.T.astype(np.float32), sample @ sample.T, atol=2e-3
    )


def test_the_bound_is_never_below_the_full_cosine() -> None:
    vectors = embedding_like(600, seed=1)
    compact = Projection.fit(vectors[:300]).project(vectors)  # fitted on half: the others lose more
    full = vectors @ vectors.T
    rows, cols = np.triu_indices(len(vectors), 1)
    bounds = upper_bounds(compact, rows, cols)
    assert np.all(bounds >= full[rows, cols])
    np.testing.assert_allclose(
        bound_matrix(compact[:40], compact[40:80]), bounds_of(compact, 40), rtol=0, atol=1e-5
    )
    assert float(np.mean(bounds - full[rows, cols])) < 0.3  # a bound that rules pairs out, not 1.0


def bounds_of(compact: NDArray[np.float16], n: int) -> NDArray[np.float32]:
    rows, cols = np.meshgrid(np.arange(n), np.arange(n, 2 * n), indexing="ij")
    return upper_bounds(compact, rows.ravel(), cols.ravel()).reshape(n, n)


def test_exact_similarities_replace_every_edge_that_could_reach_the_threshold() -> None:
    vectors = embedding_like(800, seed=2)
    compact = Projection.fit(vectors[:300]).project(vectors)
    folder = FolderVectors(
        [f"h{i}" for i in range(800)],
        compact,
        [[f"{i}.jpg"] for i in range(800)],
        full=lambda rows: vectors[rows],
    )
    approximate = folder.neighbours(12)
    full = vectors @ vectors.T
    threshold = float(np.quantile(full[np.arange(800)[:, None], approximate.indices], 0.8))
    graph = exact_similarities(folder, approximate, threshold, 8)
    truth = full[np.arange(800)[:, None], graph.indices]
    reaching = truth >= threshold
    assert reaching.sum() > 100
    np.testing.assert_allclose(graph.similarities[reaching], truth[reaching], atol=1e-5)
    assert np.all(graph.similarities[~reaching] < threshold)
    assert np.all(np.diff(graph.similarities, axis=1) <= 0)
    for row in range(800):  # the 8 kept: the best by full cosine of the 12 proposed, where it counts
        proposed = approximate.indices[row]
        best = proposed[np.argsort(-full[row, proposed], kind="stable")[:8]]
        reach = full[row, best] >= threshold
        assert set(best[reach].tolist()) <= set(graph.indices[row].tolist())


def test_a_graph_of_full_vectors_is_left_as_it_is() -> None:
    vectors = embedding_like(30, dim=16)
    folder = FolderVectors([f"h{i}" for i in range(30)], vectors, [[f"{i}.jpg"] for i in range(30)])
    graph = folder.neighbours(4)
    kept = exact_similarities(folder, graph, 0.0, 3)
    np.testing.assert_array_equal(kept.indices, graph.indices[:, :3])
    np.testing.assert_array_equal(kept.similarities, graph.similarities[:, :3])


# --- real photos through the real model: compact search against exact search ---------------------

PHOTOS = 400


@pytest.mark.slow  # embeds 400 real photos (~4 s alone on 2 cores)
def test_similar_and_the_graph_find_what_exact_search_finds_on_real_photos(
    datasets: Path, tmp_path: Path
) -> None:
    """Recall@24 of `similar` and recall@12 of the stored graph, both against exact full-vector search.

    Annoy is forced on (a folder this small would otherwise be searched exactly) and the projection
    is fitted on these 400 photos, of many sources: the harder case, where it loses most.
    """
    with open(datasets / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "photo"]
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, row in enumerate(rows[:: len(rows) // PHOTOS][:PHOTOS]):
        shutil.copyfile(datasets / row["path"], folder / f"{i:03d}{Path(row['path']).suffix.lower()}")
    with Library(tmp_path / "data", bundled_model_sidecar(), annoy_min_items=100) as library:
        library.index(folder)
        vectors = library.folder_vectors(folder)
        full = vectors.full_vectors(range(len(vectors)))
        exact = full @ full.T
        np.fill_diagonal(exact, -np.inf)
        truth = np.argsort(-exact, axis=1, kind="stable")
        index = library.open_folder(folder)
        assert index.uses_annoy
        hits = 0
        for i in range(len(vectors)):
            found = {n.relpath for n in index.similar(vectors.paths[i][0], 24)}
            hits += len(found & {vectors.paths[j][0] for j in truth[i, :24]})
        index.close()
        similar_recall = hits / (24 * len(vectors))
        before = _full_vector_annoy_recall(full, truth[:, :24])
        graph = vectors.neighbours(12)
        graph_recall = np.mean(
            [len(set(graph.indices[i]) & set(truth[i, :12].tolist())) / 12 for i in range(len(vectors))]
        )
    print(
        f"\n{len(vectors)} real photos: similar recall@24 {similar_recall:.4f} "
        f"(Annoy over full vectors, as before compact vectors: {before:.4f}), "
        f"graph recall@12 {graph_recall:.4f}"
    )
    assert similar_recall >= 0.97
    assert similar_recall >= before - 0.01  # issue 15: compact vectors may not cost more than 1 point
    assert graph_recall >= 0.85


def _full_vector_annoy_recall(full: NDArray[np.float32], truth: NDArray[np.int64]) -> float:
    """Recall@24 of what `similar` did before compact vectors (commit 45147c6): Annoy over the full
    vectors, 16 trees, k + 1 + 8 items asked with search_k 100 per item, the query itself dropped."""
    index = AnnoyIndex(full.shape[1], "angular")
    for i, vector in enumerate(full):
        index.add_item(i, vector.tolist())
    index.build(16)
    hits = 0
    for i, vector in enumerate(full):
        found = [j for j in index.get_nns_by_vector(vector.tolist(), 33, search_k=3300) if j != i][:24]
        hits += len(set(found) & set(truth[i].tolist()))
    index.unload()
    return hits / truth.size
