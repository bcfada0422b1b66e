"""The user's label sets at work on a folder: import sub-folder names as labels, train when the labels
changed, predict with "unknown", queue images for review, plan a move by label.

The CLI (`sorter labels …`) and the window both go through this. A folder here is any folder inside
an indexed one ("scope"); labels are global, by content hash, so examples labelled in one folder
teach the model that sorts another.

Training is cached twice — in memory and, for the next process, in `label-models/` of the data
folder (a rebuildable cache, like the catalog) — under a fingerprint of the model id and every
(image, label) pair, so a model is retrained exactly when its labels changed. A window retrains in
the background by reading `training_data` on its own thread, running `train_label_model` in a
worker (no SQLite there), and handing the result to `adopt`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np

from .atomic import atomic_write_bytes
from .clusters import Clustering
from .errors import SorterError
from .label_model import Guesses, LabelModel, TooFewLabelsError, keep_for_training, train_label_model
from .label_review import review_order, review_pool
from .label_store import LabelSet, LabelStore, check_name
from .library import Library
from .plan import Mode, MovePlan, Unplanned, make_plan, name_key
from .predictions import UNKNOWN, HeadAnswer, Prediction
from .softmax_regression import Floats, Ints

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
MODELS_FOLDER = "label-models"
TOP_GUESSES = 3
PREDICT_CHUNK = 16_384  # full vectors predicted at a time: 80 MB


@dataclass(frozen=True)
class Scope:
    """A folder inside an indexed root: the root, and the '/'-ended prefix of the paths under it."""

    root: Path
    root_id: int
    prefix: str  # '' for the root itself

    @property
    def folder(self) -> Path:
        return self.root / self.prefix if self.prefix else self.root


@dataclass(frozen=True)
class Answer:
    """What one image is, in a label set: the user's label, or the model's."""

    path: str  # relative to the scope's root
    label: str  # the user's label, the model's confident one, or "unknown"
    confidence: float  # 1.0 for the user's own
    labelled: bool
    guess: str  # the model's best label even where it is unsure; the user's label where labelled
    top: tuple[tuple[str, float], ...] = ()  # the model's best labels, likeliest first

    def to_json(self, root: Path, *, best_guess: bool = False) -> dict[str, object]:
        return {
            "path": str(root / self.path),
            "label": self.guess if best_guess else self.label,
            "confidence": round(self.confidence, 4),
            "labelled": self.labelled,
        }


@dataclass(frozen=True)
class TrainingData:
    label_set: LabelSet
    vectors: Floats
    targets: Ints
    fingerprint: str


@dataclass
class ImportReport:
    set_name: str
    # (label, its sub-folders — "Kitchen" and "kitchen" give one label —, images it was given)
    labels: list[tuple[str, tuple[str, ...], int]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sub-folder, reason)
    changed: int = 0  # images that got a label they did not have
    conflicts: list[str] = field(default_factory=list)  # relpaths of a content found under two labels


class Labelling:
    def __init__(self, library: Library) -> None:
        self.library = library
        self.store = LabelStore(library.catalog)
        self._models: dict[int, LabelModel] = {}

    @property
    def _model_id(self) -> str:
        """The embedding the label models are trained on: the key the catalog stores vectors under."""
        return self.library.vector_key

    # where ----------------------------------------------------------------------------------

    def scope(self, folder: Path) -> Scope:
        """The indexed root holding `folder` (itself or one above it), or why there is none."""
        path = folder.expanduser().resolve()
        if not path.is_dir():
            raise SorterError(f"not a folder: {path}")
        located = self.library.catalog.locate(path)
        if located is None:
            raise SorterError(f"{path} is not inside an indexed folder (run `sorter index` on it first)")
        root_id, relpath = located
        parts = PurePosixPath(relpath).parts if relpath != "." else ()
        root = Path(*path.parts[: len(path.parts) - len(parts)])
        return Scope(root, root_id, "".join(f"{p}/" for p in parts))

    def usable(self, scope: Scope) -> dict[str, list[str]]:
        """{content hash: relpaths under the scope} of every image with a vector."""
        by_hash = self.library.catalog.paths_by_hash(scope.root_id, self._model_id)
        found = {h: [p for p in paths if p.startswith(scope.prefix)] for h, paths in by_hash.items()}
        return {h: paths for h, paths in found.items() if paths}

    def content_hash(self, image: Path) -> str:
        path = image.expanduser().resolve()
        located = self.library.catalog.locate(path)
        row = self.library.catalog.file_row(*located) if located else None
        if row is None:
            raise SorterError(f"{path} is not indexed (run `sorter index` on its folder)")
        if row.error is not None or row.content_hash is None:
            raise SorterError(f"{path} was skipped when indexing: {row.error}")
        return row.content_hash

    # labelling ------------------------------------------------------------------------------

    def label(self, set_name: str, label: str, images: Iterable[Path]) -> int:
        """Give `images` (anywhere indexed) `label` in one go; returns how many changed."""
        return self.store.label_images(set_name, label, [self.content_hash(i) for i in images])

    def unlabel(self, set_name: str, images: Iterable[Path]) -> int:
        return self.store.unlabel_images(set_name, [self.content_hash(i) for i in images])

    def import_folders(self, folder: Path, set_name: str) -> ImportReport:
        """Each immediate sub-folder of `folder` holding usable images becomes a label of the set
        (created if new), and every image under it, at any depth, gets that label. A content found
        under two different labels gets neither: the folders disagree about it."""
        scope = self.scope(folder)
        if self.store.find(set_name) is None:
            self.store.create(set_name)
        report = ImportReport(self.store.get(set_name).name)
        usable = self.usable(scope)
        under: dict[str, set[str]] = {}
        for content_hash, paths in usable.items():
            for path in paths:
                head, sep, _ = path[len(scope.prefix) :].partition("/")
                if sep:
                    under.setdefault(head, set()).add(content_hash)
        labels: dict[str, tuple[str, set[str], list[str]]] = {}  # label key → (label, hashes, sub-folders)
        for name in _subfolders(scope.folder):
            if name not in under:
                report.skipped.append((name, "holds no indexed images"))
                continue
            try:
                label = check_name(name, "label")
            except SorterError as exc:
                report.skipped.append((name, str(exc)))
                continue
            label = self.store.get(set_name).label(label) or label
            key = name_key(label)
            _, hashes, folders = labels.setdefault(key, (label, set(), []))
            hashes.update(under[name])
            folders.append(name)
        seen: dict[str, int] = {}
        for _, hashes, _ in labels.values():
            for h in hashes:
                seen[h] = seen.get(h, 0) + 1
        disputed = {h for h, n in seen.items() if n > 1}
        report.conflicts = sorted(p for h in disputed for p in usable[h])
        # What each label was given: its folders' pictures, less those another label's also hold.
        for label, hashes, folders in labels.values():
            report.labels.append((label, tuple(folders), len(hashes - disputed)))
            report.changed += self.store.label_images(set_name, label, sorted(hashes - disputed))
        return report

    # training -------------------------------------------------------------------------------

    def fingerprint(self, label_set: LabelSet, pairs: list[tuple[str, str]]) -> str:
        text = json.dumps([self._model_id, list(label_set.labels), pairs], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def training_data(self, set_name: str) -> TrainingData | None:
        """What training the set needs, or None when its model is up to date."""
        label_set = self.store.get(set_name)
        pairs = self.store.labelled_with_vectors(label_set, self._model_id)
        fingerprint = self.fingerprint(label_set, pairs)
        cached = self._models.get(label_set.id) or self._load(label_set.id)
        if cached is not None and cached.fingerprint == fingerprint:
            self._models[label_set.id] = cached
            return None
        if len({label for _, label in pairs}) < 2:
            missing = sum(self.store.counts(label_set).values()) - len(pairs)
            unindexed = f"; {missing} labelled images have no vector of the current model" if missing else ""
            raise TooFewLabelsError(
                f"label images with at least two different labels of {label_set.name!r} before training"
                + unindexed
            )
        index = {label: i for i, label in enumerate(label_set.labels)}
        targets = np.array([index[label] for _, label in pairs], dtype=np.int64)
        kept = keep_for_training(targets)
        vectors = self.library.catalog.vectors(self._model_id, [pairs[i][0] for i in kept])
        return TrainingData(label_set, vectors, targets[kept], fingerprint)

    def adopt(self, label_set: LabelSet, model: LabelModel) -> None:
        """Keep a model trained elsewhere (a window's worker) for the set, in memory and on disk."""
        self._models[label_set.id] = model
        atomic_write_bytes(self._model_path(label_set.id), model.to_bytes())

    def model(
        self, set_name: str, *, progress: ProgressFn | None = None, cancelled: CancelledFn | None = None
    ) -> tuple[LabelModel, bool]:
        """The set's model and whether it was (re)trained now, because its labels changed."""
        data = self.training_data(set_name)
        if data is None:
            return self._models[self.store.get(set_name).id], False
        model = train_label_model(
            data.vectors,
            data.targets,
            data.label_set.labels,
            fingerprint=data.fingerprint,
            progress=progress,
            cancelled=cancelled,
        )
        self.adopt(data.label_set, model)
        return model, True

    def _model_path(self, set_id: int) -> Path:
        return self.library.data_dir / MODELS_FOLDER / f"set-{set_id}.npz"

    def _load(self, set_id: int) -> LabelModel | None:
        try:
            return LabelModel.from_bytes(self._model_path(set_id).read_bytes())
        except (OSError, ValueError):
            return None  # none yet, or damaged: it is a cache, training makes it again

    def forget_model(self, set_id: int) -> None:
        self._models.pop(set_id, None)
        self._model_path(set_id).unlink(missing_ok=True)

    # answers --------------------------------------------------------------------------------

    def answers(self, folder: Path, set_name: str, model: LabelModel | None = None) -> list[Answer]:
        """One answer per usable image under `folder`, by path (trains first if labels changed)."""
        return self._answers(self.scope(folder), set_name, model)

    def _split(self, scope: Scope, set_name: str) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
        """(usable images by content, the user's labels by content, unlabelled contents by path)."""
        usable = self.usable(scope)
        labelled = self.store.image_labels(self.store.get(set_name), list(usable))
        return usable, labelled, sorted((h for h in usable if h not in labelled), key=lambda h: usable[h][0])

    def _answers(self, scope: Scope, set_name: str, model: LabelModel | None = None) -> list[Answer]:
        return self._said(scope, set_name, model or self.model(set_name)[0]).answers()

    def review(self, folder: Path, set_name: str, limit: int = 20) -> list[Answer]:
        """Unlabelled images (one per content, its first path) in the order a label would teach the
        model most, each with the model's top guesses."""
        return self._said(self.scope(folder), set_name, self.model(set_name)[0]).review(limit)

    def folder_answers(self, folder: Path, set_name: str, model: LabelModel) -> FolderAnswers:
        """What `answers` and `review` are made from, read once and predicted once: the window asks
        for both after every retrain, beside its UI thread."""
        return self._said(self.scope(folder), set_name, model)

    def _said(self, scope: Scope, set_name: str, model: LabelModel) -> FolderAnswers:
        usable, labelled, rest = self._split(scope, set_name)
        guesses = self._predict(model, rest) if rest else None
        return FolderAnswers(self, model, usable, labelled, rest, guesses)

    def _predict(self, model: LabelModel, keys: list[str]) -> Guesses:
        """The model's guesses for `keys`, their full vectors read PREDICT_CHUNK at a time: all the
        unlabelled images of a million-image folder at once would be 5 GB."""
        parts = [
            model.predict(self.library.catalog.vectors(self._model_id, keys[start : start + PREDICT_CHUNK]))
            for start in range(0, len(keys), PREDICT_CHUNK)
        ]
        return Guesses(
            np.concatenate([p.best for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.probabilities for p in parts]),
        )

    def browse_predictions(self, folder: Path, set_name: str) -> dict[str, Prediction]:
        """Answers shaped as the model's predictions, one head named after the set, so Browse
        filters and sorts by them as by scene and room; the user's labels show as corrections."""
        name = self.store.get(set_name).name
        return {
            a.path: Prediction(a.path, {name: HeadAnswer(a.label, a.confidence, corrected=a.labelled)})
            for a in self.answers(folder, set_name)
        }

    def clusters(self, folder: Path, set_name: str, granularity: str = "medium") -> Clustering:
        """The folder's clusters, named after the set's labels its members have."""
        model = self.model(set_name)[0]

        def labels() -> dict[str, str]:  # read while Leiden runs
            return {a.path: a.label for a in self.answers(folder, set_name, model) if a.label != UNKNOWN}

        return self.library.clusters(folder, granularity, labels=labels)

    def plan(
        self,
        folder: Path,
        set_name: str,
        destination: Path | None = None,
        *,
        mode: Mode = "move",
        min_confidence: float = 0.0,
        only: Iterable[str] = (),
    ) -> MovePlan:
        """A plan moving (or copying) each image into a folder named after its label: the user's,
        or the model's where it is sure enough (and at least `min_confidence`). Unknown images stay,
        and so do less sure ones: the plan lists them as left alone with how sure the model is
        ("kitchen 54%, under 60%"), so the preview says why they stay. `only` restricts the plan
        to some labels. Nothing moves until the plan is applied."""
        scope = self.scope(folder)
        label_set = self.store.get(set_name)
        wanted = {self._label_of(label_set, name) for name in only}
        groups: dict[str, list[str]] = {}
        unsure: list[Unplanned] = []
        for a in self._answers(scope, set_name):
            if wanted and a.guess not in wanted:
                continue
            src = scope.root / a.path
            if a.label == UNKNOWN:
                unsure.append(Unplanned(src, f"unknown ({a.guess} {a.confidence:.0%})"))
            elif a.confidence < min_confidence:
                unsure.append(Unplanned(src, f"{a.label} {a.confidence:.0%}, under {min_confidence:.0%}"))
            else:
                groups.setdefault(a.label, []).append(str(src))
        plan = make_plan(groups.items(), destination or scope.folder, mode, folder=scope.folder)
        return replace(plan, skipped=(*plan.skipped, *unsure))

    @staticmethod
    def _label_of(label_set: LabelSet, name: str) -> str:
        label = label_set.label(name)
        if label is None:
            raise SorterError(f"set {label_set.name!r} has no label {name!r}")
        return label


def _subfolders(folder: Path) -> list[str]:
    """Immediate, visible, real sub-folders (no links: the scanner does not follow them either)."""
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise SorterError(f"cannot read {folder}: {exc.strerror or exc}") from None
    return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))


@dataclass(frozen=True)
class FolderAnswers:
    """A label set's model's guesses for a folder, with what they were made from."""

    labelling: Labelling
    model: LabelModel
    usable: dict[str, list[str]]  # content hash → its paths under the scope
    labelled: dict[str, str]  # content hash → the user's label
    rest: list[str]  # unlabelled contents, by first path
    guesses: Guesses | None  # for `rest`; None when every image is labelled

    def answers(self) -> list[Answer]:
        """One answer per usable image, by path."""
        usable, model, guesses = self.usable, self.model, self.guesses
        out = [Answer(p, label, 1.0, True, label) for h, label in self.labelled.items() for p in usable[h]]
        if guesses is not None:
            names = [model.labels[i] for i in guesses.best.tolist()]
            sure = (guesses.confidence >= model.threshold).tolist()
            for h, guess, confidence, known in zip(
                self.rest, names, guesses.confidence.tolist(), sure, strict=True
            ):
                out += [Answer(p, guess if known else UNKNOWN, confidence, False, guess) for p in usable[h]]
        out.sort(key=lambda a: a.path)
        return out

    def review(self, limit: int) -> list[Answer]:
        """The unlabelled images a label would teach the model most, each with its top guesses."""
        guesses, model, rest = self.guesses, self.model, self.rest
        if guesses is None:
            return []
        pool = review_pool(guesses.probabilities, limit)  # the order is decided among these alone
        library = self.labelling.library
        vectors = library.catalog.vectors(library.vector_key, [rest[i] for i in pool.tolist()])
        queue = []
        for i in pool[review_order(vectors, guesses.probabilities[pool], limit)].tolist():
            confidence, guess = float(guesses.confidence[i]), model.labels[int(guesses.best[i])]
            top = np.argsort(-guesses.probabilities[i], kind="stable")[:TOP_GUESSES]
            guesses_i = tuple((model.labels[j], float(guesses.probabilities[i, j])) for j in top)
            label = guess if confidence >= model.threshold else UNKNOWN
            queue.append(Answer(self.usable[rest[i]][0], label, confidence, False, guess, guesses_i))
        return queue
