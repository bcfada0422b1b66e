"""The catalog follows files the app moves, copies and puts back, so nothing is read again.

Also what the duplicate finder reads from it: file facts (resolution, size, age) and layouts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from sorter_app.core.catalog import Catalog, FileRow
from sorter_app.core.layout import layout_signature
from sorter_app.core.library import Library
from sorter_app.core.plan import make_plan
from sorter_app.paths import bundled_model_sidecar
from tests import builders

IMAGES = 6


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    with Library(tmp_path / "data", bundled_model_sidecar()) as lib:
        yield lib


def _folder(root: Path, n: int = IMAGES, first_seed: int = 0) -> Path:
    for i in range(n):
        builders.write_jpeg(root / f"img{i}.jpg", seed=first_seed + i)
    return root.resolve()


def _rows(library: Library, root: Path) -> dict[str, FileRow]:
    return library.catalog.file_rows(library.catalog.root_id(root, create=False) or -1)


def _on_disk(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.jpg")}


def _unchanged_index(library: Library, root: Path, images: int) -> None:
    report = library.index(root)
    assert (report.indexed, report.reused, report.removed) == (0, images, 0)


# --- follow_file, one step at a time ---------------------------------------------------------------


def test_a_moved_file_keeps_its_row_under_the_new_path(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    before = _rows(library, root)["img0.jpg"]
    (root / "beach").mkdir()
    os.rename(root / "img0.jpg", root / "beach" / "one.jpg")
    library.catalog.follow_file(root / "img0.jpg", root / "beach" / "one.jpg")
    rows = _rows(library, root)
    assert "img0.jpg" not in rows and rows["beach/one.jpg"].content_hash == before.content_hash
    assert rows["beach/one.jpg"].mtime_ns == os.stat(root / "beach" / "one.jpg").st_mtime_ns
    _unchanged_index(library, root, IMAGES)


def test_a_copy_keeps_the_source_row_and_adds_one(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    shutil.copy2(root / "img1.jpg", root / "copy.jpg")
    library.catalog.follow_file(root / "img1.jpg", root / "copy.jpg", keep_source=True)
    rows = _rows(library, root)
    assert rows["img1.jpg"].content_hash == rows["copy.jpg"].content_hash
    _unchanged_index(library, root, IMAGES + 1)


def test_a_file_moved_to_another_indexed_folder_takes_its_vector_along(
    tmp_path: Path, library: Library
) -> None:
    a, b = _folder(tmp_path / "a"), _folder(tmp_path / "b", 3, first_seed=20)
    library.index(a)
    library.index(b)
    os.rename(a / "img2.jpg", b / "from-a.jpg")
    library.catalog.follow_file(a / "img2.jpg", b / "from-a.jpg")
    assert "img2.jpg" not in _rows(library, a) and "from-a.jpg" in _rows(library, b)
    _unchanged_index(library, a, IMAGES - 1)
    _unchanged_index(library, b, 4)


def test_a_file_moved_out_of_every_indexed_folder_is_forgotten(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    os.rename(root / "img3.jpg", tmp_path / "elsewhere.jpg")
    library.catalog.follow_file(root / "img3.jpg", tmp_path / "elsewhere.jpg")
    assert set(_rows(library, root)) == _on_disk(root)
    _unchanged_index(library, root, IMAGES - 1)


def test_a_file_moved_into_a_subfolder_that_is_its_own_root_goes_to_the_deepest_root(
    tmp_path: Path, library: Library
) -> None:
    outer = _folder(tmp_path / "photos")
    inner = _folder(outer / "2024", 2, first_seed=30)
    library.index(inner)
    library.index(outer)
    os.rename(outer / "img4.jpg", inner / "img4.jpg")
    library.catalog.follow_file(outer / "img4.jpg", inner / "img4.jpg")
    assert "img4.jpg" in _rows(library, inner) and "img4.jpg" not in _rows(library, outer)


def test_a_file_from_outside_every_indexed_folder_is_ignored(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    before = _rows(library, root)
    outside = builders.write_jpeg(tmp_path / "outside.jpg", seed=40)
    os.rename(outside, root / "arrived.jpg")
    library.catalog.follow_file(outside, root / "arrived.jpg")
    assert _rows(library, root) == before


# --- plans applied and undone through the library ----------------------------------------------------


def _groups(root: Path) -> list[tuple[str, list[Path]]]:
    return [("beach", [root / "img0.jpg", root / "img1.jpg"]), ("night", [root / "img2.jpg"])]


def test_after_a_move_and_its_undo_the_catalog_matches_the_disk_before_any_index(
    tmp_path: Path, library: Library
) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    hashes = {p: r.content_hash for p, r in _rows(library, root).items()}
    library.apply(make_plan(_groups(root), root))
    rows = _rows(library, root)
    assert set(rows) == _on_disk(root)
    assert rows["beach/img0.jpg"].content_hash == hashes["img0.jpg"]
    library.undo()
    assert {p: r.content_hash for p, r in _rows(library, root).items()} == hashes
    _unchanged_index(library, root, IMAGES)


def test_after_a_copy_and_its_undo_the_catalog_matches_the_disk(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    library.apply(make_plan(_groups(root), root, "copy"))
    assert set(_rows(library, root)) == _on_disk(root) and len(_on_disk(root)) == IMAGES + 3
    library.undo()
    assert set(_rows(library, root)) == _on_disk(root) and len(_on_disk(root)) == IMAGES
    _unchanged_index(library, root, IMAGES)


def test_a_move_out_to_an_unindexed_folder_and_back(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    library.apply(make_plan(_groups(root), tmp_path / "sorted"))
    assert set(_rows(library, root)) == _on_disk(root) and len(_on_disk(root)) == IMAGES - 3
    library.undo()
    report = library.index(root)
    assert (report.indexed, report.reused) == (0, IMAGES)  # read and hashed again, not embedded


def test_after_undoing_a_trash_plan_the_catalog_knows_the_restored_files(
    tmp_path: Path, library: Library
) -> None:
    root = _folder(tmp_path / "photos")
    library.index(root)
    trash = tmp_path / "trash"
    library.apply(make_plan(_groups(root), None, "trash", trash_root=trash), trash_root=trash)
    assert set(_rows(library, root)) == _on_disk(root) and len(_on_disk(root)) == IMAGES - 3
    library.undo()
    assert set(_rows(library, root)) == _on_disk(root) and len(_on_disk(root)) == IMAGES


# --- file facts and layouts --------------------------------------------------------------------------


def test_file_facts_give_resolution_size_and_age_of_usable_files(tmp_path: Path, library: Library) -> None:
    root = tmp_path / "photos"
    builders.write_jpeg(root / "wide.jpg", seed=1, size=(400, 200))
    builders.write_exif_rotated_jpeg(root / "rotated.jpg")  # stored 300×200, shown 200×300
    builders.write_truncated_jpeg(root / "broken.jpg")
    os.utime(root / "wide.jpg", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    root = root.resolve()
    library.index(root)
    facts = library.catalog.file_facts(library.catalog.root_id(root) or -1)
    assert set(facts) == {"wide.jpg", "rotated.jpg"}
    wide, rotated = facts["wide.jpg"], facts["rotated.jpg"]
    assert (wide.width, wide.height, rotated.width, rotated.height) == (400, 200, 200, 300)
    assert wide.size == (root / "wide.jpg").stat().st_size
    assert wide.mtime_ns == 1_600_000_000_000_000_000


def test_layouts_are_the_layout_signature_per_content(tmp_path: Path, library: Library) -> None:
    root = _folder(tmp_path / "photos", 3)
    shutil.copyfile(root / "img0.jpg", root / "copy.jpg")
    library.index(root)
    vectors = library.folder_vectors(root)
    layouts = library.catalog.layouts([*vectors.keys, "no-such-hash"])
    assert set(layouts) == set(vectors.keys) and len(vectors.keys) == 3
    for key, paths in zip(vectors.keys, vectors.paths, strict=True):
        with Image.open(root / paths[0]) as img:
            expected = layout_signature(img.convert("RGB"))
        assert layouts[key] == expected


def test_layouts_of_nothing_is_empty(library: Library) -> None:
    assert library.catalog.layouts([]) == {}


def test_a_catalog_reopened_still_holds_followed_paths(tmp_path: Path) -> None:
    root = _folder(tmp_path / "photos", 2)
    with Library(tmp_path / "data", bundled_model_sidecar()) as lib:
        lib.index(root)
        os.rename(root / "img0.jpg", root / "renamed.jpg")
        lib.catalog.follow_file(root / "img0.jpg", root / "renamed.jpg")
    with Catalog(tmp_path / "data" / "catalog.sqlite") as catalog:
        assert set(catalog.file_rows(catalog.root_id(root) or -1)) == {"renamed.jpg", "img1.jpg"}


def test_a_folder_registered_by_another_process_meanwhile_is_the_same_root(tmp_path: Path) -> None:
    """Two indexers of one new folder: the other registers it between this one's look-up and its
    insert (seen as "UNIQUE constraint failed: roots.path" in a CI run). Both get the same id."""
    path = tmp_path / "photos"
    with Catalog(tmp_path / "catalog.sqlite") as mine, Catalog(tmp_path / "catalog.sqlite") as theirs:
        real = mine._db

        class OtherGoesFirst:
            """The connection, except that the other process registers the folder right after
            this one's first look-up found nothing."""

            def __init__(self) -> None:
                self.looked = False

            def execute(self, sql: str, params: tuple[object, ...] = ()) -> object:
                cursor = real.execute(sql, params)
                if sql.startswith("SELECT id FROM roots") and not self.looked:
                    self.looked = True
                    theirs.root_id(path)
                return cursor

            def __enter__(self) -> object:
                return real.__enter__()

            def __exit__(self, *exc: object) -> object:
                return real.__exit__(*exc)  # type: ignore[arg-type]

        mine._db = OtherGoesFirst()  # type: ignore[assignment]
        assert mine.root_id(path) == theirs.root_id(path)
        mine._db = real
