"""How the window's process runs Python: short turns at the GIL for the UI thread, and long-lived
objects kept out of the cyclic collector's way. Set once at start-up by `sorter-gui` (and the UI
benchmarks); tests leave the interpreter as it is."""

from __future__ import annotations

import gc
import sys

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Worker
# threads run Python loops (clustering, predictions); with three of them and the UI thread waiting,
# 5-ms turns added up to 100+ ms stalls of the event loop in benchmarks/bench_ui.py. The UI thread
# gives the GIL up at every QPainter call and at many other Qt calls, and waits up to this long to
# get it back each time: 400 fillRect calls beside two busy workers took 19 ms (63 at worst) at
# 1 ms, 15.5 (21 at worst) at 0.2 ms, 0.9 alone. bench_ui on a quiet machine held the 50-ms budget
# in 3 of 5 runs at 0.2 ms and 2 of 5 at 1 ms; indexing went no slower (110–113 images/s).
GIL_SWITCH_INTERVAL_S = 0.0002


def tune_interpreter() -> None:
    """Keep the UI thread's turns at the GIL short, and start-up objects out of the collector's way.

    A full collection over the ~40,000 objects start-up allocates (Qt wrappers, modules) took
    8–11 ms on the UI thread; frozen, they are never scanned again. From here on each folder's
    items are frozen once loaded too (`folder_loaded`).
    """
    global _freeze_loaded_folders
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    _freeze_loaded_folders = True


_freeze_loaded_folders = False


def folder_loaded() -> None:
    """A folder's items were (re)loaded: they live until the next load, so the collector need not
    scan them again. A full collection ran 21–24 ms in bench_ui's retrain phase, on whichever
    thread allocated (the UI thread waiting for the GIL meanwhile); objects alive now are frozen.
    Items die by reference counting when replaced, frozen or not; only reference cycles alive at
    this moment and dead later are never collected, and a folder load is a rare event."""
    if _freeze_loaded_folders:
        gc.freeze()
