"""What the move tests share: tree snapshots, a photo folder to sort, and a crash at the N-th step."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from pathlib import Path

import pytest

from sorter_app.core import journal


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under `roots` (hidden ones and temp files included) → BLAKE2b of its bytes."""
    tree: dict[str, str] = {}
    for n, root in enumerate(roots):
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder) / name
                key = f"{n}:{path.relative_to(root).as_posix()}"
                tree[key] = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    return tree


def mtimes(*roots: Path) -> dict[str, int]:
    return {
        f"{n}:{(Path(folder) / name).relative_to(root).as_posix()}": os.lstat(Path(folder) / name).st_mtime_ns
        for n, root in enumerate(roots)
        for folder, _dirs, files in os.walk(root)
        for name in files
    }


def write_file(path: Path, size: int, seed: int) -> Path:
    """Random bytes with an mtime in the past, so a copy that loses the mtime is caught."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    os.utime(path, ns=(1_600_000_000_123_456_789 + seed, 1_600_000_000_123_456_789 + seed))
    return path


def photo_folder(root: Path) -> list[tuple[str, list[Path]]]:
    """A small folder to sort: two groups, a name clash inside the batch and one with a file on disk."""
    a = write_file(root / "a.jpg", 3000, 1)
    c = write_file(root / "sub" / "a.jpg", 4000, 3)  # same name as a.jpg: clashes inside "Beach"
    b = write_file(root / "b.jpg", 5000, 2)
    write_file(root / "Night" / "B.JPG", 100, 4)  # already there: b.jpg gets " (1)"
    return [("Beach", [a, c]), ("Night", [b])]


class Crash(BaseException):
    """A simulated crash: not an Exception, so no `except Exception` cleanup runs, as in a real one."""


def crash_at(monkeypatch: pytest.MonkeyPatch, step: int) -> list[str]:
    """Make the `step`-th fault point (1-based) raise Crash; returns the labels passed so far."""
    seen: list[str] = []

    def point(label: str) -> None:
        seen.append(label)
        if len(seen) == step:
            raise Crash(label)

    monkeypatch.setattr(journal, "fault_point", point)
    return seen


def no_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "fault_point", lambda label: None)


def other_device_dir(near: Path) -> Path:
    """A fresh folder in /dev/shm, a tmpfs on another device than `near`; skips the test if none."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm: cannot test a real cross-device move")
    if os.stat(shm).st_dev == os.stat(near).st_dev:
        pytest.skip("/dev/shm is on the same device as the test folder: no cross-device move to test")
    return Path(tempfile.mkdtemp(prefix="sorter-test-", dir=shm))
