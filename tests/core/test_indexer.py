"""The indexer with the real model, real SQLite and real files: one pass over the pixels, ever."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sorter_app.core.catalog import Catalog
from sorter_app.core.embedder import Embedder
from sorter_app.core.errors import ImageError
from sorter_app.core.folder_index import FolderIndex
from sorter_app.core.images import load_image_file
from sorter_app.core.indexer import IndexReport, index_folder
from sorter_app.core.scan import scan_folder
from tests import builders


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "data" / "catalog.sqlite") as cat:
        yield cat


def _index(folder: Path, catalog: Catalog, embedder: Embedder, **kwargs: object) -> IndexReport:
    return index_folder(folder, catalog, embedder, catalog.path.parent / "indexes", **kwargs)  # type: ignore[arg-type]


def _photos(folder: Path, n: int) -> list[Path]:
    return [builders.write_jpeg(folder / f"img{i:02d}.jpg", seed=i) for i in range(n)]


def test_first_run_embeds_everything_and_second_run_nothing(
    tmp_path: Path, catalog: Catalog, embedder: Embedder
) -> None:
    folder = tmp_path / "photos"
    _photos(folder, 12)
    calls: list[tuple[int, int]] = []
    first = _index(folder, catalog, embedder, progress=lambda d, t: calls.append((d, t)), batch_size=5)
    assert (first.indexed, first.reused, first.skipped) == (12, 0, [])
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)
    second = _index(folder, catalog, embedder)
    assert (second.indexed, second.reused, second.removed) == (0, 12, 0)


def test_renamed_and_moved_files_keep_their_vectors(
    tmp_path: Path, catalog: Catalog, embedder: Embedder
) -> None:
    folder = tmp_path / "photos"
    paths = _photos(folder, 8)
    _index(folder, catalog, embedder)
    paths[0].rename(folder / "renamed.jpg")
    (folder / "sub").mkdir()
    paths[1].rename(folder / "sub" / "moved.jpg")
    shutil.copy2(paths[2], folder / "sub" / "copy.jpg")
    report = _index(folder, catalog, embedder)
    assert (report.indexed, report.reused, report.removed) == (0, 9, 2)
    index = FolderIndex.open(
        catalog,
        catalog.root_id(folder.resolve()) or 0,
        catalog.vector_key(embedder.spec.embedding_names),
        tmp_path / "data",
    )
    assert index.similar("sub/copy.jpg", 1)[0].relpath == "img02.jpg"


def test_changed_file_is_embedded_again(tmp_path: Path, catalog: Catalog, embedder: Embedder) -> None:
    folder = tmp_path / "photos"
    paths = _photos(folder, 3)
    _index(folder, catalog, embedder)
    builders.write_jpeg(paths[0], seed=99)
    os.utime(paths[0], ns=(1, 1_000_000_000))
    report = _index(folder, catalog, embedder)
    assert (report.indexed, report.reused) == (1, 2)


def test_cancel_keeps_finished_work_and_next_run_continues(
    tmp_path: Path, catalog: Catalog, embedder: Embedder
) -> None:
    folder = tmp_path / "photos"
    _photos(folder, 20)
    seen: list[int] = []

    def cancel_after_first_batch() -> bool:
        return bool(seen) and seen[-1] >= 8

    first = _index(
        folder,
        catalog,
        embedder,
        batch_size=4,
        workers=1,
        progress=lambda d, t: seen.append(d),
        cancelled=cancel_after_first_batch,
    )
    assert first.cancelled
    assert 8 <= first.indexed < 20
    second = _index(folder, catalog, embedder)
    assert not second.cancelled
    assert second.indexed == 20 - first.indexed
    assert second.reused == first.indexed


def test_bad_files_are_listed_and_good_ones_indexed(
    tmp_path: Path, catalog: Catalog, embedder: Embedder
) -> None:
    folder = tmp_path / "photos"
    _photos(folder, 3)
    builders.write_zero_bytes(folder / "empty.jpg")
    builders.write_truncated_jpeg(folder / "cut.jpg")
    report = _index(folder, catalog, embedder)
    assert report.indexed == 3
    builders.write_exif_rotated_jpeg(folder / "rotated.jpg")
    report = _index(folder, catalog, embedder)
    assert report.indexed == 1
    assert {p.relpath: p.reason.split(" ")[0] for p in report.skipped} == {
        "cut.jpg": "truncated",
        "empty.jpg": "empty",
    }
    again = _index(folder, catalog, embedder)
    assert [p.relpath for p in again.skipped] == ["cut.jpg", "empty.jpg"]
    root_id = catalog.root_id(folder.resolve())
    assert root_id is not None
    rotated = catalog.file_rows(root_id)["rotated.jpg"]
    info = catalog.image_info(rotated.content_hash or "")
    assert info is not None and (info.width, info.height, info.format) == (200, 300, "JPEG")


def test_vectors_match_a_direct_model_call(tmp_path: Path, catalog: Catalog, embedder: Embedder) -> None:
    """Batching and threading must not change what is stored."""
    from sorter_app.core.images import load_image
    from sorter_app.core.preprocess import to_model_pixels

    folder = tmp_path / "photos"
    paths = _photos(folder, 6)
    _index(folder, catalog, embedder, batch_size=4, workers=3)
    root_id = catalog.root_id(folder.resolve())
    assert root_id is not None
    key = catalog.vector_key(embedder.spec.embedding_names)
    by_hash = catalog.paths_by_hash(root_id, key)
    hashes = {p[0]: h for h, p in by_hash.items()}
    stored = catalog.vectors(key, [hashes[p.name] for p in paths])
    pre = embedder.spec.preprocess
    direct = np.concatenate(
        [
            embedder.embed(to_model_pixels(load_image(p.read_bytes(), pre.size).image, pre)[None])
            for p in paths
        ]
    )
    assert np.abs(stored - direct).max() < 1e-4
    assert np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-4)


def test_files_skipped_by_an_older_version_are_read_once_more(
    tmp_path: Path, catalog: Catalog, embedder: Embedder
) -> None:
    """Catalog step 4: skips are now remembered, so those an older version made are retried once."""
    import sqlite3

    from sorter_app.core.catalog import FileRow

    folder = tmp_path / "photos"
    builders.write_jpeg(folder / "a.jpg", 1)
    _index(folder, catalog, embedder)
    root_id = catalog.root_id(folder.resolve())
    assert root_id is not None
    row = catalog.file_rows(root_id)["a.jpg"]
    with catalog.transaction():  # what an older version wrote for a format it could not read
        catalog.upsert_files(
            root_id, [FileRow("a.jpg", row.size, row.mtime_ns, None, "unsupported image format")]
        )
    db = sqlite3.connect(catalog.path)
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    with Catalog(catalog.path) as upgraded:
        report = _index(folder, upgraded, embedder)
        assert (report.reused, report.skipped) == (1, [])
        assert upgraded.file_rows(root_id)["a.jpg"].error is None


def test_a_file_swapped_for_a_pipe_or_a_link_after_the_scan_is_skipped_not_waited_on(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fuzz round replaced a listed photo by a named pipe while indexing ran: opening it to hash
    it blocked until a writer came, with no CPU and no end. A link swapped in would be read from
    outside the folder, which the scan never follows."""
    folder = tmp_path / "photos"
    _, pipe, link = _photos(folder, 3)
    outside = builders.write_jpeg(tmp_path / "elsewhere.jpg", seed=9)

    def scan_then_swap(*args: Any, **kwargs: Any) -> Any:
        listed = scan_folder(*args, **kwargs)
        pipe.unlink()
        os.mkfifo(pipe)
        link.unlink()
        link.symlink_to(outside)
        return listed

    monkeypatch.setattr("sorter_app.core.indexer.scan_folder", scan_then_swap)
    done: list[IndexReport] = []

    def index() -> None:  # in a thread, to be given up on; SQLite wants its catalog made there
        with Catalog(tmp_path / "data" / "catalog.sqlite") as catalog:
            done.append(_index(folder, catalog, embedder))

    worker = threading.Thread(target=index, daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert done, "indexing waited on the pipe"
    assert {p.relpath: p.reason for p in done[0].skipped} == {
        pipe.name: "cannot read: not a regular file (a named pipe)",
        link.name: "cannot read: it is a link now, not the file that was listed",
    }
    assert done[0].indexed == 1


def test_a_named_pipe_is_refused_by_the_decoder_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(ImageError, match=r"^cannot read: not a regular file \(a named pipe\)$"):
        load_image_file(tmp_path / "pipe.jpg")
