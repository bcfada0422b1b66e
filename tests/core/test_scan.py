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


def test_links_are_listed_not_followed(tmp_path: Path) -> None:
    """A link out of the folder would let a plan move files that live elsewhere (issue #12, item 7)."""
    builders.write_jpeg(tmp_path / "elsewhere" / "x.jpg", 1)
    root = tmp_path / "root"
    builders.write_jpeg(root / "inside" / "y.jpg", 2)
    os.symlink(tmp_path / "elsewhere", root / "linked")
    os.symlink(tmp_path / "elsewhere" / "x.jpg", root / "outside.jpg")
    os.symlink(root / "inside", root / "again")
    os.symlink(root / "inside" / "y.jpg", root / "alias.jpg")
    os.symlink(tmp_path / "elsewhere" / "notes.txt", root / "notes.txt")  # not image-like: ignored
    result = scan_folder(root)
    assert [f.relpath for f in result.files] == ["inside/y.jpg"]
    reasons = {p.relpath: p.reason for p in result.problems}
    assert set(reasons) == {"linked", "outside.jpg", "again", "alias.jpg"}
    assert reasons["linked"].startswith("link to a folder outside the indexed folder")
    assert reasons["outside.jpg"].startswith("link to a file outside the indexed folder")
    assert reasons["again"].startswith("link to a folder: not followed")
    assert reasons["alias.jpg"].startswith("link to a file: not indexed")


def test_pipes_and_devices_named_like_images_are_listed_never_read(tmp_path: Path) -> None:
    """Opening a named pipe blocks until someone writes to it, and /dev/zero never ends: neither is
    read, and each is listed with what it is, so no file named like an image goes unmentioned."""
    builders.write_jpeg(tmp_path / "a.jpg", 1)
    os.mkfifo(tmp_path / "pipe.jpg")
    os.mkfifo(tmp_path / "pipe.txt")  # not image-like: ignored, as any other file
    os.symlink("/dev/zero", tmp_path / "zero.png")
    os.symlink("/dev/null", tmp_path / "null.dat")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["a.jpg"]
    reasons = {p.relpath: p.reason for p in result.problems}
    assert reasons == {
        "pipe.jpg": "not a regular file (a named pipe): not read",
        "zero.png": "link to a device (/dev/zero): not read",
    }


def test_paths_beyond_path_max_are_listed_not_missing(tmp_path: Path) -> None:
    """A 4,096-byte path cannot be opened by name: what lies below it is listed, never silently lost."""
    from sorter_app.core.scan import PATH_MAX

    deep = tmp_path
    fd = os.open(tmp_path, os.O_RDONLY)
    name = "d" * 200
    depth = 0
    try:
        while len(os.fsencode(deep)) < PATH_MAX + 300:  # built with dir fds: the names are too long
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, deep, depth = child, deep / name, depth + 1
        with open(os.open("photo.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as fh:
            builders.scene(1).save(fh, "JPEG")
    finally:
        os.close(fd)
    result = scan_folder(tmp_path)
    assert result.files == []
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert "longer than this system's limit" in problem.reason
    assert len(os.fsencode(tmp_path / problem.relpath)) >= PATH_MAX - 1


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
