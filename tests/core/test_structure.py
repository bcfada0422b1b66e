"""The stored neighbour graph: built once, then updated as images come and go, close to a rebuild."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sorter_app.core import graph_search
from sorter_app.core.catalog import Catalog, FileRow
from sorter_app.core.compact import unit_rows
from sorter_app.core.folder_index import FolderIndex, index_name, refresh_vector_index, searchable
from sorter_app.core.library import Library
from sorter_app.core.structure import FolderStructure, load_structure, structure_name
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from tests.core.test_compact import embedding_like

MODEL = "test-model"


class Folder:
    """A real catalog holding a folder of embedding-like vectors, one file per vector."""

    def __init__(self, tmp: Path, n: int) -> None:
        self.vectors = embedding_like(n + 600, dim=512, seed=5)  # 512-d: a quick fit, still lossy
        self.catalog = Catalog(tmp / "catalog.sqlite")
        self.index_dir = tmp / "indexes"
        root_id = self.catalog.root_id(tmp / "photos")
        assert root_id is not None
        self.root_id = root_id
        self.name = structure_name(index_name(root_id, MODEL))
        with self.catalog.transaction():
            self.catalog.upsert_vectors(MODEL, ((f"h{i:05d}", v) for i, v in enumerate(self.vectors)))
        self.add(range(n))

    def add(self, items: range | list[int]) -> None:
        with self.catalog.transaction():
            self.catalog.upsert_files(
                self.root_id, (FileRow(f"img{i:05d}.jpg", 1, 1, f"h{i:05d}", None) for i in items)
            )

    def remove(self, items: list[int]) -> None:
        self.catalog.remove_files(self.root_id, [f"img{i:05d}.jpg" for i in items])

    def refresh(self, min_items: int = 500) -> FolderStructure:
        refresh_vector_index(self.catalog, self.root_id, MODEL, self.index_dir, min_items=min_items)
        structure = load_structure(self.index_dir, self.name)
        assert structure is not None
        return structure

    def build_id(self) -> str:
        build: str = json.loads((self.index_dir / f"{self.name}.json").read_text())["build"]
        return build


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Folder]:
    monkeypatch.setattr(graph_search, "EXACT_LIMIT", 0)  # the Annoy path, as for a big folder
    made = Folder(tmp_path, 1200)
    yield made
    made.catalog.close()


def exact_lists(structure: FolderStructure, k: int) -> NDArray[np.int64]:
    unit = unit_rows(structure.compact)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    return top.astype(np.int64)


def recall(structure: FolderStructure, k: int = 10) -> float:
    truth = exact_lists(structure, k)
    found = structure.neighbours[:, :k]
    return float(
        np.mean([len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(found, truth, strict=True)])
    )


def test_a_fresh_graph_finds_the_compact_nearest_neighbours(folder: Folder) -> None:
    structure = folder.refresh()
    keys = structure.key_list()
    assert keys == sorted(keys) and len(structure) == 1200
    assert structure.neighbours.shape == (1200, graph_search.GRAPH_K)
    assert not np.any(structure.neighbours == np.arange(1200)[:, None])
    assert np.all(np.diff(structure.similarities, axis=1) <= 0)
    found = recall(structure)
    print(f"\nfresh graph over Annoy: recall@10 {found:.4f} against exact compact search")
    assert found >= 0.97


def test_new_images_join_gone_ones_leave_and_the_graph_stays_close_to_a_rebuild(folder: Folder) -> None:
    folder.refresh()
    first_build = folder.build_id()
    folder.add(range(1200, 1350))
    gone = list(range(0, 1200, 12))
    folder.remove(gone)
    updated = folder.refresh()
    live = {f"h{i:05d}" for i in range(1350) if i not in set(gone)}
    assert set(updated.key_list()) == live and len(updated) == len(live)
    assert folder.build_id() != first_build
    assert not any(first_build in p.name for p in folder.index_dir.iterdir())  # old build removed
    assert np.all(updated.neighbours >= 0)  # every hole left by a gone image was filled again
    position = {key: i for i, key in enumerate(updated.key_list())}
    new_rows = [position[f"h{i:05d}"] for i in range(1200, 1350)]
    # New images enter their neighbours' lists, not only lists of their own.
    assert np.isin(new_rows, updated.neighbours[np.setdiff1d(np.arange(len(updated)), new_rows)]).mean() > 0.9
    found = recall(updated)
    print(f"\nafter +150 / -100: recall@10 {found:.4f} against exact compact search")
    assert found >= 0.95


def test_an_unchanged_folder_keeps_its_build(folder: Folder) -> None:
    folder.refresh()
    build = folder.build_id()
    folder.refresh()
    assert folder.build_id() == build


def test_a_folder_that_doubled_is_fitted_and_built_afresh(tmp_path: Path) -> None:
    small = Folder(tmp_path, 300)
    before = small.refresh()
    small.add(range(300, 600))
    after = small.refresh()
    assert before.fitted_on == 300 and after.fitted_on == 600
    assert not np.array_equal(before.projection.basis, after.projection.basis)
    small.catalog.close()


def test_a_damaged_structure_is_rebuilt(folder: Folder) -> None:
    folder.refresh()
    next(folder.index_dir.glob(f"{folder.name}-*.neighbours.npy")).write_bytes(b"torn")
    assert load_structure(folder.index_dir, folder.name) is None
    rebuilt = folder.refresh()
    assert len(rebuilt) == 1200 and np.all(rebuilt.neighbours >= 0)


def test_a_folder_indexed_before_compact_vectors_gets_them_when_opened(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for n in range(6):
        builders.write_jpeg(photos / f"img{n}.jpg", seed=n)
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.index(photos)
        for made in (tmp_path / "data" / "indexes").glob("*.structure*"):
            made.unlink()  # as an older version left it: catalog and vectors, no structure
        index = library.open_folder(photos)
        assert index.has_structure
        assert len(index.similar("img0.jpg", 3)) == 3
        index.close()
        assert len(library.folder_vectors(photos)) == 6


def test_a_few_compact_rows_are_read_from_the_saved_file_as_the_map_holds_them(folder: Folder) -> None:
    """`similar` reads its candidates' compact rows with a read each, not through the memory map
    (whose pages would stay resident): the same rows in the asked order, repeats included."""
    structure = folder.refresh()
    assert isinstance(structure.compact, np.memmap)
    rows = np.array([1199, 3, 600, 3, 0, 42], dtype=np.int64)
    got = structure.compact_rows(rows)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, np.asarray(structure.compact[rows]))
    assert structure.compact_rows(rows[:0]).shape == (0, structure.compact.shape[1])


def test_similar_looks_further_when_the_best_files_are_gone_since_the_build(folder: Folder) -> None:
    """`similar` reads the files of its best rows first and more only when some are gone (removed
    from the catalog, the structure not yet refreshed): still k answers, none of the gone ones."""
    folder.refresh()
    index = FolderIndex.open(folder.catalog, folder.root_id, MODEL, folder.index_dir)
    wide = index.similar("img00000.jpg", 30)
    gone = [n.relpath for n in wide[:12]]
    folder.catalog.remove_files(folder.root_id, gone)
    after = index.similar("img00000.jpg", 10)
    assert [n.relpath for n in after] == [n.relpath for n in wide[12:22]]


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="reads counted by Linux's /proc/self/io")
def test_opening_a_folder_reads_its_annoy_index_and_compact_vectors_ahead(folder: Folder) -> None:
    """After a reboot the first queries would each wait on the disk for scattered pages: opening a
    folder reads the files `similar` reads at random, once, on a thread of its own (the kernel's
    count of the bytes this process read grows by at least their size)."""
    structure = folder.refresh()
    assert structure.annoy is not None and isinstance(structure.compact, np.memmap)
    assert structure.compact.filename is not None
    files = [folder.index_dir / structure.annoy.ann_file, Path(structure.compact.filename)]
    wanted = sum(path.stat().st_size for path in files)

    def read_bytes() -> int:
        return int(
            next(
                line for line in Path("/proc/self/io").read_text().splitlines() if line.startswith("rchar")
            ).split()[1]
        )

    before = read_bytes()
    opened = searchable(folder.index_dir, index_name(folder.root_id, MODEL))
    assert opened is not None and opened.read_ahead is not None
    opened.read_ahead.join(timeout=30)
    assert not opened.read_ahead.is_alive()
    assert read_bytes() - before >= wanted


def test_a_query_s_own_vector_is_read_from_the_full_store_once_its_row_is_known(
    folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the page cache cold, the catalog's vectors table was the slowest read of a query at a
    million images: once the read-ahead has sorted the keys, the query's vector is its row of the
    full store (the same float32 values). A content added since the build is not in the
    structure, and is read from the catalog as before."""
    folder.refresh()
    opened = searchable(folder.index_dir, index_name(folder.root_id, MODEL))
    assert opened is not None
    opened.read_ahead.join(timeout=30)
    index = FolderIndex(folder.catalog, folder.root_id, MODEL, opened)
    expected = {i: folder.catalog.vectors(MODEL, [f"h{i:05d}"])[0] for i in (0, 7, 1199, 1200)}
    folder.add([1200])
    assert opened.rows_by_key.row_of("h00007") is not None and opened.rows_by_key.row_of("h01200") is None
    catalog_vectors = folder.catalog.vectors

    def only_new(model: str, hashes: list[str]) -> object:
        assert hashes == ["h01200"], "read from the catalog although the full store holds it"
        return catalog_vectors(model, hashes)

    monkeypatch.setattr(folder.catalog, "vectors", only_new)
    for i, vector in expected.items():
        np.testing.assert_array_equal(index.vector_of(f"img{i:05d}.jpg"), vector)
    assert [n.relpath for n in index.similar("img00007.jpg", 5)]  # a whole query takes that path
