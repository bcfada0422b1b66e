"""`sorter`: the headless, scriptable face of the core. Every command takes --json.

Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage error, 130 cancelled by Ctrl-C (what was
finished is kept).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .core.errors import SorterError
from .core.indexer import IndexReport
from .core.library import Library
from .paths import AppPaths, bundled_model_sidecar

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the catalog and indexes live (default: $SORTER_DATA_DIR "
        "or the platform's user data folder)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="sorter", description="Sort a folder of photos by what is in them.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="index (or update) a folder of images")
    index.add_argument("folder", type=Path)

    similar = commands.add_parser("similar", parents=[common], help="the images most like one image")
    similar.add_argument("folder", type=Path)
    similar.add_argument("image", type=Path)
    similar.add_argument("-k", type=int, default=24, help="how many neighbours (default 24)")

    status = commands.add_parser("status", parents=[common], help="what is indexed, with which model")
    status.add_argument("folder", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "k", 1) < 1:
        print("sorter: error: -k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    paths = AppPaths.default(args.data_dir).ensure()
    try:
        with Library(paths.data_dir, bundled_model_sidecar()) as library:
            command: Callable[[Library, argparse.Namespace], int] = _COMMANDS[args.command]
            return command(library, args)
    except SorterError as exc:
        print(f"sorter: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else human)


def _cmd_index(library: Library, args: argparse.Namespace) -> int:
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        report = library.index(args.folder, progress=_progress_printer(), cancelled=lambda: interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
    _emit(args, _index_json(report), _index_text(report))
    return EXIT_CANCELLED if report.cancelled else EXIT_OK


def _progress_printer() -> Callable[[int, int], None] | None:
    """A one-line progress display, only for a person watching a terminal."""
    if not sys.stderr.isatty():
        return None
    started = time.perf_counter()
    last = 0.0

    def show(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if done < total and now - last < 0.2:
            return
        last = now
        rate = done / (now - started) if now > started else 0.0
        end = "\n" if done >= total else ""
        print(f"\rindexing {done}/{total}  {rate:5.1f} images/s", end=end, file=sys.stderr, flush=True)

    return show


def _index_json(report: IndexReport) -> dict[str, Any]:
    root = Path(report.folder)
    return {
        "folder": report.folder,
        "indexed": report.indexed,
        "reused": report.reused,
        "removed": report.removed,
        "skipped": [{"path": str(root / p.relpath), "reason": p.reason} for p in report.skipped],
        "seconds": round(report.seconds, 3),
        "images_per_second": round(report.images_per_second, 2),
        "cancelled": report.cancelled,
    }


def _index_text(report: IndexReport) -> str:
    lines = [
        f"{report.folder}: {report.indexed} indexed, {report.reused} reused, {report.removed} removed, "
        f"{len(report.skipped)} skipped in {report.seconds:.1f} s ({report.images_per_second:.1f} images/s)"
    ]
    if report.cancelled:
        lines.append("cancelled: what was finished is kept; run again to continue")
    lines += [f"  skipped {p.relpath}: {p.reason}" for p in report.skipped]
    return "\n".join(lines)


def _cmd_similar(library: Library, args: argparse.Namespace) -> int:
    root = args.folder.expanduser().resolve()
    neighbours = library.similar(root, args.image, args.k)
    data = [{"path": str(root / n.relpath), "similarity": round(n.similarity, 4)} for n in neighbours]
    _emit(args, data, "\n".join(f"{n.similarity:.3f}  {root / n.relpath}" for n in neighbours))
    return EXIT_OK


def _cmd_status(library: Library, args: argparse.Namespace) -> int:
    status = library.status(args.folder)
    data = {
        "folder": status.folder,
        "model_id": status.model_id,
        "indexed_with": status.indexed_with,
        "indexed_at": status.indexed_at,
        "files": status.files,
        "usable": status.usable,
        "distinct": status.distinct,
        "errors": status.errors,
        "search": status.search,
        "annoy_items": status.annoy_items,
    }
    when = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(status.indexed_at)) if status.indexed_at else "never"
    )
    human = (
        f"{status.folder}\n  model {status.model_id} (last indexed {when} with {status.indexed_with})\n"
        f"  {status.files} files: {status.usable} usable ({status.distinct} distinct), "
        f"{status.errors} skipped\n"
        f"  search: {status.search}" + (f" ({status.annoy_items} items)" if status.annoy_items else "")
    )
    _emit(args, data, human)
    return EXIT_OK


_COMMANDS: dict[str, Callable[[Library, argparse.Namespace], int]] = {
    "index": _cmd_index,
    "similar": _cmd_similar,
    "status": _cmd_status,
}

if __name__ == "__main__":
    sys.exit(main())
