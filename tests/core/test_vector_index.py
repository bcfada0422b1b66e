"""Annoy on disk and the exact search that covers what it does not."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from sorter_app.core.catalog import Catalog, FileRow
from sorter_app.core.folder_index import FolderIndex, index_name, refresh_vector_index
from sorter_app.core.vector_index import build_annoy, open_annoy


def _unit(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    unit: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return unit


def test_annoy_results_match_brute_force(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 3000)
    keys = [f"h{i}" for i in range(len(vectors))]
    build_annoy(tmp_path, "t", keys, vectors)
    search = open_annoy(tmp_path, "t")
    assert search is not None
    recalls = []
    for q in range(20):
        exact = set(np.argsort(-(vectors @ vectors[q]))[:10])
        found = search.query(vectors[q], 10, search_k=2000)
        recalls.append(len(exact & {keys.index(h) for h, _ in found}) / 10)
        assert found[0] == (keys[q], found[0][1]) and abs(found[0][1] - 1.0) < 1e-5
    assert np.mean(recalls) > 0.9
    search.unload()


def test_rebuild_replaces_the_old_file_atomically(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    first = build_annoy(tmp_path, "t", ["a", "b"], _unit(rng, 2))
    second = build_annoy(tmp_path, "t", ["a", "b", "c"], _unit(rng, 3))
    assert [p.name for p in tmp_path.glob("*.ann")] == [second.ann_file]
    assert first.ann_file != second.ann_file
    assert not list(tmp_path.glob("*.tmp"))
    loaded = open_annoy(tmp_path, "t")
    assert loaded is not None and loaded.keys == ["a", "b", "c"]
    loaded.unload()


def test_missing_or_torn_index_means_exact_search(tmp_path: Path) -> None:
    assert open_annoy(tmp_path, "none") is None
    (tmp_path / "t.json").write_text("{not json")
    assert open_annoy(tmp_path, "t") is None


def _catalog_with(tmp_path: Path, vectors: np.ndarray) -> tuple[Catalog, int]:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    root_id = catalog.root_id(tmp_path / "photos")
    assert root_id is not None
    with catalog.transaction():
        catalog.upsert_vectors("m", [(f"h{i}", v) for i, v in enumerate(vectors)])
        catalog.upsert_files(
            root_id, [FileRow(f"img{i:05d}.jpg", 1, 1, f"h{i}", None) for i in range(len(vectors))]
        )
    return catalog, root_id


def test_folder_index_combines_annoy_with_exact_for_items_added_later(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vectors = _unit(rng, 2500)
    catalog, root_id = _catalog_with(tmp_path, vectors[:2400])
    assert refresh_vector_index(catalog, root_id, "m", tmp_path, min_items=1000)
    # 100 more arrive after the build: few enough that the index is not rebuilt.
    with catalog.transaction():
        catalog.upsert_vectors("m", [(f"h{i}", vectors[i]) for i in range(2400, 2500)])
        catalog.upsert_files(
            root_id, [FileRow(f"img{i:05d}.jpg", 1, 1, f"h{i}", None) for i in range(2400, 2500)]
        )
    assert not refresh_vector_index(catalog, root_id, "m", tmp_path, min_items=1000)
    index = FolderIndex.open(catalog, root_id, "m", tmp_path)
    assert index.uses_annoy and len(index) == 2500
    late = "img02450.jpg"
    neighbours = index.similar(late, 5)
    assert late not in [n.relpath for n in neighbours]
    exact = np.argsort(-(vectors @ vectors[2450]))[1:6]
    assert [n.relpath for n in neighbours][:3] == [f"img{i:05d}.jpg" for i in exact[:3]]
    assert all(a.similarity >= b.similarity for a, b in itertools.pairwise(neighbours))
    index.close()


def test_small_folders_keep_no_annoy_file_and_search_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 50)
    catalog, root_id = _catalog_with(tmp_path, vectors)
    assert not refresh_vector_index(catalog, root_id, "m", tmp_path, min_items=1000)
    assert not (tmp_path / f"{index_name(root_id, 'm')}.json").exists()
    index = FolderIndex.open(catalog, root_id, "m", tmp_path)
    got = [n.relpath for n in index.similar("img00007.jpg", 49)]
    want = [f"img{i:05d}.jpg" for i in np.argsort(-(vectors @ vectors[7]))[1:]]
    assert got == want


def test_exact_copies_are_each_listed(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    catalog, root_id = _catalog_with(tmp_path, _unit(rng, 10))
    with catalog.transaction():
        catalog.upsert_files(root_id, [FileRow("copy-of-3.jpg", 1, 1, "h3", None)])
    index = FolderIndex.open(catalog, root_id, "m", tmp_path)
    top = index.similar("img00003.jpg", 1)
    assert top[0].relpath == "copy-of-3.jpg" and top[0].similarity > 0.9999
