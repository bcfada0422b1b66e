"""The full store: float32 copies of a folder's full vectors, appended to as images come, compacted
when enough are gone, and always the catalog's vectors bit for bit."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core import full_store
from sorter_app.core.full_store import new_store, open_store
from sorter_app.core.vector_index import IndexWriteError
from tests.core.test_compact import embedding_like
from tests.core.test_structure import Folder


def _chunks(vectors: np.ndarray, size: int = 7) -> list[np.ndarray]:
    return [vectors[s : s + size] for s in range(0, len(vectors), size)]


def test_rows_read_back_in_any_order_across_segments_kept_and_compacted(tmp_path: Path) -> None:
    vectors = embedding_like(60, dim=32)
    store = new_store(tmp_path, "f", _chunks(vectors[:40]), 40, 32)
    store = store.appended("f", _chunks(vectors[40:]), 20)
    assert len(store.segments) == 2
    rows = np.array([59, 0, 41, 39, 7, 59])
    np.testing.assert_array_equal(store.read(rows), vectors[rows])

    kept = np.array([3, 50, 10, 45, 0])  # a structure that kept these rows, in this order
    fewer = store.kept(kept)
    np.testing.assert_array_equal(fewer.read(np.arange(5)), vectors[kept])
    assert fewer.needs_compacting()  # 55 of 60 stored rows belong to no image any more
    compacted = fewer.compacted("f")
    assert len(compacted.segments) == 1 and compacted.stored == 5
    np.testing.assert_array_equal(compacted.read(np.arange(5)), vectors[kept])

    reopened = open_store(tmp_path, compacted.segments, compacted.rows, 32)
    assert reopened is not None
    np.testing.assert_array_equal(reopened.read(np.array([4, 1])), vectors[kept[[4, 1]]])


def test_a_missing_or_mismatched_segment_is_no_store(tmp_path: Path) -> None:
    vectors = embedding_like(10, dim=16)
    store = new_store(tmp_path, "f", [vectors], 10, 16)
    assert open_store(tmp_path, store.segments, store.rows, 16) is not None
    assert open_store(tmp_path, store.segments, store.rows, 32) is None  # another model's width
    assert open_store(tmp_path, store.segments, np.array([0, 10]), 16) is None  # a row past the end
    (tmp_path / store.segments[0]).unlink()
    assert open_store(tmp_path, store.segments, store.rows, 16) is None


def test_a_full_disk_while_writing_a_segment_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = embedding_like(20, dim=16)

    def chunks() -> object:
        yield vectors[:10]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(IndexWriteError, match="disk full"):
        new_store(tmp_path, "f", chunks(), 20, 16)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_small_updates_append_segments_until_compaction_and_leave_no_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(full_store, "MAX_SEGMENTS", 3)
    folder = Folder(tmp_path, 400)
    try:
        first = folder.refresh()
        assert len(first.full.segments) == 1
        for step in range(4):  # each a change small enough to be an update, not a rebuild
            folder.add(range(400 + 20 * step, 420 + 20 * step))
            folder.remove([step * 10 + i for i in range(5)])
            structure = folder.refresh()
            on_disk = sorted(p.name for p in folder.index_dir.glob(f"{folder.name}-full-*.npy"))
            assert on_disk == sorted(structure.full.segments)  # nothing stale is left behind
        assert len(structure.full.segments) <= 3
        rows = np.arange(len(structure))
        expected = folder.catalog.vectors("test-model", structure.key_list())
        np.testing.assert_array_equal(structure.full.read(rows), expected)  # bit for bit
    finally:
        folder.catalog.close()


def test_dense_scattered_and_repeated_rows_read_back_exactly_and_leave_no_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many rows are gathered through a memory map a batch at a time (a duplicates run wants most
    rows), a few read one by one: the same vectors whatever the mix, and no mapping of the store
    left in the process after, so its pages do not stay resident. A file cut short is an OSError
    either way."""
    monkeypatch.setattr(full_store, "GATHER_ROWS", 64)
    monkeypatch.setattr(full_store, "FEW_ROWS", 8)  # 500 rows through the maps, 6 with a read each
    vectors = embedding_like(1000, dim=16)
    store = new_store(tmp_path, "f", _chunks(vectors, 100), 1000, 16)
    dense = np.random.default_rng(0).permutation(np.arange(0, 1000, 2))  # every other row, shuffled
    np.testing.assert_array_equal(store.read(dense), vectors[dense])
    scattered = np.array([999, 3, 500, 3, 250, 999])  # far apart, and repeated
    np.testing.assert_array_equal(store.read(scattered), vectors[scattered])
    run = np.arange(100, 400)  # a block duplicates re-scores whole: one read, in either order
    np.testing.assert_array_equal(store.read(run), vectors[run])
    np.testing.assert_array_equal(store.read(run[::-1]), vectors[run[::-1]])
    not_a_run = np.concatenate([np.arange(100, 200), [150], np.arange(201, 300)])  # a repeat, a gap
    np.testing.assert_array_equal(store.read(not_a_run), vectors[not_a_run])
    assert store.read(np.zeros(0, dtype=np.int64)).shape == (0, 16)
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert store.segments[0] not in maps.read_text()
    segment = tmp_path / store.segments[0]
    segment.write_bytes(segment.read_bytes()[: segment.stat().st_size // 2])
    for rows in (np.array([999]), dense, np.arange(1000)):
        with pytest.raises(OSError, match="shorter than its header says"):
            store.read(rows)
