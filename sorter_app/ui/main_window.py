"""The main window. For now: drop or open a folder and watch it index, with progress and Cancel."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from ..core.indexer import CancelledFn, IndexReport, ProgressFn
from ..core.library import Library
from ..paths import AppPaths, bundled_model_sidecar
from .workers import Worker


class MainWindow(QMainWindow):
    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths.ensure()
        self.setWindowTitle("Image Sorter")
        self.setAcceptDrops(True)
        self.resize(900, 600)
        self._pool = QThreadPool.globalInstance()
        self._worker: Worker | None = None
        self._started = 0.0
        self.last_report: IndexReport | None = None

        self.message = QLabel("Drop a folder of photos here, or use File → Open Folder…")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_indexing)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignRight)
        self.setCentralWidget(central)
        self.setStatusBar(QStatusBar())

        open_action = QAction("&Open Folder…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_folder)
        self.menuBar().addMenu("&File").addAction(open_action)

    # opening ---------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            folder = Path(url.toLocalFile())
            if folder.is_dir():
                self.open_folder(folder)
                return

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        if self._worker is not None:
            self._worker.cancel()
        data_dir = self.paths.data_dir
        sidecar = bundled_model_sidecar()

        def run_index(progress: ProgressFn, cancelled: CancelledFn) -> IndexReport:
            with Library(data_dir, sidecar) as library:  # SQLite connections stay in their thread
                return library.index(folder, progress=progress, cancelled=cancelled)

        worker = Worker(run_index)
        worker.signals.progress.connect(self._on_progress)
        worker.signals.result.connect(self._on_indexed)
        worker.signals.error.connect(self._on_error)
        worker.signals.finished.connect(self._on_finished)
        self._worker = worker
        self._started = time.perf_counter()
        self.message.setText(f"Indexing {folder}…")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self._pool.start(worker)

    def cancel_indexing(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.statusBar().showMessage("Cancelling… finished images are kept")

    # worker signals (main thread) ------------------------------------------------------------

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        elapsed = time.perf_counter() - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        self.statusBar().showMessage(f"{done}/{total} images · {rate:.1f} images/s · {left:.0f} s left")

    def _on_indexed(self, report: IndexReport) -> None:
        self.last_report = report
        state = "Cancelled" if report.cancelled else "Indexed"
        self.message.setText(
            f"{state} {report.folder}\n{report.indexed} new, {report.reused} already known, "
            f"{len(report.skipped)} skipped"
        )

    def _on_error(self, message: str) -> None:
        QMessageBox.warning(self, "Image Sorter", message)

    def _on_finished(self) -> None:
        self._worker = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.statusBar().clearMessage()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._worker is not None:
            self._worker.cancel()
        self._pool.waitForDone(5000)
        super().closeEvent(event)
