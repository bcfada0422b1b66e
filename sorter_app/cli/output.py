"""What every command shares: JSON or human output, a progress line, Ctrl-C as cancel."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..core.library import Library

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
Command = Callable[[Library, argparse.Namespace], int]


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else human)


def folder_of(args: argparse.Namespace) -> Path:
    return Path(args.folder).expanduser().resolve()


@contextlib.contextmanager
def ctrl_c_cancels() -> Iterator[Callable[[], bool]]:
    """Ctrl-C asks long work to stop between items instead of killing it mid-file."""
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def progress_printer(what: str) -> Callable[[int, int], None] | None:
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
        print(f"\r{what} {done}/{total}  {rate:5.1f}/s", end=end, file=sys.stderr, flush=True)

    return show
