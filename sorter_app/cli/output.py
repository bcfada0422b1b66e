"""What every command shares: JSON or human output, a progress line, Ctrl-C as cancel."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..core.library import Library

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
Command = Callable[[Library, argparse.Namespace], int]


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    """`data` as JSON with --json, else `human`: lines in which every name went through `shown`."""
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else human)


# Characters that would break a line apart, move the cursor, recolour a terminal or reverse the
# text after them: control characters, line separators, bidirectional overrides.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def shown(name: object) -> str:
    """A file name (or any text from outside) safe for one line of human output.

    File names may hold newlines, escape sequences and the like; they are written as `\\n`,
    `\\x1b`, `\\u202e` (and a backslash as `\\\\`, so the escaping can be read back), one name
    per line as the output promises. JSON output needs none of this: JSON escapes them itself.
    """
    text = str(name)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    if 0xDC80 <= ord(ch) <= 0xDCFF:  # an undecodable byte, kept by the file system's decoding
        return f"\\x{ord(ch) - 0xDC00:02x}"
    if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch


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
