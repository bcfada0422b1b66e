"""The analysis pages and their tabs: which analysis each tab shows, computed when it is looked at.

Duplicates, outliers, seed groups and the map are computed the first time their tab is shown (and
again after a folder opens while they are shown); clusters right after indexing, because they name
Browse's cluster sort and colour the map. The pages render the session; this controller only
builds them and tells the session which view is on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget, QWidget

from ..core.kinds import AnalysisKind, MoveMode
from ..session import Session
from ..session.wording import ANALYSIS
from .browse_page import BrowsePage
from .duplicates_page import DuplicatesPage
from .groups_page import GroupsPage
from .image_grid import ImageGridView
from .map_page import MapPage
from .similar_page import SimilarPage
from .thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from .moves import MovesController


class AnalysesController(QObject):
    def __init__(self, session: Session, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.browse = BrowsePage(session, thumbnails)
        self.similar = SimilarPage(session, thumbnails)
        self.duplicates = DuplicatesPage(session, thumbnails)
        self.pages: dict[AnalysisKind, GroupsPage] = {
            AnalysisKind.DUPLICATES: self.duplicates,
            AnalysisKind.CLUSTERS: GroupsPage(session, AnalysisKind.CLUSTERS, thumbnails),
            AnalysisKind.OUTLIERS: GroupsPage(session, AnalysisKind.OUTLIERS, thumbnails),
            AnalysisKind.SEED_GROUPS: GroupsPage(session, AnalysisKind.SEED_GROUPS, thumbnails),
        }
        self.map = MapPage(session, thumbnails)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.browse, "Browse")
        self.tabs.addTab(self.similar, "Similar")
        for kind, page in self.pages.items():
            self.tabs.addTab(page, ANALYSIS[kind].title)
        self.tabs.addTab(self.map, ANALYSIS[AnalysisKind.MAP].title)
        self.tabs.setTabToolTip(0, "Every image, organised by folder, name, cluster or label")
        self.tabs.setTabToolTip(1, "The images most like one you pick")
        for i, kind in enumerate([*self.pages, AnalysisKind.MAP], start=2):
            self.tabs.setTabToolTip(i, ANALYSIS[kind].hint)
        self.tabs.currentChanged.connect(lambda _: session.analyses.show(self.current_kind()))

    def connect_moves(self, moves: MovesController) -> None:
        for kind, page in self.pages.items():
            page.act_requested.connect(lambda mode, k=kind: moves.act_on(k, mode))
            moves.attach(page.member_grid)
        self.map.act_requested.connect(lambda mode, relpaths: moves.act_on_lasso(MoveMode(mode), relpaths))
        moves.attach(self.browse.grid, browse=True)
        moves.attach(self.similar.grid)
        moves.attach(self.map.selection_grid)

    def current_kind(self) -> AnalysisKind | None:
        page: QWidget = self.tabs.currentWidget()
        if page is self.map:
            return AnalysisKind.MAP
        return next((kind for kind, p in self.pages.items() if p is page), None)

    def grids(self) -> list[ImageGridView]:
        return [self.browse.grid, self.similar.grid, self.map.selection_grid] + [
            p.member_grid for p in self.pages.values()
        ]
