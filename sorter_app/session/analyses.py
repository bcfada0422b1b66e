"""Computing the views: duplicates, clusters, outliers, seed groups and the map.

Each is a cancellable job (Cancel takes effect at the core's next progress report; a cancelled
analysis says so and can be started again). Results arrive with the user's stored decisions laid
over them (choices.py). Seed groups and outliers are computed once per folder and then cut: the
seed threshold and the number of outliers shown change the view at once, without a job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..core import grouping as grouping_
from ..core.duplicates import NEAR_DUPLICATE_THRESHOLD
from ..core.grouping import Group, Grouping
from ..core.indexer import CancelledFn, ProgressFn
from ..core.kinds import AnalysisKind
from ..core.library import Library
from ..core.outliers import Outlier
from ..core.seed_groups import SEED_THRESHOLD
from .choices import apply_stored
from .events import Changes, analysis_changed
from .identity import follow
from .jobs import Job, stop_on_cancel
from .seeds import SeedScores, score_seeds
from .wording import ANALYSIS, analysis_summary

if TYPE_CHECKING:
    from .session import Session

MapPoints = tuple[NDArray[np.float32], list[str]]


@dataclass(frozen=True)
class AnalysisState:
    status: str  # "idle", "running", "done", "cancelled", "failed"
    text: str  # the page's line


class Analyses:
    clusters_kind = AnalysisKind.CLUSTERS

    def __init__(self, session: Session) -> None:
        self.s = session
        self.granularity = "medium"
        self.near_threshold = NEAR_DUPLICATE_THRESHOLD
        self.seed_threshold = SEED_THRESHOLD
        self.outlier_count: int | None = None  # None: 2 % of the folder, at least 10
        self.shown: set[AnalysisKind] = set()  # views on screen: computed as soon as they can be
        self.reset()

    def reset(self) -> None:
        self.states = {kind: AnalysisState("idle", ANALYSIS[kind].hint) for kind in AnalysisKind}
        self.seeds: list[str] = []
        self.seed_scores: SeedScores | None = None
        self.outlier_ranking: list[Outlier] = []
        self.map_points: MapPoints | None = None
        self.current: AnalysisKind | None = None  # the one analysis whose job is under way
        self.waiting: list[AnalysisKind] = []  # asked for while another ran: started in turn
        for kind in AnalysisKind:
            self.s.runner.cancel(kind.value)

    def _state(self, kind: AnalysisKind, status: str, text: str) -> None:
        self.states[kind] = AnalysisState(status, text)
        self.s.emit(analysis_changed(kind))

    def folder_loaded(self, *, recompute: bool) -> None:
        """Indexing finished: clusters name Browse's sort and colour the map, so they come first."""
        if recompute:
            for kind in AnalysisKind:
                if self.states[kind].status != "running":
                    self.states[kind] = AnalysisState("idle", ANALYSIS[kind].hint)
            self.compute(AnalysisKind.CLUSTERS)
        for kind in self.shown:
            self.ensure(kind)

    def show(self, kind: AnalysisKind | None) -> None:
        """The user looks at `kind`'s view: compute it unless done or under way."""
        self.shown = {kind} if kind is not None else set()
        if kind is not None:
            self.ensure(kind)

    def ensure(self, kind: AnalysisKind) -> None:
        if self.states[kind].status == "idle" and self.s.report is not None:
            self.compute(kind)

    def compute(self, kind: AnalysisKind) -> None:
        root = self.s.root
        no_seeds = kind is AnalysisKind.SEED_GROUPS and not self.seeds  # nothing to compute
        if kind in self.waiting and self.current is not None and not no_seeds:
            return  # already in the queue; it starts in turn
        if kind in self.waiting:
            self.waiting.remove(kind)
        if root is None or self.s.report is None:
            return
        if no_seeds:
            if self.current is kind:  # seeds cleared while their groups computed
                self.s.runner.cancel(kind.value)
                self.current = None
            self.s.groups.set_computed(kind, Grouping(kind, []))
            self._state(kind, "done", ANALYSIS[kind].empty)
            self._next()
            return
        busy = self.current if self.current is not kind else None
        if busy is not None:
            # One analysis at a time: two at once share 2 cores with the window and its thumbnail
            # decoders, and their starts (each reads the folder) kept the UI thread waiting for
            # the GIL (bench_ui's clusters + map phase). The map waits for the clusters it is
            # coloured by anyway.
            self.waiting.append(kind)
            words = ANALYSIS[kind]
            self._state(kind, "running", f"{words.running}… (after {ANALYSIS[busy].title.lower()})")
            return
        hash_of = self.s.hash_of()
        call: Any
        if kind is AnalysisKind.CLUSTERS:
            # The answers that name the clusters are worked out in the job, from a snapshot of the
            # items (label sources never change), not on the UI thread before the job starts; and
            # only while Leiden runs in its child, not in the job's first moments, which come just
            # as the window takes in a newly loaded folder.
            items, source, granularity = list(self.s.items.values()), self.s.labels, self.granularity

            def names() -> dict[str, str]:
                return {i.relpath: label for i in items if (label := source.best_label(i))}

            def call(lib: Library, p: ProgressFn, c: CancelledFn) -> Grouping:
                found = lib.clusters(
                    root, granularity, labels=names, broader=source.broader(), progress=stop_on_cancel(p, c)
                )
                return apply_stored(lib.catalog, grouping_.from_clustering(found), hash_of)

        elif kind is AnalysisKind.DUPLICATES:
            threshold, references = self.near_threshold, self.s.references

            def call(lib: Library, p: ProgressFn, c: CancelledFn) -> Grouping:
                found = lib.duplicate_tiers(
                    root, threshold, references=references, progress=stop_on_cancel(p, c)
                )
                return apply_stored(
                    lib.catalog, grouping_.from_duplicates(found.groups, found.similar), hash_of
                )

        elif kind is AnalysisKind.OUTLIERS:

            def call(lib: Library, p: ProgressFn, c: CancelledFn) -> list[Outlier]:
                return lib.outliers(root, progress=stop_on_cancel(p, c))

        elif kind is AnalysisKind.SEED_GROUPS:
            seeds = list(self.seeds)

            def call(lib: Library, p: ProgressFn, c: CancelledFn) -> SeedScores:
                return score_seeds(lib.folder_vectors(root), seeds)

        else:

            def call(lib: Library, p: ProgressFn, c: CancelledFn) -> MapPoints:
                return lib.map_2d(root, progress=p, cancelled=c)

        words = ANALYSIS[kind]
        self._state(kind, "running", f"{words.running}…")
        self.current = kind
        self.s.run(
            Job(
                kind.value,
                call,
                lambda result: self._computed(kind, result),
                label=words.running,
                cancellable=True,
                after_pending=True,  # after the window has drawn what asked for it (a loaded folder)
                failed=lambda message: self._failed(kind, message),
                stopped=lambda: self._stopped(kind),
            )
        )

    def _failed(self, kind: AnalysisKind, message: str) -> None:
        with self._ending(kind):
            self._state(kind, "failed", f"Could not compute: {message}")
            self.s.failed.emit((ANALYSIS[kind].running, message))

    def _stopped(self, kind: AnalysisKind) -> None:
        with self._ending(kind):
            self._state(kind, "cancelled", f"{ANALYSIS[kind].title}: cancelled. Compute again when you like.")

    def _computed(self, kind: AnalysisKind, result: Any) -> None:
        with self._ending(kind):
            if kind is AnalysisKind.MAP:
                self.map_points = result
                self._state(kind, "done", "")
                return
            if kind is AnalysisKind.OUTLIERS:
                self.outlier_ranking = result
                result = grouping_.from_outliers(self.outlier_ranking, self.outlier_count)
            elif kind is AnalysisKind.SEED_GROUPS:
                self.seed_scores = result
                result = result.grouping_at(self.seed_threshold)
            self._set(kind, result)

    @contextlib.contextmanager
    def _ending(self, kind: AnalysisKind) -> Iterator[None]:
        """`kind`'s job ended (done, failed or stopped): whatever its view does with that, even
        raising, the analyses waiting for it start afterwards."""
        if self.current is kind:
            self.current = None
        try:
            yield
        finally:
            self._next()

    def _next(self) -> None:
        """An analysis ended: the ones waiting start in turn, until one is under way."""
        while self.waiting and self.current is None:
            self.compute(self.waiting[0])

    def _set(self, kind: AnalysisKind, grouping: Grouping) -> None:
        self.s.groups.set_computed(kind, grouping)
        self._state(kind, "done", _summary_of(kind, grouping))
        if kind is AnalysisKind.CLUSTERS:
            self.s.clusters_changed()

    def summary(self, kind: AnalysisKind) -> str:
        """The page's line: the analysis' state, and once it is done, what its groups hold now
        (an edit, a trash or an undo changes them; the count said when it finished went stale)."""
        state = self.states[kind]
        return _summary_of(kind, self.s.groups.grouping(kind)) if state.status == "done" else state.text

    # settings the views change ------------------------------------------------------------------

    def set_granularity(self, granularity: str) -> None:
        if granularity != self.granularity:
            self.granularity = granularity
            self.compute(AnalysisKind.CLUSTERS)

    def recompute_duplicates(self) -> None:
        if self.states[AnalysisKind.DUPLICATES].status != "idle":
            self.compute(AnalysisKind.DUPLICATES)

    def add_seeds(self, relpaths: list[str]) -> None:
        self.seeds += [p for p in relpaths if p not in self.seeds]
        self.s.emit(Changes(seeds=True))
        self.compute(AnalysisKind.SEED_GROUPS)

    def follow_seeds(self, hash_before: Mapping[str, str], paths_now: Mapping[str, Sequence[str]]) -> None:
        """Files moved: the seeds follow their contents as groups do, and a seed whose file went
        (to the trash, out of the folder) is let go. One left behind made every later seed group
        fail: "seed not in the index" (a monkey test's find)."""
        if not self.seeds:
            return
        as_group = Grouping(grouping_.SEED_GROUPS, [Group("seeds", "", list(self.seeds))])
        followed = follow(as_group, hash_before, paths_now)
        seeds = followed.groups[0].paths if followed.groups else []
        if seeds != self.seeds:
            self.seeds = seeds
            self.seed_scores = None
            self.s.emit(Changes(seeds=True))
            self.compute(AnalysisKind.SEED_GROUPS)

    def clear_seeds(self) -> None:
        self.seeds = []
        self.seed_scores = None
        self.s.emit(Changes(seeds=True))
        self.compute(AnalysisKind.SEED_GROUPS)

    def seed_count_at(self, threshold: float) -> int:
        return self.seed_scores.count_at(threshold) if self.seed_scores is not None else 0

    def set_seed_threshold(self, threshold: float) -> None:
        self.seed_threshold = threshold
        if self.seed_scores is not None:
            self._set(AnalysisKind.SEED_GROUPS, self.seed_scores.grouping_at(threshold))
        self.s.emit(Changes(seeds=True))

    def set_outlier_count(self, count: int) -> None:
        self.outlier_count = count
        if self.outlier_ranking:
            self._set(AnalysisKind.OUTLIERS, grouping_.from_outliers(self.outlier_ranking, count))

    def cluster_numbers(self, relpaths: list[str]) -> list[int]:
        """Each image's cluster as a colour index; -1 for unsorted or not yet clustered."""
        number = {
            p: i
            for i, g in enumerate(self.s.groups.grouping(AnalysisKind.CLUSTERS).groups)
            if g.key != grouping_.UNSORTED
            for p in g.paths
        }
        return [number.get(p, -1) for p in relpaths]


def _summary_of(kind: AnalysisKind, grouping: Grouping) -> str:
    shown = [g for g in grouping.groups if g.tier not in grouping_.NOT_FOR_TRASH]
    if not grouping.groups:
        return ANALYSIS[kind].empty
    images = sum(len(g.paths) for g in shown)
    return analysis_summary(kind, len(shown), images, alike=len(grouping.groups) - len(shown))
