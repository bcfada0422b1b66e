"""Guards against a PySide6 defect that crashed long indexing runs.

PySide6 6.12.0's `Signal.emit()` releases a reference to `True` it never took. Each progress
signal costs one reference, and after a few thousand images Python 3.11 aborts with
"deallocating True or False". pyproject excludes that release; this test fails on any PySide6
with the same defect.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    progress = Signal(int, int)


def test_emit_keeps_reference_counts_balanced() -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.progress.connect(lambda done, total: received.append(done))
    emits = 200
    before = sys.getrefcount(True)
    for i in range(emits):
        emitter.progress.emit(i, emits)
    lost = before - sys.getrefcount(True)  # measured before any assert creates temporaries
    assert len(received) == emits
    assert lost < emits // 4, f"Signal.emit() lost {lost} references to True in {emits} calls"
