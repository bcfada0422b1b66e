"""Journaled moves and their undo, on many small files. Run by hand, not in CI:

    .venv/bin/python -m benchmarks.bench_moves                  # 10,000 files, 20 groups
    .venv/bin/python -m benchmarks.bench_moves --files 2000 --dir /mnt/usb

Creates the files (2-20 KB each) in a temp folder, plans them into group folders, applies the plan,
undoes it and checks the tree is byte for byte what it was. Done once within the file system
(hard link + unlink per file) and once to /dev/shm if that is another device (copy, fsync, verify,
rename, delete per file). Prints JSON: seconds and files per second for each phase.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sorter_app.core.mover import apply_plan, undo_plan
from sorter_app.core.plan import make_plan


def tree_hash(root: Path) -> str:
    """One digest over every file's relative path, bytes and mtime: equal trees, equal digests."""
    digest = hashlib.blake2b(digest_size=16)
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
            digest.update(str(os.stat(path).st_mtime_ns).encode())
    return digest.hexdigest()


def make_files(folder: Path, count: int, seed: int = 0) -> tuple[list[Path], int]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, total = [], 0
    for i in range(count):
        size = rng.randint(2_000, 20_000)
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(rng.randbytes(size))
        paths.append(path)
        total += size
    return paths, total


def run_once(
    label: str, sources: Path, files: list[Path], dest: Path, work: Path, groups: int
) -> dict[str, Any]:
    before = tree_hash(sources)
    grouped = [(f"group {g:02d}", files[g::groups]) for g in range(groups)]
    started = time.perf_counter()
    plan = make_plan(grouped, dest)
    plan_s = time.perf_counter() - started
    journal = work / f"journal-{label}"
    applied = apply_plan(plan, journal)
    undone = undo_plan(plan.id, journal)
    identical = tree_hash(sources) == before
    n = len(plan.moves)
    return {
        "destination": str(dest),
        "cross_device": os.stat(dest).st_dev != os.stat(sources).st_dev,
        "plan_s": round(plan_s, 3),
        "apply_s": round(applied.seconds, 3),
        "apply_files_per_s": round(n / applied.seconds, 1),
        "undo_s": round(undone.seconds, 3),
        "undo_files_per_s": round(n / undone.seconds, 1),
        "moved": applied.moved,
        "restored": undone.restored,
        "skipped": len(applied.skipped) + len(undone.not_restored),
        "tree_identical_after_undo": identical,
        "journal_bytes": sum(p.stat().st_size for p in journal.iterdir()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="where to create the files (default: temp)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-moves-", dir=args.dir))
    shm_dir: Path | None = None
    try:
        sources = work / "photos"
        started = time.perf_counter()
        files, total = make_files(sources, args.files)
        report: dict[str, Any] = {
            "files": args.files,
            "groups": args.groups,
            "megabytes": round(total / 1e6, 1),
            "create_s": round(time.perf_counter() - started, 2),
            "same_file_system": run_once("same", sources, files, sources, work, args.groups),
        }
        shm = Path("/dev/shm")
        if shm.is_dir() and os.stat(shm).st_dev != os.stat(work).st_dev:
            shm_dir = Path(tempfile.mkdtemp(prefix="bench-moves-", dir=shm))
            report["cross_device"] = run_once("cross", sources, files, shm_dir, work, args.groups)
        else:
            report["cross_device"] = "skipped: /dev/shm missing or on the same device"
        print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if shm_dir is not None:
            shutil.rmtree(shm_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
