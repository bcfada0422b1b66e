"""The catalog, the model and the index files of one data folder: what every front end opens.

The CLI and the window both go through this, so "index", "similar" and "status" mean the same
thing everywhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from . import corrections, map2d, user_choices
from .atomic import atomic_write_text
from .browse import BrowseItem
from .catalog import Catalog, ImageInfo
from .child_process import work_child
from .clusters import Clustering, cluster_folder, leiden_child
from .decode_pool import start_server
from .duplicates import NEAR_DUPLICATE_THRESHOLD, DuplicateGroup, DuplicateTiers, find_duplicate_tiers
from .embedder import Embedder
from .errors import SorterError
from .export import export_renderer, folder_export
from .folder_index import ANNOY_MIN_ITEMS, FolderIndex, Neighbour, index_name, refresh_vector_index
from .indexer import CancelledFn, IndexReport, ProgressFn, index_folder
from .journal import Journal
from .keeper import keep_choices
from .kinds import AnalysisKind
from .map2d import layout_2d
from .model_spec import ModelSpec, load_spec
from .mover import ApplyResult, PlanSummary, UndoResult, apply_plan, list_plans, recover, undo_plan
from .near_rule import DEFAULT_RULE
from .neighbours import FolderVectors
from .outliers import Outlier, find_outliers
from .plan import MovePlan
from .predictions import (
    Prediction,
    StoredPrediction,
    broader_labels,
    folder_prediction_columns,
    folder_predictions,
    prediction_heads,
)
from .ratings import UNRATED, check_rating, ratings, set_ratings
from .scan import is_utf8, printable
from .seed_groups import SEED_THRESHOLD, SeedGroup, seed_groups
from .structure import GRAPH_K, FolderStructure, load_structure, structure_name
from .vector_index import open_annoy


@dataclass(frozen=True)
class FolderStatus:
    folder: str
    model_id: str
    indexed_with: str | None
    indexed_at: float | None
    files: int
    usable: int
    distinct: int
    errors: int
    search: str  # "annoy" or "exact"
    annoy_items: int


class Library:
    def __init__(
        self, data_dir: Path, model_sidecar: Path, *, annoy_min_items: int = ANNOY_MIN_ITEMS
    ) -> None:
        self.data_dir = data_dir
        self.model_sidecar = model_sidecar
        self.annoy_min_items = annoy_min_items
        self.index_dir = data_dir / "indexes"
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._catalog: Catalog | None = None
        # Moves and undos go on when the catalog cannot follow them (damaged, disk full, cannot be
        # opened): the files and the journal are what matter, and the next index finds moved files
        # by content hash.
        self.catalog_error: Exception | None = None

    @property
    def catalog(self) -> Catalog:
        """Opened on first use, so that the journal (`undo`, `journal`) works whatever its state."""
        if self._catalog is None:
            self._catalog = Catalog(self.data_dir / "catalog.sqlite")
        return self._catalog

    @property
    def notices(self) -> list[str]:
        """What opening the data folder repaired (a damaged catalog set aside, say), a line each."""
        return self._catalog.notices if self._catalog is not None else []

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def spec(self) -> ModelSpec:
        """The model's sidecar alone: enough to know the model id without loading the network."""
        return load_spec(self.model_sidecar)

    @cached_property
    def vector_key(self) -> str:
        """The name the catalog keeps this model's vectors (and the index files built on them)
        under: the embedding's, shared by every model with the same embedder (catalog.py)."""
        return self.catalog.vector_key(self.spec.embedding_names)

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder.from_sidecar(self.model_sidecar)

    def index(
        self, folder: Path, *, progress: ProgressFn | None = None, cancelled: CancelledFn | None = None
    ) -> IndexReport:
        start_server()  # the decode workers' server starts while the model loads and the folder is walked
        return index_folder(
            folder,
            self.catalog,
            self.embedder,
            self.index_dir,
            progress=progress,
            cancelled=cancelled,
            annoy_min_items=self.annoy_min_items,
            vector_key=self.vector_key,
        )

    def _root_id(self, folder: Path) -> int:
        root = folder.expanduser().resolve()
        root_id = self.catalog.root_id(root, create=False)
        if root_id is None:
            raise SorterError(f"folder not indexed yet: {root} (run `sorter index` on it first)")
        return root_id

    def open_folder(self, folder: Path) -> FolderIndex:
        root_id = self._root_id(folder)
        index = FolderIndex.open(self.catalog, root_id, self.vector_key, self.index_dir)
        if index.has_structure or len(index) == 0:
            return index
        index.close()  # indexed by an older version: no compact vectors yet
        self._structure(root_id)
        return FolderIndex.open(self.catalog, root_id, self.vector_key, self.index_dir)

    def prepare_similar(self, folder: Path) -> None:
        """Open the folder's similar index ahead of its first query, as the window does when it
        loads a folder: its files are then read into the page cache in the background
        (folder_index.py). Nothing for a folder not indexed yet."""
        root_id = self.catalog.root_id(folder.expanduser().resolve(), create=False)
        if root_id is not None:
            FolderIndex.open(self.catalog, root_id, self.vector_key, self.index_dir).close()

    def _structure(self, root_id: int) -> tuple[FolderStructure, dict[str, list[str]]]:
        """The folder's stored compact vectors and graph, refreshed if the catalog moved on since
        (files forgotten or moved by the mover, or a folder indexed by an older version)."""
        model_id = self.vector_key
        name = structure_name(index_name(root_id, model_id))
        for _ in range(2):
            by_hash = self.catalog.paths_by_hash(root_id, model_id)
            structure = load_structure(self.index_dir, name)
            if structure is not None and _same_keys(structure, by_hash):
                return structure, by_hash
            refresh_vector_index(
                self.catalog, root_id, model_id, self.index_dir, min_items=self.annoy_min_items
            )
        raise SorterError("the folder kept changing while its neighbour graph was being updated; try again")

    def similar(self, folder: Path, image: Path, k: int) -> list[Neighbour]:
        """Neighbours of `image`, which must be a file inside the indexed `folder`."""
        root = folder.expanduser().resolve()
        if not image.expanduser().is_file():  # not "not in the index: run `sorter index`"
            raise SorterError(f"no such file: {image}")
        if not is_utf8(image):  # such a name is never indexed (scan.py); the catalog cannot look it up
            raise SorterError(f"not in the index: {printable(image)} (its name is not valid UTF-8)")
        index = self.open_folder(root)
        try:
            return index.similar(self.relpath(root, image), k)
        finally:
            index.close()

    def folder_vectors(self, folder: Path) -> FolderVectors:
        """The folder's compact vectors (memory-mapped) and neighbour graph, one row per content;
        full vectors are read from its full store (full_store.py) only where a result must be exact."""
        structure, by_hash = self._structure(self._root_id(folder))
        keys = structure.key_list()
        return FolderVectors(
            keys,
            structure.compact,
            [by_hash[key] for key in keys],
            structure.graph(GRAPH_K),
            full=structure.full.read,
        )

    def duplicates(
        self,
        folder: Path,
        threshold: float = NEAR_DUPLICATE_THRESHOLD,
        *,
        references: Iterable[str] = (),
        progress: ProgressFn | None = None,
    ) -> list[DuplicateGroup]:
        """Exact and near groups; near-duplicates need embedding similarity ≥ `threshold` and the
        pixel check (near_rule.py)."""
        return self.duplicate_tiers(folder, threshold, references=references, progress=progress).groups

    def duplicate_tiers(
        self,
        folder: Path,
        threshold: float = NEAR_DUPLICATE_THRESHOLD,
        *,
        references: Iterable[str] = (),
        progress: ProgressFn | None = None,
    ) -> DuplicateTiers:
        """Exact and near groups, and the similar groups (alike, not the same picture). The copy
        to keep is chosen by keeper.py with every file's header read; `references` are folders
        (relative to `folder`) whose files are the originals."""
        root = folder.expanduser().resolve()
        vectors = self.folder_vectors(root)
        facts = self.catalog.file_facts(self._root_id(root))
        layouts = self.catalog.layouts(vectors.keys)
        rule = DEFAULT_RULE.at_threshold(threshold)
        tiers = find_duplicate_tiers(vectors, facts, layouts, rule=rule, progress=progress)
        grouped = {p for g in tiers.groups for p in g.paths}
        layout_of = {
            p: layouts.get(key)
            for key, paths in zip(vectors.keys, vectors.paths, strict=True)
            for p in paths
            if p in grouped
        }
        choices = keep_choices((g.paths for g in tiers.groups), facts, root, references, layout_of)
        groups = [replace(g, keep=c.keep, why=c.why) for g, c in zip(tiers.groups, choices, strict=True)]
        return replace(tiers, groups=groups)

    def clusters(
        self,
        folder: Path,
        granularity: str = "medium",
        *,
        labels: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        broader: Mapping[str, str] | None = None,
        progress: ProgressFn | None = None,
        user_names: bool = False,
    ) -> Clustering:
        """Clusters named after what most members show: `labels` (relpath → label, from any label
        source, or a function giving them), by default the model's most specific confident
        answers. `broader` (label → the label it lies within) names a cluster that shares only
        that; by default the model's ("kitchen" → "indoor") with its own labels, none with
        `labels`. Labels are read while Leiden runs in its child process. With `user_names`, a
        cluster the user renamed in the window has that name instead (the CLI twin's views); the
        window names its groups itself (`session/choices.apply_stored`), keeping what was found
        beside what the user chose."""
        with leiden_child() as child:  # starts while the folder is read
            vectors = self.folder_vectors(folder)
            by_hash = dict(zip(vectors.keys, vectors.paths, strict=True))

            def model_labels() -> dict[str, str]:
                if not self.spec.probability_heads:
                    return {}
                predictions = folder_predictions(self.catalog, self.spec, by_hash)
                return {p.path: label for p in predictions if (label := p.best_label)}

            named_by = model_labels if labels is None else labels
            if broader is None:  # the model's labels lie within one another; another source's: said
                broader = broader_labels(self.spec) if labels is None else {}
            clustering = cluster_folder(
                vectors, granularity, labels=named_by, broader=broader, progress=progress, child=child
            )
        return self._as_the_user_named(clustering, vectors) if user_names else clustering

    def _as_the_user_named(self, clustering: Clustering, vectors: FolderVectors) -> Clustering:
        """Each cluster under the name the user gave it in the window, found by most of its members
        as the window finds it: `sorter clusters` and `sorter plan --clusters` showed "cluster 4"
        where the window said "public places"."""
        hash_of = {p: h for h, paths in zip(vectors.keys, vectors.paths, strict=True) for p in paths}
        names = user_choices.group_names(self.catalog, str(AnalysisKind.CLUSTERS), hash_of.values())
        if not names:
            return clustering
        named = []
        for cluster in clustering.clusters:
            name = user_choices.majority_name([hash_of[p] for p in cluster.paths if p in hash_of], names)
            named.append(replace(cluster, label=name) if name else cluster)
        return Clustering(named, clustering.unsorted)

    def predictions(self, folder: Path) -> list[Prediction]:
        paths_by_hash = self.catalog.paths_by_hash(self._root_id(folder), self.vector_key)
        return folder_predictions(self.catalog, self.spec, paths_by_hash)

    def correct(self, folder: Path, image: Path, label: str) -> Prediction:
        """The user's word on what `image` shows (any head's label), and the image's answers now.

        It holds for every copy of the image, wherever it moves, and for any model.
        """
        root = folder.expanduser().resolve()
        relpath, content_hash = self._indexed_image(root, image)
        corrections.correct(self.catalog, self.spec, content_hash, label)
        return folder_predictions(self.catalog, self.spec, {content_hash: [relpath]})[0]

    def clear_correction(self, folder: Path, image: Path) -> Prediction:
        """Forget what the user said about `image`, so the model's answers show again."""
        root = folder.expanduser().resolve()
        relpath, content_hash = self._indexed_image(root, image)
        self.catalog.clear_corrections(content_hash)
        return folder_predictions(self.catalog, self.spec, {content_hash: [relpath]})[0]

    def rate(self, folder: Path, images: Sequence[Path], rating: int) -> dict[str, int]:
        """Give `images` `rating` (1–5 stars, −1 rejected, 0 none) — every copy of them, wherever
        they move; {relative path: rating} of them. All are checked before any is rated."""
        root = folder.expanduser().resolve()
        found = dict(self._indexed_image(root, image) for image in images)
        set_ratings(self.catalog, dict.fromkeys(found.values(), check_rating(rating)))
        return dict.fromkeys(found, rating)

    def _indexed_image(self, root: Path, image: Path) -> tuple[str, str]:
        """(relative path, content hash) of an image the catalog holds, or why there is none."""
        relpath = self.relpath(root, image)
        row = self.catalog.file_row(self._root_id(root), relpath)
        if row is None:
            raise SorterError(f"{image} is not indexed (run `sorter index` on {root})")
        if row.error is not None or row.content_hash is None:
            raise SorterError(f"{image} was skipped when indexing: {row.error}")
        return relpath, row.content_hash

    def export(self, folder: Path, destination: Path, groups: Mapping[str, str] | None = None) -> int:
        """Write the folder's labels and `groups` (relative path → group name) as CSV or JSON, by
        the destination's extension; returns the rows written. The CSV is a `sorter-train curate`
        manifest."""
        render = export_renderer(destination)
        root = folder.expanduser().resolve()
        paths_by_hash = self.catalog.paths_by_hash(self._root_id(root), self.vector_key)  # read once
        predictions = folder_predictions(self.catalog, self.spec, paths_by_hash)
        heads = list(prediction_heads(self.spec))
        rated = {
            path: rating for h, rating in ratings(self.catalog).items() for path in paths_by_hash.get(h, ())
        }
        export = folder_export(root, self.spec.model_id, heads, predictions, groups or {}, rated)
        atomic_write_text(destination, render(export))
        return len(export.images)

    def browse_items(self, folder: Path) -> list[BrowseItem]:
        """Every usable image of the folder with its file facts and, if the model makes them, predictions."""
        root_id = self._root_id(folder.expanduser().resolve())
        # One read of the files whose strings the items keep: a million-image folder's peak is
        # these rows, the predictions and the items, nothing read twice.
        files = self.catalog.usable_files(root_id, self.vector_key)
        rated = ratings(self.catalog)  # every rated image: a few rows beside a folder's files
        if not self.spec.probability_heads:
            return [
                BrowseItem(relpath, size, mtime, None, content, rated.get(content, UNRATED))
                for relpath, size, mtime, content in files
            ]
        row_of = {content: row for row, content in enumerate(dict.fromkeys(f[3] for f in files))}
        columns = folder_prediction_columns(self.catalog, self.spec, list(row_of))
        return [
            BrowseItem(
                relpath,
                size,
                mtime,
                StoredPrediction(relpath, columns, row_of[content]),
                content,
                rated.get(content, UNRATED),
            )
            for relpath, size, mtime, content in files
        ]

    def image_info(self, folder: Path, image: Path) -> ImageInfo | None:
        """Dimensions and format recorded when `image` was indexed (None if it was not)."""
        root = folder.expanduser().resolve()
        row = self.catalog.file_row(self._root_id(root), self.relpath(root, image))
        if row is None or row.content_hash is None:
            return None
        return self.catalog.image_info(row.content_hash)

    def map_2d(
        self, folder: Path, *, progress: ProgressFn | None = None, cancelled: CancelledFn | None = None
    ) -> tuple[NDArray[np.float32], list[str]]:
        """A point per image (copies of one picture share a point) and the images' relative paths."""
        with work_child(map2d.ready) as child:  # starts while the folder is read
            vectors = self.folder_vectors(folder)
            points = layout_2d(
                vectors.vectors, graph=vectors.graph, progress=progress, cancelled=cancelled, child=child
            )
        rows = [i for i, paths in enumerate(vectors.paths) for _ in paths]
        return points[rows], [p for paths in vectors.paths for p in paths]

    def outliers(self, folder: Path, *, progress: ProgressFn | None = None) -> list[Outlier]:
        return find_outliers(self.folder_vectors(folder), progress=progress)

    def seed_groups(
        self, folder: Path, seeds: list[Path], threshold: float = SEED_THRESHOLD
    ) -> list[SeedGroup]:
        root = folder.expanduser().resolve()
        return seed_groups(self.folder_vectors(root), [self.relpath(root, s) for s in seeds], threshold)

    @staticmethod
    def relpath(root: Path, image: Path) -> str:
        """`image` as a path relative to the indexed `root`, the form the catalog keys files by."""
        try:
            return image.expanduser().resolve().relative_to(root).as_posix()
        except ValueError:
            raise SorterError(f"{image} is not inside {root}") from None

    # moving files: the catalog follows every step, so nothing is embedded again ------------------

    @cached_property
    def journal(self) -> Journal:
        return Journal(self.data_dir / "journal")

    def _moved(self, plan: MovePlan) -> Callable[[Path, Path], None]:
        keep_source = plan.mode == "copy"
        return lambda src, dst: self._follow(src, dst, keep_source=keep_source)

    def _follow(self, src: Path, dst: Path, *, keep_source: bool = False) -> None:
        if self.catalog_error is None:
            try:
                self.catalog.follow_file(src, dst, keep_source=keep_source)
            except (sqlite3.Error, OSError, SorterError) as exc:
                self.catalog_error = exc

    def _forget(self, path: Path) -> None:
        if self.catalog_error is None:
            try:
                self.catalog.forget_file(path)
            except (sqlite3.Error, OSError, SorterError) as exc:
                self.catalog_error = exc

    def apply(
        self,
        plan: MovePlan,
        *,
        progress: ProgressFn | None = None,
        cancelled: CancelledFn | None = None,
        trash_root: Path | None = None,
    ) -> ApplyResult:
        """Carry out a plan (checked first: plan_check.py); `trash_root` only where the trash is not
        the system's."""
        return apply_plan(
            plan,
            self.journal,
            progress=progress,
            cancelled=cancelled,
            on_moved=self._moved(plan),
            trash_root=trash_root,
        )

    def undo(
        self,
        plan_id: str | None = None,
        *,
        progress: ProgressFn | None = None,
        cancelled: CancelledFn | None = None,
    ) -> UndoResult:
        return undo_plan(
            plan_id,
            self.journal,
            progress=progress,
            cancelled=cancelled,
            on_moved=self._follow,
            on_removed=self._forget,
        )

    def recover(self) -> list[UndoResult]:
        """Finish or roll back plans a crash interrupted; run before anything else touches files."""
        return recover(
            self.journal,
            on_moved=self._follow,
            on_removed=self._forget,
        )

    def plans(self) -> list[PlanSummary]:
        return list_plans(self.journal)

    def status(self, folder: Path) -> FolderStatus:
        root = folder.expanduser().resolve()
        root_id = self._root_id(root)
        model_id = self.spec.model_id
        rows = self.catalog.file_rows(root_id)
        by_hash = self.catalog.paths_by_hash(root_id, self.vector_key)
        indexed_with, indexed_at = self.catalog.root_info(root_id)
        annoy = open_annoy(self.index_dir, index_name(root_id, self.vector_key))  # what `similar` would use
        annoy_items = len(annoy.keys) if annoy else 0
        if annoy is not None:
            annoy.unload()
        return FolderStatus(
            folder=str(root),
            model_id=model_id,
            indexed_with=indexed_with,
            indexed_at=indexed_at,
            files=len(rows),
            usable=sum(len(paths) for paths in by_hash.values()),
            distinct=len(by_hash),
            errors=sum(1 for r in rows.values() if r.error is not None),
            search="annoy" if annoy else "exact",
            annoy_items=annoy_items,
        )


def _same_keys(structure: FolderStructure, by_hash: Mapping[str, object]) -> bool:
    """Whether the structure holds exactly the catalog's contents (sorted arrays, not a set: 0.05 s
    instead of 0.6 s at 100,000)."""
    if len(structure) != len(by_hash):
        return False
    catalog_keys = np.array([key.encode("ascii") for key in by_hash], dtype=bytes)
    return bool(np.array_equal(np.sort(structure.keys), np.sort(catalog_keys)))
