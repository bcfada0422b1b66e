"""Smoke test of the frozen build: does dist/image-sorter/ work on a machine, by itself?

    python3 packaging/smoke_test.py [FOLDER] [--build DIR] [--count N] [--timeout S]

Without FOLDER, N photos (default 300) from ../shared/datasets are copied into a temp folder with
an exact copy of one photo and a truncated JPEG. Then, with a clean environment (no .venv on PATH,
no PYTHONPATH) and a temp data folder:

1. `sorter-gui FOLDER` starts headless (QT_QPA_PLATFORM=offscreen); its start-up time is the time
   until it has created the catalog, which the window does right after it is shown, when it starts
   indexing the folder it was given. It must load no library from outside the build (no .venv,
   no torch).
2. The window does not quit by itself: the test polls the frozen `sorter status --json` until the
   folder is marked indexed, then ends the window with SIGTERM (it must go within 10 s).
3. The frozen `sorter index` must find nothing left to embed, `status` must count every file, and
   `similar` must answer (with the exact copy first, similarity 1.0, when the test made one).
4. User data must be in the data folder or under XDG_DATA_HOME (platformdirs), never in the build.

Uses only the standard library and the frozen programs; exits 0 only if every check passes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, ok: bool, what: str, detail: object = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail != "" else ""), flush=True)
        self.failed += not ok
        return ok


def sample_photos(dest: Path, count: int) -> tuple[Path, Path]:
    """Copy `count` photos spread over every source of the shared datasets; add an exact copy of
    the first one and a truncated JPEG. Returns (the original, its copy)."""
    with open(DATASETS / "manifest.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda row: row["path"])
    step = max(1, len(rows) // count)
    for row in rows[::step][:count]:
        target = dest / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(DATASETS / row["path"], target)
    original = next(p for p in sorted(dest.rglob("*")) if p.suffix.lower() in {".jpg", ".jpeg"})
    duplicate = original.with_name(f"{original.stem} copy{original.suffix}")
    shutil.copy2(original, duplicate)
    (dest / "truncated.jpg").write_bytes(original.read_bytes()[:1500])
    return original, duplicate


def clean_env(data_dir: Path, home: Path) -> dict[str, str]:
    """The frozen programs must not lean on the development environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p]
    env.update(PATH=os.pathsep.join(path), QT_QPA_PLATFORM="offscreen", HOME=str(home))
    env.update(XDG_DATA_HOME=str(home / ".local/share"), SORTER_DATA_DIR=str(data_dir))
    return env


def sorter(build: Path, env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    """Run the frozen CLI with --json; returns (exit code, parsed stdout or None, stderr)."""
    result = subprocess.run([str(build / "sorter"), *args, "--json"], env=env, capture_output=True, text=True)
    try:
        data = json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        data = None
    return result.returncode, data, result.stderr.strip()


def foreign_libraries(pid: int, build: Path) -> list[str]:
    """Shared libraries the process mapped from a Python environment instead of the build."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    paths = {line.split(None, 5)[5] for line in maps if len(line.split(None, 5)) == 6}
    return sorted(
        p
        for p in paths
        if ".so" in p
        and not p.startswith(str(build))
        and any(s in p for s in ("site-packages", ".venv", "torch", ".pyenv"))
    )


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_gui(
    build: Path, folder: Path, env: dict[str, str], timeout: float, checks: Checks, log: Path
) -> None:
    """Start the window on `folder`, time its start-up, wait until the folder is indexed, end it."""
    catalog = Path(env["SORTER_DATA_DIR"]) / "catalog.sqlite"
    started = time.perf_counter()
    with open(log, "w") as out:
        gui = subprocess.Popen([str(build / "sorter-gui"), str(folder)], env=env, stdout=out, stderr=out)
    try:
        while not catalog.exists() and gui.poll() is None and time.perf_counter() - started < timeout:
            time.sleep(0.02)
        startup = time.perf_counter() - started
        if not checks.check(catalog.exists(), "sorter-gui started and created the catalog"):
            return
        print(f"START-UP: sorter-gui took {startup:.2f} s from launch to window shown and indexing started")
        foreign = foreign_libraries(gui.pid, build)
        checks.check(not foreign, "sorter-gui loads no library from a Python environment", foreign[:5])

        indexed_at, status = None, None
        while gui.poll() is None and time.perf_counter() - started < timeout:
            code, status, _ = sorter(build, env, "status", str(folder))
            if code == 0 and status and (indexed_at := status.get("indexed_at")):
                break
            time.sleep(1.0)
        elapsed = time.perf_counter() - started
        checks.check(indexed_at is not None, f"the window indexed the folder in {elapsed:.1f} s", status)
        checks.check(gui.poll() is None, "sorter-gui still running after indexing")
    finally:
        if gui.poll() is None:
            gui.send_signal(signal.SIGTERM)
        try:
            code = gui.wait(10)
            checks.check(code in (0, -signal.SIGTERM), "sorter-gui ended on SIGTERM", f"exit {code}")
        except subprocess.TimeoutExpired:
            gui.kill()
            checks.check(False, "sorter-gui ended on SIGTERM within 10 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", nargs="?", type=Path, help="photos to index (default: a sample)")
    parser.add_argument("--build", type=Path, default=ROOT / "dist" / "image-sorter")
    parser.add_argument("--count", type=int, default=300, help="photos in the default sample")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for the window")
    args = parser.parse_args(argv)
    build = args.build.resolve()
    checks = Checks()
    if not (build / "sorter-gui").is_file():
        print(f"no build at {build}: run `make build` first", file=sys.stderr)
        return 1
    build_before = files_in(build)

    with tempfile.TemporaryDirectory(prefix="sorter-smoke-") as tmp:
        temp = Path(tmp)
        data, home = temp / "data", temp / "home"
        if args.folder:
            folder, original, duplicate = args.folder.resolve(), None, None
        else:
            folder = temp / "photos"
            original, duplicate = sample_photos(folder, args.count)
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        print(f"folder: {folder} ({len(images)} image files); build: {build}")
        env = clean_env(data, home)

        # Without SORTER_DATA_DIR the data must go to the platform's folder (XDG_DATA_HOME here).
        default_env = {k: v for k, v in env.items() if k != "SORTER_DATA_DIR"}
        cli_started = time.perf_counter()
        code, _, err = sorter(build, default_env, "journal")
        cli_startup = time.perf_counter() - cli_started
        checks.check(code == 0, "sorter (CLI) runs", err)
        print(f"START-UP: sorter journal took {cli_startup:.2f} s (CLI start, catalog created, exit)")
        platform_dir = home / ".local/share/image-sorter"
        # `journal` reads journals only; `status` opens the catalog (and says the folder is not indexed)
        sorter(build, default_env, "status", str(folder))
        checks.check((platform_dir / "catalog.sqlite").is_file(), "default data folder is platformdirs'")

        run_gui(build, folder, env, args.timeout, checks, temp / "gui.log")

        skipped: dict[str, str] = {}
        usable = 0
        code, report, err = sorter(build, env, "index", str(folder))
        if checks.check(code == 0 and report is not None, "sorter index runs", err):
            checks.check(
                report["indexed"] == 0, "sorter index: the window left nothing to embed", report["indexed"]
            )
            usable = report["reused"]
            skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
            if original is not None:
                checks.check(usable == len(images) - 1, "every sample photo usable", usable)
                checks.check("truncated.jpg" in skipped, "the truncated JPEG skipped with a reason", skipped)

        code, status, err = sorter(build, env, "status", str(folder))
        if checks.check(code == 0 and status is not None, "sorter status runs", err):
            checks.check(status["files"] == len(images), "status counts every file", status["files"])
            checks.check(status["indexed_with"] == status["model_id"], "indexed with the bundled model")
            usable = status["usable"]

        query = original or next((p for p in images if p.name not in skipped), folder / "no usable image")
        code, hits, err = sorter(build, env, "similar", str(folder), str(query), "-k", "5")
        if checks.check(code == 0 and isinstance(hits, list), "sorter similar runs", err):
            checks.check(len(hits) == min(5, usable - 1), "similar returns k neighbours", len(hits))
            scores = [hit["similarity"] for hit in hits]
            checks.check(scores == sorted(scores, reverse=True), "neighbours best first", scores)
            if duplicate is not None:
                first = hits[0] if hits else {}
                checks.check(
                    first.get("path") == str(duplicate) and first.get("similarity") == 1.0,
                    "the exact copy is the nearest neighbour, similarity 1.0",
                    first,
                )

        checks.check((data / "catalog.sqlite").is_file(), "catalog in SORTER_DATA_DIR", data)
        added = sorted(files_in(build) - build_before)
        checks.check(not added, "nothing written into the build folder", added[:5])
        if checks.failed:
            print(f"--- sorter-gui output ---\n{(temp / 'gui.log').read_text()[-3000:]}")

    print(f"smoke test: {'FAILED' if checks.failed else 'passed'} ({checks.failed} failed checks)")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
