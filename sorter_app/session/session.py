"""One open folder's state, without Qt: what every view of the window renders and commands.

The session holds the images (listed at once, indexed as indexing goes), Browse's filter and sort,
the groupings of every analysis with the user's edits, the undo history, and the user's stored
decisions. Views read it and call its commands; it tells them what changed (`changed`, a
`Changes`). Work that takes time is a `Job` handed to a runner (a thread pool in the window, the
calling thread in tests), so the session itself never waits.

Parts: `GroupEditor` (edits and undo of groups, groups.py), `Analyses` (computing them,
analyses.py), `FileOps` (plans, moves, undo of moves, hand-off, files.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from ..core import user_choices
from ..core.browse import (
    BrowseFilter,
    BrowseItem,
    apply_filter,
    natural_key,
    section_of,
    sort_items,
    subfolders,
)
from ..core.folder_index import Neighbour
from ..core.grouping import group_of
from ..core.indexer import CancelledFn, IndexReport
from ..core.label_source import LabelSource, ModelLabels
from ..core.library import Library
from ..core.ratings import UNRATED
from ..core.scan import Problem, ScanResult, scan_folder
from .analyses import Analyses
from .corrections import Corrections
from .events import Changes, Event
from .files import FileOps
from .groups import GroupEditor
from .image_labels import ImageLabels
from .jobs import Job, JobRunner
from .label_files import LabelFiles
from .labels import LabelSets
from .ratings import Ratings
from .wording import INDEXING, LOADING

T = TypeVar("T")

NEIGHBOURS = 24
# Work that belongs to one folder: opening another makes it obsolete.
FOLDER_SLOTS = ("list", "index", "load", "similar", "details")


@dataclass(frozen=True)
class ImageFacts:
    """What the catalog knows about a file; width, height and format are None until decoded."""

    size: int
    mtime_ns: int
    width: int | None
    height: int | None
    format: str | None


@dataclass(frozen=True)
class SimilarResult:
    query: str  # absolute path
    neighbours: list[Neighbour]
    error: str = ""


@dataclass(frozen=True)
class Loaded:
    items: list[BrowseItem]
    labels: LabelSource
    references: list[str]


class Session:
    def __init__(self, runner: JobRunner, data_dir: Path) -> None:
        self.runner = runner
        self.data_dir = data_dir  # excluded from listings: it may lie inside the folder
        self.changed: Event[Changes] = Event()
        self.message: Event[str] = Event()  # one line for the status bar
        self.failed: Event[tuple[str, str]] = Event()  # (what, why)
        self.similar_found: Event[SimilarResult] = Event()
        self.details_found: Event[tuple[str, ImageFacts]] = Event()
        self.root: Path | None = None
        self.report: IndexReport | None = None
        self.skipped: list[Problem] = []
        self.items: dict[str, BrowseItem] = {}  # relpath → item; listed ones have no hash yet
        self.cluster_names: dict[str, str] = {}  # relpath → its cluster's name, for images in one
        self.model_labels: LabelSource = ModelLabels(None)  # the model's heads: what "This is…" corrects
        self.labels: LabelSource = self.model_labels  # what Browse shows: the model's, or a label set's
        self.filter = BrowseFilter()
        self.sort = "name"
        self.reference_folders: list[str] = []  # absolute
        self.indexing_incomplete = False  # cancelled before the end: Resume is offered
        self.groups = GroupEditor(self)
        self.analyses = Analyses(self)
        self.files = FileOps(self)
        self.label_sets = LabelSets(self)
        self.label_files = LabelFiles(self)
        self.image_labels = ImageLabels(self)
        self.corrections = Corrections(self)
        self.ratings = Ratings(self)

    # helpers the parts share ----------------------------------------------------------------------

    def run(self, job: Job[T]) -> None:
        if job.failed is None:
            job = replace(job, failed=lambda message: self.failed.emit((job.label or job.slot, message)))
        self.runner.run(job)

    def emit(self, changes: Changes) -> None:
        self.changed.emit(changes)

    def relpath(self, path: str | Path) -> str:
        assert self.root is not None
        return Path(path).relative_to(self.root).as_posix()

    def absolute(self, relpath: str) -> str:
        assert self.root is not None
        return f"{self.root}/{relpath}"

    def hash_of(self) -> dict[str, str]:
        return {p: i.content_hash for p, i in self.items.items() if i.content_hash}

    def paths_by_hash(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for path, item in sorted(self.items.items()):
            if item.content_hash:
                found.setdefault(item.content_hash, []).append(path)
        return found

    @property
    def references(self) -> list[str]:
        """Reference folders inside this folder, as relpaths ('' = all of it)."""
        if self.root is None:
            return []
        inside = []
        for folder in self.reference_folders:
            try:
                inside.append(Path(folder).relative_to(self.root).as_posix().removeprefix("."))
            except ValueError:
                continue
        return inside

    # opening and indexing ----------------------------------------------------------------------

    def open_folder(self, folder: Path) -> None:
        """Another folder: every view starts over, Browse's filter too (it belonged to the old one)."""
        root = folder.expanduser().resolve()
        if not root.is_dir():
            self.failed.emit(("Open", f"not a folder: {root}"))
            return
        if self.files.recovering:  # an interrupted move must be put right before the folder is read
            self.files.pending_open = root
            return
        for slot in FOLDER_SLOTS:
            self.runner.cancel(slot)
        self.root = root
        self.report = None
        self.skipped = []
        self.items = {}
        self.cluster_names = {}
        self.filter = BrowseFilter()
        self.indexing_incomplete = False
        self.groups.reset()
        self.analyses.reset()
        self.label_sets.reset()
        self.emit(Changes(folder=True, items=True, filter=True, skipped=True, history=True, indexing=True))
        self.run(Job("list", lambda lib, p, c: _scanned_and_keyed(root, self.data_dir, c), self._listed))
        self._index(root)

    def resume_indexing(self) -> None:
        if self.root is not None:
            self._index(self.root)

    def refresh(self) -> None:
        """Files moved (a move, copy, trash or undo): index again (a stat walk: the catalog followed
        them), then let every grouping follow its members' contents. Nothing is computed again."""
        if self.root is not None:
            self._index(self.root, after_files_changed=True)

    def _index(self, root: Path, *, after_files_changed: bool = False) -> None:
        self.run(
            Job(
                "index",
                lambda lib, p, c: lib.index(root, progress=p, cancelled=c),
                lambda report: self._indexed(report, after_files_changed),
                label=INDEXING,
                cancellable=True,
            )
        )

    def _listed(self, scan: ScanResult) -> None:
        new = {f.relpath: BrowseItem(f.relpath, f.size, f.mtime_ns, None) for f in scan.files}
        self.items = {**new, **{p: i for p, i in self.items.items() if i.content_hash}}
        self.emit(Changes(items=True))

    def _indexed(self, report: IndexReport, after_files_changed: bool) -> None:
        self.report = report
        self.skipped = list(report.skipped)
        self.indexing_incomplete = report.cancelled
        if not after_files_changed:  # after a move the move's own message says what happened
            state = "Indexing cancelled; kept" if report.cancelled else "Indexed"
            self.message.emit(
                f"{state} {report.folder}: {report.indexed} new, {report.reused} already known, "
                f"{len(report.skipped)} skipped"
            )
        self.emit(Changes(skipped=True, indexing=True))
        self._load(after_files_changed)

    def _load(self, after_files_changed: bool = False) -> None:
        root = self.root
        assert root is not None

        def load(lib: Library, progress: object, cancelled: object) -> Loaded:
            lib.prepare_similar(root)  # a click on an image asks for its neighbours
            labels = ModelLabels(lib.spec)
            return Loaded(lib.browse_items(root), labels, user_choices.reference_folders(lib.catalog))

        self.run(Job("load", load, lambda loaded: self._loaded(loaded, after_files_changed), label=LOADING))

    def _loaded(self, loaded: Loaded, after_files_changed: bool) -> None:
        hash_before = self.hash_of() if after_files_changed else {}
        indexed = {i.relpath: i for i in loaded.items}
        if after_files_changed:
            self.items = indexed
        else:  # images listed but not indexed (a cancelled run) stay in view, without labels
            skipped = {problem.relpath for problem in self.skipped}
            waiting = {p: i for p, i in self.items.items() if p not in indexed and p not in skipped}
            self.items = {**waiting, **indexed}
        self.model_labels = loaded.labels
        self.use_label_source(announce=False)
        self.reference_folders = loaded.references
        # A Cancel during the folder walk ends the run before the report can say so: what counts
        # is whether every image that is not skipped was indexed.
        self.indexing_incomplete = any(not i.content_hash for i in self.items.values())
        if after_files_changed:
            paths_now = self.paths_by_hash()
            self.groups.follow_files(hash_before, paths_now)
            self.analyses.follow_seeds(hash_before, paths_now)
        self._name_clusters()
        self.emit(Changes(items=True, filter=True, indexing=True))
        self.analyses.folder_loaded(recompute=not after_files_changed)
        self.label_sets.folder_loaded()

    def use_label_source(self, *, announce: bool = True) -> None:
        """Browse shows the active label set's answers when the user chose it, else the model's;
        a label filter the new source does not offer is dropped."""
        self.labels = self.label_sets.source() or self.model_labels
        if self.filter.label is not None and self.filter.label not in self.labels.choices():
            self.filter = replace(self.filter, label=None)
            if announce:
                self.emit(Changes(filter=True))

    def _name_clusters(self) -> None:
        """Each image's cluster name, for Browse's cluster sort, headers and tooltips. Kept beside
        the items, not in them: new clusters would otherwise make a new item per image on the UI
        thread (a million of them in a big folder, with the old ones still held)."""
        self.cluster_names = group_of(self.groups.grouping(self.analyses.clusters_kind))

    def clusters_changed(self) -> None:
        self._name_clusters()
        self.emit(Changes(items=True))

    # Browse -----------------------------------------------------------------------------------

    def set_filter(self, chosen: BrowseFilter) -> None:
        if chosen != self.filter:
            self.filter = chosen
            self.emit(Changes(filter=True))

    def set_sort(self, key: str) -> None:
        if key != self.sort:
            self.sort = key
            self.emit(Changes(filter=True))

    def visible_items(self) -> list[BrowseItem]:
        shown = apply_filter(self.items.values(), self.filter, self.labels)
        return sort_items(shown, self.sort, self.labels, self.cluster_names)

    def section(self, item: BrowseItem) -> str | None:
        return section_of(item, self.sort, self.labels, self.cluster_names)

    def subfolders(self) -> dict[str, int]:
        return subfolders(self.items.values())

    # queries --------------------------------------------------------------------------------------

    def find_similar(self, path: str) -> None:
        root = self.root
        if root is None:
            return
        self.run(
            Job(
                "similar",
                lambda lib, p, c: lib.similar(root, Path(path), NEIGHBOURS),
                lambda found: self.similar_found.emit(SimilarResult(path, found)),
                failed=lambda message: self.similar_found.emit(SimilarResult(path, [], message)),
            )
        )

    def image_facts(self, path: str) -> None:
        root = self.root
        item = self.items.get(self.relpath(path)) if root is not None else None
        if root is None or item is None:
            return

        def facts(lib: Library, progress: object, cancelled: object) -> ImageFacts:
            info = lib.image_info(root, Path(path))
            if info is None:
                return ImageFacts(item.size, item.mtime_ns, None, None, None)
            return ImageFacts(item.size, item.mtime_ns, info.width, info.height, info.format)

        self.run(Job("details", facts, lambda found: self.details_found.emit((path, found))))

    # corrections ---------------------------------------------------------------------------------

    def any_corrected(self, paths: Iterable[str]) -> bool:
        """Whether the user corrected any of these images (absolute paths) in any head."""
        if self.root is None:
            return False
        items = [item for p in paths if (item := self.items.get(self.relpath(p)))]
        return any(item.prediction is not None and item.prediction.corrected for item in items)

    def correct(self, paths: Iterable[str], label: str | None) -> None:
        """The user's word on what the images show (None: forget it); every view shows it at once,
        and Undo takes it back."""
        self.corrections.correct(paths, label)

    def rating_of(self, relpath: str) -> int:
        """The image's stars (1–5), REJECTED, or UNRATED (also for an image not in the folder now)."""
        item = self.items.get(relpath)
        return item.rating if item is not None else UNRATED

    def rate(self, paths: Iterable[str], rating: int) -> None:
        """1–5 stars, REJECTED or UNRATED for the images (and every copy of them); Undo takes it back."""
        self.ratings.rate(paths, rating)

    # reference folders ----------------------------------------------------------------------------

    def set_reference_folder(self, folder: str, reference: bool) -> None:
        """Files in a reference folder are the originals: always kept, never sent to the trash."""
        folders = set(self.reference_folders)
        (folders.add if reference else folders.discard)(folder)
        self.reference_folders = sorted(folders)
        self.run(
            Job(
                f"reference:{folder}",
                lambda lib, p, c: user_choices.set_reference_folder(lib.catalog, folder, reference),
                lambda _: self.analyses.recompute_duplicates(),
                serial=True,
            )
        )


def _scanned_and_keyed(root: Path, data_dir: Path, cancelled: CancelledFn) -> ScanResult:
    """The folder's files, with their names' sort keys worked out here, in the listing job: the
    keys are cached (core/browse.py), and working them out for 5,000 new names while Browse first
    sorts them took 20 ms of the UI thread."""
    scan = scan_folder(root, exclude=[data_dir], cancelled=cancelled)
    for found in scan.files:
        natural_key(found.relpath)
    return scan
