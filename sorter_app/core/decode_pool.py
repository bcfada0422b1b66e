"""Decode untrusted files in worker processes: a crash, a hang or a memory blow-up costs one file.

Pillow, libtiff, libheif, LibRaw and libjxl parse hostile bytes in C, C++ and Rust. Thread-level
guards (size checks, exception handling) bound what we can foresee, but not a decoder that loops,
allocates without limit or segfaults — in a thread, the last ends the whole run, every time it
meets that file. So each decode runs in a worker process with an address-space limit, and a
worker that dies or overruns its deadline is killed and replaced; the file gets a reason instead.

The pool is used from several threads at once (the indexer's decode threads): each call borrows
one idle worker, so there are as many workers as threads and no call waits for another's file.
Workers start lazily, forked from a small server process (`forkserver`) that imported the decode
code once (`decode_worker.py`), so a new worker costs milliseconds, and none starts when a folder
has nothing to decode. The server itself is started ahead of need (`start_server`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from .child_process import below_the_app

T = TypeVar("T")

# Most CPU time one file may take to decode. A 33-MP 10-bit HEIC, the slowest real photo met,
# takes ~4 s of one core; a decoder stuck in a loop is given up on after this. CPU time, not wall
# time: on a busy machine a big photo may take a minute of wall time and is still fine.
CPU_LIMIT_S = 15
# Wall-clock backstop, for a decoder that hangs without using the CPU.
DEADLINE_S = 60.0
# Address space a worker may add to what it has once started: the largest accepted image (120 MP
# of RGBA, 480 MB) and its conversions fit; an allocation beyond fails as MemoryError, or kills
# only the worker.
MEMORY_LIMIT_BYTES = 2 * 1024**3

# Modules every worker needs, imported once by the fork server.
_PRELOAD = ["sorter_app.core.decode_worker"]


class DecodeError(Exception):
    """A worker died or overran its deadline on one file; the message is that file's reason."""


def _context() -> BaseContext:
    """forkserver where there is one (Linux, macOS): no fork of a threaded parent, fast starts."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def start_server() -> None:
    """Start the fork server (and the resource tracker it needs) now instead of at the first
    decode, from whichever thread asks first.

    Its start is a new interpreter importing the decode code: ~0.15 s before the first worker can
    exist. The window starts it before any folder is open, and indexing before the folder walk, so
    that it overlaps work instead of delaying the first file. Traced stalls of the window's UI
    thread at the start of indexing (benchmarks/bench_ui.py) had a decode thread starting it.
    Idempotent and cheap once running; nothing on platforms without a fork server. Only a head
    start: where the server cannot start now (no process or descriptor left), the first decode
    tries again and reports what fails then."""
    if _context().get_start_method() == "forkserver":  # _context() sets the server's preload
        from multiprocessing import forkserver

        with contextlib.suppress(OSError):
            forkserver.ensure_running()


class _Worker:
    def __init__(self, ctx: BaseContext, memory_bytes: int, cpu_seconds: int) -> None:
        self.cpu_seconds = cpu_seconds
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, memory_bytes, cpu_seconds), name="sorter-decode", daemon=True
        )
        self.process.start()
        child.close()

    def call(self, fn: Callable[..., T], args: tuple[Any, ...], deadline_s: float) -> T:
        try:
            self.conn.send((fn, args))
            if not self.conn.poll(deadline_s):
                raise DecodeError(f"gave up after {deadline_s:.0f} s: the decoder did not finish")
            ok, value = self.conn.recv()
        except (EOFError, OSError):
            raise DecodeError(self._death()) from None
        if not ok:
            raise DecodeError(f"decoder failed: {value}")
        result: T = value
        return result

    def _death(self) -> str:
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        if code == -signal.SIGXCPU:
            return f"gave up: decoding took more than {self.cpu_seconds} s of CPU time"
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the decoder crashed on this file ({name})"
        return f"the decoder stopped on this file (exit code {code})"

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5.0)
        self.conn.close()


class DecodePool:
    """Up to `workers` worker processes; `call(fn, *args)` runs `fn(*args)` in one of them."""

    def __init__(
        self,
        workers: int,
        *,
        deadline_s: float = DEADLINE_S,
        cpu_seconds: int = CPU_LIMIT_S,
        memory_bytes: int = MEMORY_LIMIT_BYTES,
    ) -> None:
        self._deadline_s = deadline_s
        self._cpu_seconds = cpu_seconds
        self._memory_bytes = memory_bytes
        self._ctx = _context()
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._started: list[_Worker] = []
        self._closed = False
        for _ in range(workers):
            self._idle.put(None)  # a slot: its worker starts when first needed

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker; DecodeError if the worker dies or overruns the deadline.

        `fn` must be a module-level function (it is sent by name) that does its own error
        handling: whatever it returns or raises comes back here.
        """
        worker = self._idle.get()
        if self._closed:
            self._idle.put(worker)
            raise DecodeError("cancelled")
        if worker is None:
            worker = _Worker(self._ctx, self._memory_bytes, self._cpu_seconds)
            self._started.append(worker)
        try:
            result = worker.call(fn, args, self._deadline_s)
        except DecodeError:
            worker.stop()
            self._idle.put(None)
            raise
        self._idle.put(worker)
        return result

    def worker_pids(self) -> list[int]:
        """The processes started so far (for measuring them)."""
        return [w.process.pid for w in self._started if w.process.pid is not None]

    def close(self) -> None:
        """Stop every worker, including one still busy with a file (a cancelled run)."""
        self._closed = True
        for worker in self._started:
            with contextlib.suppress(OSError):
                worker.stop()
        self._started.clear()

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Connection, memory_bytes: int, cpu_seconds: int) -> None:
    """A worker's life: run each (fn, args) it is sent and send back (ok, result or message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C cancels the run; the parent stops us
    below_the_app()  # a window's UI thread gets a core before a decode does
    _limit_memory(memory_bytes)
    _set_limit("RLIMIT_CORE", 0)  # a decoder that crashes leaves no core file in the user's folder
    _quiet()
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        _limit_cpu(cpu_seconds)
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except MemoryError:
            reply = (False, "not enough memory")
        except Exception as exc:
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # a result that cannot be sent back (pickling, memory)
            conn.send((False, f"{type(exc).__name__}: {exc}"))


def _quiet() -> None:
    """A worker says what went wrong with a file in its reply, which becomes the file's reason: its
    decoders' own complaints (Pillow's warnings, libtiff's and LibRaw's lines on stderr) would only
    flood the terminal of `sorter index` (450 KB over a corpus of damaged files). SORTER_DEBUG keeps
    them."""
    if os.environ.get("SORTER_DEBUG"):
        return
    warnings.simplefilter("ignore")
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _limit_cpu(seconds: int) -> None:
    """SIGXCPU (which ends this worker) once this call has used `seconds` more of CPU time."""
    try:
        import resource
    except ImportError:  # Windows: the wall-clock deadline still applies
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _set_limit("RLIMIT_CPU", int(usage.ru_utime + usage.ru_stime) + seconds + 1)


def _set_limit(name: str, soft: int) -> None:
    """Set a soft resource limit (within the hard one) where the platform has it."""
    try:
        import resource

        which = getattr(resource, name)
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    except (ImportError, AttributeError, ValueError, OSError):
        return


def _limit_memory(extra_bytes: int) -> None:
    """Cap this process's address space at what it uses now plus `extra_bytes` (Linux, BSD)."""
    try:
        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        used = 0
    _set_limit("RLIMIT_AS", used + extra_bytes)
