"""A folder of real photos from ../shared/datasets, built in a temp folder for a benchmark or a script.

Never inside the repository: the datasets are for development only. Hard links when the datasets
share the folder's file system (fast, no disk), else copies.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path


def pick_images(datasets: Path, n: int) -> list[tuple[str, str]]:
    """(path, source) for `n` rows spread evenly over the manifest: the collection's own mix of
    sources and sizes, the same every run."""
    with (datasets / "manifest.csv").open(newline="", encoding="utf-8") as f:
        rows = sorted((row["path"], row["source"]) for row in csv.DictReader(f))
    if n > len(rows):
        raise SystemExit(f"{n} images asked for: the manifest lists only {len(rows)}")
    return [rows[i * len(rows) // n] for i in range(n)]


def build_folder(datasets: Path, picked: list[tuple[str, str]], folder: Path) -> str:
    """Returns which was used; a link the kernel refuses (protected_hardlinks) falls back to a copy."""
    folder.mkdir(parents=True)
    linking = os.stat(datasets).st_dev == os.stat(folder).st_dev
    copied = 0
    for i, (relpath, _source) in enumerate(picked):
        source, target = datasets / relpath, folder / f"{i:05d}-{Path(relpath).name}"
        try:
            if not linking:
                raise OSError("another file system")
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
            copied += 1
    return "hard links" if copied == 0 else f"{copied} copies, {len(picked) - copied} hard links"


def build_dataset_folder(datasets: Path, folder: Path, n: int) -> Path:
    build_folder(datasets, pick_images(datasets, n), folder)
    return folder
