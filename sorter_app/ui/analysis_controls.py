"""The control an analysis page offers beside "Find again": how coarse the clusters are, how many of
the most unusual images to list, how alike an image must be to a seed — with the number of images
that threshold gathers, live while the slider moves (the groups follow when it is released).

Each control only sends the user's choice to the session (`session.analyses`) and shows what the
session says back; duplicates have none (their page has its own), the map neither.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QWidget

from ..core.clusters import RESOLUTIONS
from ..core.kinds import AnalysisKind
from ..session import Changes, Session
from ..session.wording import plural


class AnalysisControls(QWidget):
    def __init__(self, session: Session, kind: AnalysisKind) -> None:
        super().__init__()
        self.session = session
        self.kind = kind
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        analyses = session.analyses
        if kind is AnalysisKind.CLUSTERS:
            self.granularity = QComboBox()
            self.granularity.addItems(list(RESOLUTIONS))
            self.granularity.setCurrentText(analyses.granularity)
            self.granularity.setToolTip("Coarse makes few large clusters, fine many small ones")
            self.granularity.currentTextChanged.connect(analyses.set_granularity)
            layout.addWidget(self.granularity)
        elif kind is AnalysisKind.OUTLIERS:
            self.outlier_count = QSpinBox()
            self.outlier_count.setRange(1, 100_000)
            self.outlier_count.setPrefix("show ")
            self.outlier_count.setSuffix(" most unusual")
            self.outlier_count.setSpecialValueText("")
            self.outlier_count.setValue(10)
            self.outlier_count.setToolTip("How many of the most unusual images to list")
            self.outlier_count.valueChanged.connect(analyses.set_outlier_count)
            layout.addWidget(self.outlier_count)
        elif kind is AnalysisKind.SEED_GROUPS:
            self.threshold = QSlider(Qt.Orientation.Horizontal)
            self.threshold.setRange(0, 100)
            self.threshold.setValue(round(analyses.seed_threshold * 100))
            self.threshold.setMinimumWidth(160)
            self.threshold.setToolTip("How alike an image must be to a seed to join its group")
            self.threshold_label = QLabel()
            self.threshold.valueChanged.connect(self._threshold_moved)
            self.threshold.sliderReleased.connect(
                lambda: analyses.set_seed_threshold(self.threshold.value() / 100)
            )
            self.clear_seeds = QPushButton("Clear seeds")
            self.clear_seeds.setToolTip("Start again with no seeds")
            self.clear_seeds.clicked.connect(lambda: analyses.clear_seeds())
            for widget in (QLabel("Similarity ≥"), self.threshold, self.threshold_label, self.clear_seeds):
                layout.addWidget(widget)
            self._show_seed_count()

    def follow(self, changes: Changes) -> None:
        """The session changed: the seed count and the number of outliers shown say what it holds."""
        kind = self.kind
        if kind is AnalysisKind.SEED_GROUPS and (changes.seeds or kind in changes.groupings):
            self._show_seed_count()
        if kind is AnalysisKind.OUTLIERS and kind in changes.groupings:
            shown = sum(len(g.paths) for g in self.session.groups.grouping(kind).groups)
            if shown:
                self.outlier_count.blockSignals(True)
                self.outlier_count.setValue(shown)
                self.outlier_count.blockSignals(False)

    def _threshold_moved(self, value: int) -> None:
        """While the slider moves: the count it would gather, at once; the groups when released."""
        self._show_seed_count()
        if not self.threshold.isSliderDown():
            self.session.analyses.set_seed_threshold(value / 100)

    def _show_seed_count(self) -> None:
        threshold = self.threshold.value() / 100
        count = self.session.analyses.seed_count_at(threshold)
        self.threshold_label.setText(f"{threshold:.2f} → {plural(count, 'image')}")
