"""The strip in the status bar that says what long task is running, how far along, and offers Cancel
— only for work that can stop."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..session.wording import INDEXING


def rate_text(done: int, total: int, seconds: float, unit: str = "") -> str:
    """'575/3000 · 148 images/s · 16 s left': the rate and the estimate come from the work so far."""
    text = f"{done:,}/{total:,}"
    if done > 0 and seconds > 0:
        rate = done / seconds
        text += f" · {rate:.0f}{unit}/s · {(total - done) / rate:.0f} s left"
    return text


PROGRESS_INTERVAL_S = 0.1


class ProgressStrip(QWidget):
    cancel_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(240)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; what is finished is kept")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._task = ""
        self._started = 0.0
        self._shown_at = 0.0  # when progress was last shown
        self.setVisible(False)

    def set_task(self, label: str, cancellable: bool = False) -> None:
        """A visible task started (or "" when none runs): show it, busy until progress says more."""
        if label != self._task:
            self._task = label
            self._started = time.perf_counter()
            self.bar.setRange(0, 0)
            self.label.setText(f"{label}…")
        self.cancel_button.setVisible(cancellable)
        self.setVisible(bool(label))

    def set_progress(self, label: str, done: int, total: int) -> None:
        """Shown at most every PROGRESS_INTERVAL_S (and always when the work is done).

        QProgressBar.setValue repaints at once, and an immediate repaint paints every part of the
        window waiting to be painted with it, such as a grid being scrolled: 200 map epochs cost
        the UI thread 200 extra grid paints, 21 ms each beside the busy workers. With updates off
        while the value is set, turning them on schedules an ordinary, merged update instead.
        """
        now = time.perf_counter()
        if label != self._task or (done < total and now - self._shown_at < PROGRESS_INTERVAL_S):
            return
        self._shown_at = now
        self.bar.setUpdatesEnabled(False)
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setUpdatesEnabled(True)
        unit = " images" if label == INDEXING else ""
        self.label.setText(f"{label} {rate_text(done, total, time.perf_counter() - self._started, unit)}")
