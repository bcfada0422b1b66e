"""The folder walk: what it finds, what it skips, and what it reports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sorter_app.core.scan import scan_folder
from tests import builders


def test_finds_images_recursively_and_skips_hidden_system_and_other_files(tmp_path: Path) -> None:
    builders.write_jpeg(tmp_path / "a.jpg", 1)
    builders.write_jpeg(tmp_path / "sub" / "deeper" / "b.JPEG", 2)
    builders.write_jpeg(tmp_path / ".hidden.jpg", 3)
    builders.write_jpeg(tmp_path / ".cache" / "c.jpg", 4)
    builders.write_jpeg(tmp_path / "__MACOSX" / "d.jpg", 5)
    (tmp_path / "notes.txt").write_text("not an image")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["a.jpg", "sub/deeper/b.JPEG"]
    assert result.problems == []
    assert result.files[0].size == (tmp_path / "a.jpg").stat().st_size


def test_symlink_loop_is_reported_once_and_does_not_hang(tmp_path: Path) -> None:
    builders.write_jpeg(tmp_path / "photos" / "a.jpg", 1)
    os.symlink(tmp_path / "photos", tmp_path / "photos" / "again")
    os.symlink("self.jpg", tmp_path / "photos" / "self.jpg")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["photos/a.jpg"]
    reasons = {p.relpath: p.reason for p in result.problems}
    assert "symlink loop" in reasons["photos/again"]
    assert "symlink loop" in reasons["photos/self.jpg"]


def test_symlinked_folder_is_followed(tmp_path: Path) -> None:
    builders.write_jpeg(tmp_path / "elsewhere" / "x.jpg", 1)
    (tmp_path / "root").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "linked")
    assert [f.relpath for f in scan_folder(tmp_path / "root").files] == ["linked/x.jpg"]


def test_broken_symlink_and_bad_name_are_reported(tmp_path: Path) -> None:
    os.symlink(tmp_path / "missing.jpg", tmp_path / "dangling.jpg")
    bad_name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not valid UTF-8
    builders.write_jpeg(tmp_path / bad_name, 1)
    result = scan_folder(tmp_path)
    assert result.files == []
    reasons = sorted(p.reason for p in result.problems)
    assert reasons[0].startswith("broken symlink")
    assert "not valid UTF-8" in reasons[1]


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads any folder; tests/cli covers this as an unprivileged user"
)
def test_unreadable_folder_is_reported(tmp_path: Path) -> None:
    builders.write_jpeg(tmp_path / "ok.jpg", 1)
    locked = tmp_path / "locked"
    builders.write_jpeg(locked / "secret.jpg", 2)
    locked.chmod(0)
    try:
        result = scan_folder(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [f.relpath for f in result.files] == ["ok.jpg"]
    assert [(p.relpath, p.reason.split(":")[0]) for p in result.problems] == [
        ("locked", "cannot open folder")
    ]


def test_excluded_folder_is_not_walked(tmp_path: Path) -> None:
    builders.write_jpeg(tmp_path / "a.jpg", 1)
    builders.write_jpeg(tmp_path / "data" / "thumb.jpg", 2)
    assert [f.relpath for f in scan_folder(tmp_path, exclude=[tmp_path / "data"]).files] == ["a.jpg"]
