"""Index a corpus of real malformed files and generated bombs; count crashes, hangs, memory, time.

Run by hand, not in CI, one heavy job at a time (it uses the real model and up to a few GB):

    flock /work/locks/heavy.lock .venv/bin/python -m benchmarks.hostile_corpus /work/corpus/hostile
    # the same figures for older code (e.g. main before the fix), with its own interpreter:
    flock ... .venv/bin/python -m benchmarks.hostile_corpus CORPUS --code /work/main \\
        --python /work/main/.venv/bin/python

The corpus is not part of the project. It was built from image files that ship in packages:
Pillow's sdist (`pip download --no-binary :all: --no-deps pillow`: Tests/images, ~1,060 crash,
fuzz, odd and valid files), pillow-heif's sdist (tests/images), piexif's sdist (tests/images),
scikit-image's wheel (skimage/data) and the PngSuite images inside pypng's sdist; files whose
name is not image-like get `.jpg` appended, so that content sniffing is tried on them too.

Every file of the corpus, plus the generated cases of tests/hostile.py (the 100,000-page TIFF,
a 900-MP PNG with EXIF after its pixels, a JPEG claiming 65500×65500, a 2-GB sparse `.jpg` …),
is indexed by tests/index_child.py in a child process with one decode thread: each file is
timed, the child's process tree is sampled for memory and killed above --memory-limit-mb, and a
run that dies (crash, hang, memory) is rerun without the file it died on, until one completes.
Then `sorter index` itself runs over the whole folder and must exit 0, and a folder of
--empty empty `.jpg` files is indexed and re-opened three times (the re-open is timed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests import builders, hostile
from tests.index_child import descendants

REPO = Path(__file__).resolve().parent.parent
CHILD = REPO / "tests" / "index_child.py"


def _generate(folder: Path) -> None:
    """tests/hostile.py's named cases and a few large ones, into `folder/generated`."""
    out = folder / "generated"
    out.mkdir(parents=True, exist_ok=True)
    for build, name in hostile.NAMED_CASES.values():
        build(out / name)
    hostile.write_tiff_many_pages(out / "pages-100000.tif", 100_000)
    hostile.write_float_tiff_with_inf(out / "float-inf.tif")
    hostile.write_int32_tiff(out / "int32.tif")
    hostile.write_oversized_file(out / "two-gigabytes.jpg", 2 * 1024**3)
    builders.write_png_bomb(out / "png-60000.png")
    builders.write_truncated_jpeg(out / "truncated.jpg")


def _tree_rss_mb(root_pid: int) -> float:
    """Resident memory of `root_pid` and all its descendants, from /proc."""
    total = 0
    for pid in {root_pid} | descendants(root_pid):
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
    return total / 2**20


def _run_child(
    args: argparse.Namespace, folder: Path, data_dir: Path, trace: Path
) -> tuple[str, dict[str, Any] | None, list[tuple[float, float]]]:
    """One indexing run: ('ok'|'crash'|'hang'|'memory', its JSON, (time, tree MB) samples)."""
    env = {**os.environ, "PYTHONPATH": str(args.code)}
    proc = subprocess.Popen(
        [args.python, str(CHILD), str(folder), str(data_dir), str(trace)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    samples: list[tuple[float, float]] = []
    verdict = ["ok"]

    def watch() -> None:
        last_progress = time.time()
        last_size = -1
        while proc.poll() is None:
            rss = _tree_rss_mb(proc.pid)
            now = time.time()
            samples.append((now, rss))
            size = trace.stat().st_size if trace.exists() else 0
            if size != last_size:
                last_size, last_progress = size, now
            if rss > args.memory_limit_mb:
                verdict[0] = "memory"
            elif now - last_progress > args.hang_s:
                verdict[0] = "hang"
            if verdict[0] != "ok":
                os.killpg(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    if verdict[0] == "ok" and proc.returncode != 0:
        verdict[0] = "crash"
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    report = json.loads(out.decode().strip().splitlines()[-1]) if verdict[0] == "ok" else None
    return verdict[0], report, samples


def _file_on_trace(trace: Path) -> tuple[str | None, dict[str, tuple[float, float]]]:
    """The file a run died on (it raised, or never finished), and every file's (start, end)."""
    spans: dict[str, list[float]] = {}
    failed: list[str] = []
    for line in trace.read_text(errors="replace").splitlines():
        kind, when, relpath = line.split(" ", 2)
        if kind == "fail":
            failed.append(relpath)
        else:
            spans.setdefault(relpath, []).append(float(when))
    unfinished = [p for p, times in spans.items() if len(times) == 1]
    finished = {p: (t[0], t[1]) for p, t in spans.items() if len(t) == 2}
    culprits = failed + unfinished
    return (culprits[0] if culprits else None), finished


def corpus_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    folder = work / "corpus"
    shutil.copytree(args.corpus, folder, symlinks=True)
    _generate(folder)
    failures: list[dict[str, str]] = []
    peaks: dict[str, float] = {}
    seconds: dict[str, float] = {}
    overall_peak = 0.0
    data_dir = work / "data"  # kept across reruns: each continues where the last one died
    for attempt in range(args.max_reruns + 1):
        trace = work / f"trace-{attempt}.txt"
        verdict, report, samples = _run_child(args, folder, data_dir, trace)
        overall_peak = max([overall_peak, *(mb for _, mb in samples)])
        culprit, spans = _file_on_trace(trace)
        for relpath, (start, end) in spans.items():
            seconds[relpath] = end - start
            peaks[relpath] = max([mb for t, mb in samples if start - 0.05 <= t <= end + 0.05], default=0.0)
        if verdict == "ok":
            break
        print(f"run {attempt}: {verdict} on {culprit}", file=sys.stderr, flush=True)
        failures.append({"file": culprit or "?", "kind": verdict})
        if culprit is None:
            break
        (folder / culprit).unlink()
    assert report is not None, "the indexer never finished a run"
    tried = len(set(seconds) | {f["file"] for f in failures})
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:8]
    bombs = {p: round(peaks.get(p, 0.0)) for p in seconds if p.startswith("generated/")}
    reasons = Counter(re.split(r"[:(]", r)[0].strip() for r in report["skipped"].values())
    command = [args.python, "-m", "sorter_app.cli", "index", str(folder), "--json"]
    cli = subprocess.run(
        [*command, "--data-dir", str(work / "cli")],
        env={**os.environ, "PYTHONPATH": str(args.code)},
        cwd=work,  # not the checkout: `-m` would import its sorter_app whatever --code says
        capture_output=True,
        text=True,
    )
    return {
        "files_tried": tried,
        "crashes_hangs_memory": failures,
        "indexed": report["indexed"],
        "skipped": len(report["skipped"]),
        "reasons": dict(reasons.most_common(12)),
        "slowest_files_s": {p: round(s, 2) for p, s in slowest},
        "peak_tree_mb_overall": round(overall_peak),
        "peak_tree_mb_generated_cases": bombs,
        "cli_index_exit_code": cli.returncode,
        "cli_stderr_tail": cli.stderr.strip().splitlines()[-1:] if cli.returncode else [],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def empty_files_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    folder = work / "empty"
    folder.mkdir()
    for i in range(args.empty):
        (folder / f"{i:06d}.jpg").touch()
    env = {**os.environ, "PYTHONPATH": str(args.code)}
    command = [args.python, "-m", "sorter_app.cli", "index", str(folder), "--json", "--data-dir"]
    timings = []
    for _ in range(4):
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            [*command, str(work / "empty-data")], env=env, capture_output=True, text=True, cwd=work
        )
        wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
        seconds = json.loads(done.stdout)["seconds"] if done.returncode == 0 else None
        timings.append(
            {
                "exit": done.returncode,
                "index_seconds": seconds,
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),  # the whole command: start-up and JSON output too
            }
        )
    return {"files": args.empty, "first_index": timings[0], "reopens": timings[1:]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose sorter_app is run")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs it")
    parser.add_argument("--memory-limit-mb", type=float, default=6000)
    parser.add_argument("--hang-s", type=float, default=120, help="a file taking longer is a hang")
    parser.add_argument("--max-reruns", type=int, default=25)
    parser.add_argument("--empty", type=int, default=200_000, help="empty .jpg files for the re-open")
    parser.add_argument("--only", choices=["corpus", "empty"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        work = Path(tmp)
        if args.only in (None, "corpus"):
            print(json.dumps({"corpus": corpus_run(args, work)}, ensure_ascii=False), flush=True)
        if args.only in (None, "empty"):
            print(json.dumps({"empty_files": empty_files_run(args, work)}), flush=True)


if __name__ == "__main__":
    main()
