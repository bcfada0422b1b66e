"""A full disk during index, the index save, a move and an undo: one line, exit 1 (or a skip with a
reason), and the data left consistent.

Each case runs twice: on a real, tiny tmpfs mounted in a user namespace (`unshare -rm`; skipped
where the system does not allow one), and by fault injection, with ENOSPC (or SQLite's "database
or disk is full") raised at the write point, which always runs.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Literal

import pytest
from annoy import AnnoyIndex

from sorter_app.core import journal, transfer, vector_index
from tests import builders
from tests.cli.runner import Sorter, annoy_from
from tests.core.move_support import snapshot

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for i in range(8):
        builders.write_jpeg(folder / f"img{i}.jpg", seed=i)
    return folder.resolve()


@pytest.fixture
def sorter(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Sorter:
    annoy_from(monkeypatch, 5)
    return Sorter(capsys, tmp_path / "data")


def _catalog_ok(data: Path) -> list[Any]:
    db = sqlite3.connect(data / "catalog.sqlite")
    try:
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        return db.execute("SELECT relpath FROM files ORDER BY relpath").fetchall()
    finally:
        db.close()


def test_disk_full_while_indexing_is_one_line_and_keeps_what_was_committed(
    sorter: Sorter, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sorter("index", str(photos))
    for i in range(8, 48):
        builders.write_jpeg(photos / f"new{i}.jpg", seed=i)
    with monkeypatch.context() as fault:
        _catalog_cannot_grow(fault)
        code, _, err = sorter("index", str(photos))
    assert code == 1 and len(err) == 1 and err[0].startswith("sorter: error: disk full"), err
    assert len(_catalog_ok(sorter.data)) == 8
    code, report, _ = sorter("index", str(photos))
    assert code == 0 and report["indexed"] == 40 and len(_catalog_ok(sorter.data)) == 48


def _catalog_cannot_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every catalog connection opened from now on may grow by two pages at most: SQLITE_FULL, the
    error SQLite gives for ENOSPC, raised by SQLite itself."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db: sqlite3.Connection = real(*args, **kwargs)
        if str(args[0]).endswith("catalog.sqlite"):
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages + 2}")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)


class _FullDisk(AnnoyIndex):
    def save(self, fn: str, prefault: bool = False) -> Literal[True]:
        with open(fn, "wb") as fh:
            fh.write(bytes(1000))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_saving_the_index_leaves_no_file_behind(
    sorter: Sorter, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as fault:
        fault.setattr(vector_index, "AnnoyIndex", _FullDisk)
        code, _, err = sorter("index", str(photos))
    indexes = sorter.data / "indexes"
    assert code == 1 and len(err) == 1, err
    assert (
        err[0]
        == f"sorter: error: cannot write the search index in {indexes}: disk full (No space left on device)"
    )
    assert [p.name for p in indexes.iterdir() if not p.name.endswith(".lock")] == []
    assert len(_catalog_ok(sorter.data)) == 8  # committed before the save
    assert sorter("status", str(photos))[1]["search"] == "exact"
    assert sorter("index", str(photos))[0] == 0
    status = sorter("status", str(photos))[1]
    assert (status["search"], status["annoy_items"]) == ("annoy", 8)


def _plan(sorter: Sorter, photos: Path, to: Path, plan_file: Path, *how: str) -> dict[str, Any]:
    assert sorter("index", str(photos))[0] == 0
    code, plan, err = sorter(
        "plan", str(photos), "--clusters", "all", "--to", str(to), "-o", str(plan_file), *how
    )
    assert code == 0 and plan["moves"], err
    return plan  # type: ignore[no-any-return]


def test_disk_full_while_copying_skips_each_file_with_the_reason(
    sorter: Sorter, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(sorter, photos, tmp_path / "sorted", tmp_path / "plan.json", "--copy")
    before = snapshot(photos)

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(transfer, "_write_all", full)
    code, result, err = sorter("move", "--plan", str(tmp_path / "plan.json"))
    assert code == 0 and result["copied"] == 0 and err == []
    assert [s["reason"] for s in result["skipped"]] == ["disk full"] * len(plan["moves"])
    assert snapshot(photos) == before
    assert [p for p in (tmp_path / "sorted").rglob("*") if p.is_file()] == []  # no partial copies


def _journal_full_after(monkeypatch: pytest.MonkeyPatch, appends: int) -> None:
    """The journal's disk fills after `appends` more lines: JournalWriter's own ENOSPC path."""
    count = 0

    class Full:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def write(self, data: bytes) -> int:
            nonlocal count
            count += 1
            if count > appends:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return int(self._fh.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._fh, name)

    real_init = journal.JournalWriter.__init__

    def init(self: journal.JournalWriter, path: Path, fh: Any) -> None:
        real_init(self, path, fh)
        self._fh = Full(fh)  # type: ignore[assignment]

    monkeypatch.setattr(journal.JournalWriter, "__init__", init)


def test_disk_full_in_the_journal_mid_move_is_rolled_back_by_the_next_command(
    sorter: Sorter, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plan(sorter, photos, tmp_path / "sorted", tmp_path / "plan.json")
    before = snapshot(photos)
    with monkeypatch.context() as fault:
        _journal_full_after(fault, 4)  # plan, begin, two moves done; the third is not journaled
        code, _, err = sorter("move", "--plan", str(tmp_path / "plan.json"))
    assert code == 1 and len(err) == 1 and "cannot write journal" in err[0] and "No space left" in err[0]
    code, plans, err = sorter("journal")
    assert code == 0 and len(err) == 1 and "(rollback)" in err[0]
    assert [p["state"] for p in plans] == ["rolled back"]
    assert snapshot(photos) == before


def test_disk_full_in_the_journal_mid_undo_is_finished_by_the_next_command(
    sorter: Sorter, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plan(sorter, photos, tmp_path / "sorted", tmp_path / "plan.json")
    before = snapshot(photos)
    assert sorter("move", "--plan", str(tmp_path / "plan.json"))[0] == 0
    with monkeypatch.context() as fault:
        _journal_full_after(fault, 3)  # undo-begin, undo-step, one undo-done
        code, _, err = sorter("undo")
    assert code == 1 and len(err) == 1 and "cannot write journal" in err[0]
    code, plans, err = sorter("journal")
    assert code == 0 and len(err) == 1 and "(finish undo)" in err[0]
    assert [p["state"] for p in plans] == ["undone"]
    assert snapshot(photos) == before


# --- a real full file system: a tmpfs of a few hundred KB in a user namespace ----------------------

SMALL_ANNOY = """
import functools, sys
import sorter_app.cli as cli
from sorter_app.core.library import Library
cli.Library = functools.partial(Library, annoy_min_items=5)
raise SystemExit(cli.main(sys.argv[1:]))
"""


@functools.cache
def _can_mount_tmpfs() -> str | None:
    """None if `unshare -rm` can mount a tmpfs here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt 2>&1 || mount -t tmpfs -o size=64k tmpfs /tmp",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return (
        None
        if probe.returncode == 0
        else f"cannot mount a tmpfs in a user namespace: {probe.stdout or probe.stderr}"
    )


def _in_tmpfs(mount: Path, size_kb: int, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run each command with a `size_kb` tmpfs mounted on `mount`; results of each (the tmpfs
    lives for all of them and is gone after)."""
    if (why := _can_mount_tmpfs()) is not None:
        pytest.skip(why)
    out = mount.parent / f"{mount.name}-results.json"
    runner = textwrap.dedent(
        """
        import json, subprocess, sys
        results = [subprocess.run(c, capture_output=True, text=True) for c in json.loads(sys.argv[2])]
        with open(sys.argv[1], "w") as fh:
            json.dump([[r.returncode, r.stdout, r.stderr] for r in results], fh)
        """
    )
    mount.mkdir(parents=True, exist_ok=True)
    script = f'mount -t tmpfs -o size={size_kb}k tmpfs "$1" && shift && exec "$@"'
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            script,
            "sh",
            str(mount),
            sys.executable,
            "-c",
            runner,
            str(out),
            json.dumps(list(commands)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [
        subprocess.CompletedProcess(c, rc, o, e)
        for c, (rc, o, e) in zip(commands, json.loads(out.read_text()), strict=True)
    ]


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sorter: error: "), result.stderr
    return lines[0]


def _sorter(*argv: str | Path) -> list[str]:
    return [sys.executable, "-c", SMALL_ANNOY, *map(str, argv)]


def _check(data: Path) -> list[str]:
    code = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA quick_check').fetchall())"
    return [sys.executable, "-c", code, str(data / "catalog.sqlite")]


@pytest.mark.slow  # ~15 s: indexes 40 images twice
def test_real_full_disk_while_indexing_and_saving_the_index(tmp_path: Path, photos: Path) -> None:
    for i in range(8, 40):
        builders.write_jpeg(photos / f"img{i}.jpg", seed=i)
    data = tmp_path / "data"
    # Room for a new catalog and user store (and their write-ahead logs), and little of the index:
    # at 200 KB the user store's fourth schema step (ratings) filled the disk before indexing began,
    # and the check below then had no room for its own shared-memory file.
    full_index, check = _in_tmpfs(data, 240, _sorter("index", photos, "--data-dir", data), _check(data))
    assert "disk full" in _one_line(full_index) and full_index.returncode == 1
    assert check.stdout.strip() == "[('ok',)]", check.stderr

    # A catalog that fits, and no room for the Annoy file the next index wants to save.
    roomy = tmp_path / "roomy"
    indexed = subprocess.run(
        [*_sorter("index", photos, "--data-dir", roomy)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert indexed.returncode == 0, indexed.stderr
    for leftover in (roomy / "indexes").iterdir():
        leftover.unlink()
    used_kb = sum(p.stat().st_size for p in roomy.rglob("*") if p.is_file()) // 1024
    small = tmp_path / "small"
    copy = ["cp", "-a", f"{roomy}/.", str(small)]
    _, save, listing, status = _in_tmpfs(
        small,
        used_kb + 120,
        copy,
        _sorter("index", photos, "--data-dir", small),
        ["ls", "-a", str(small / "indexes")],
        _sorter("status", photos, "--data-dir", small, "--json"),
    )
    assert _one_line(save).startswith(
        f"sorter: error: cannot write the search index in {small / 'indexes'}: disk full"
    )
    assert [n for n in listing.stdout.split() if n not in (".", "..") and not n.endswith(".lock")] == []
    assert json.loads(status.stdout)["search"] == "exact" and json.loads(status.stdout)["usable"] == 40


def test_real_full_disk_while_copying(tmp_path: Path, photos: Path) -> None:
    data = tmp_path / "data"
    plan_file = tmp_path / "plan.json"
    for command in (
        _sorter("index", photos, "--data-dir", data),
        _sorter(
            "plan",
            photos,
            "--clusters",
            "all",
            "--to",
            tmp_path / "dest",
            "--copy",
            "-o",
            plan_file,
            "--data-dir",
            data,
        ),
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False
        )
        assert done.returncode == 0, done.stderr
    before = snapshot(photos)
    size_kb = sum(p.stat().st_size for p in photos.iterdir()) // 1024 // 2
    (applied, listing) = _in_tmpfs(
        tmp_path / "dest",
        size_kb,
        _sorter("move", "--plan", plan_file, "--data-dir", data, "--json"),
        ["find", str(tmp_path / "dest"), "-type", "f"],
    )
    assert applied.returncode == 0 and applied.stderr == ""
    result = json.loads(applied.stdout)
    reasons = {s["reason"].split(":")[0] for s in result["skipped"]}
    assert result["copied"] > 0 and reasons == {"disk full"}
    assert len(listing.stdout.splitlines()) == result["copied"]  # no partial copy, no temp file
    assert snapshot(photos) == before
