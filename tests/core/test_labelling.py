"""Label sets at work on real folders, with the real bundled model: sub-folder names as labels teach
it to sort the rest; answers feed Browse, clusters and an export a trainer reads."""

from __future__ import annotations

import csv
import random
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from sorter_app.core import labelling as labelling_module
from sorter_app.core.browse import BrowseItem, filter_items, sort_items
from sorter_app.core.embedder import Embedder
from sorter_app.core.label_export import export_labels
from sorter_app.core.label_model import train_label_model
from sorter_app.core.labelling import MODELS_FOLDER, Labelling
from sorter_app.core.library import Library
from sorter_app.core.predictions import UNKNOWN
from sorter_app.paths import bundled_model_sidecar


def _pattern(kind: str, seed: int) -> Image.Image:
    """Three kinds of picture a photo model tells apart at once, each drawn many ways."""
    rng = random.Random(seed)
    colours = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(2)]
    image = Image.new("RGB", (224, 224), colours[0])
    draw = ImageDraw.Draw(image)
    if kind == "stripes":
        step = rng.randint(8, 20)
        for y in range(0, 224, 2 * step):
            draw.rectangle((0, y, 224, y + step), fill=colours[1])
    elif kind == "checks":
        step = rng.randint(14, 32)
        for y in range(0, 224, step):
            for x in range((y // step) % 2 * step, 224, 2 * step):
                draw.rectangle((x, y, x + step, y + step), fill=colours[1])
    else:
        for _ in range(rng.randint(3, 6)):
            x, y, r = rng.randint(20, 200), rng.randint(20, 200), rng.randint(10, 40)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colours[1])
    return image


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sorted/<kind>/ with 6 pictures each (two one level deeper), new/ with 4 more of each kind."""
    root = tmp_path_factory.mktemp("labelling") / "pictures"
    for n, kind in enumerate(("stripes", "checks", "discs")):
        for k in range(10):
            if k < 6:
                target = root / "sorted" / kind / ("more" if k >= 4 else "") / f"{kind}{k}.png"
            else:
                target = root / "new" / f"{kind}{k}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            _pattern(kind, 100 * n + k).save(target)
    return root.resolve()


@pytest.fixture
def library(tmp_path: Path, folder: Path, embedder: Embedder) -> Iterator[Library]:
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.__dict__["embedder"] = embedder  # the session's model: loaded once
        assert library.index(folder).indexed == 30
        yield library


def test_imported_folder_names_predict_the_held_back_pictures(library: Library, folder: Path) -> None:
    labelling = Labelling(library)
    report = labelling.import_folders(folder / "sorted", "pattern")
    assert sorted((label, n) for label, _, n in report.labels) == [
        ("checks", 6),
        ("discs", 6),
        ("stripes", 6),
    ]
    model, retrained = labelling.model("pattern")
    assert retrained and model.accuracy is not None and model.accuracy >= 0.8
    held_back = [a for a in labelling.answers(folder, "pattern") if a.path.startswith("new/")]
    assert len(held_back) == 12 and not any(a.labelled for a in held_back)
    right = [a for a in held_back if a.guess == Path(a.path).stem.rstrip("0123456789")]
    assert len(right) >= 11, [(a.path, a.guess, a.confidence) for a in held_back]
    assert all(a.label in (a.guess, UNKNOWN) for a in held_back)
    assert labelling.model("pattern") == (model, False)


def test_a_picture_in_two_folders_gets_neither_label_and_the_counts_say_so(
    library: Library, folder: Path
) -> None:
    copy = folder / "sorted/checks/copy.png"
    shutil.copyfile(folder / "sorted/stripes/stripes0.png", copy)
    try:
        assert library.index(folder).reused == 31  # the same picture: nothing to embed
        report = Labelling(library).import_folders(folder / "sorted", "pattern")
        assert report.conflicts == ["sorted/checks/copy.png", "sorted/stripes/stripes0.png"]
        # What each label was given, not what its folder holds (7 checks, 6 stripes).
        counts = sorted((label, n) for label, _, n in report.labels)
        assert counts == [("checks", 6), ("discs", 6), ("stripes", 5)]
        assert report.changed == 17
    finally:
        copy.unlink()
        library.index(folder)


def test_folders_whose_names_differ_only_in_case_give_one_label_with_one_count(
    library: Library, folder: Path
) -> None:
    """ "Checks/" beside "checks/" is one label; the report listed it twice, each with its folder's
    count, so a picture in both was counted twice (a newcomer's run)."""
    extra = folder / "sorted/Checks"
    extra.mkdir()
    shutil.copyfile(folder / "sorted/checks/checks0.png", extra / "same.png")  # in both: counted once
    shutil.copyfile(folder / "new/checks6.png", extra / "other.png")
    try:
        assert library.index(folder).indexed == 0  # the same pictures as before: nothing to embed
        report = Labelling(library).import_folders(folder / "sorted", "pattern")
        assert sorted((label.lower(), folders, n) for label, folders, n in report.labels) == [
            ("checks", ("Checks", "checks"), 7),
            ("discs", ("discs",), 6),
            ("stripes", ("stripes",), 6),
        ]
        assert report.conflicts == []
    finally:
        shutil.rmtree(extra)
        library.index(folder)


def test_answers_and_the_review_queue_read_full_vectors_a_chunk_at_a_time(
    library: Library, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a million images the unlabelled ones' full vectors are 5 GB: never all read at once, and
    chunking changes no answer and no place in the queue."""
    labelling = Labelling(library)
    labelling.import_folders(folder / "sorted", "pattern")
    whole_answers, whole_queue = labelling.answers(folder, "pattern"), labelling.review(folder, "pattern", 5)
    reads: list[int] = []
    real_vectors = library.catalog.vectors

    def counted(model_id: str, keys: Sequence[str]) -> NDArray[np.float32]:
        reads.append(len(keys))
        return real_vectors(model_id, keys)

    monkeypatch.setattr(labelling_module, "PREDICT_CHUNK", 5)
    monkeypatch.setattr(library.catalog, "vectors", counted)
    assert labelling.answers(folder, "pattern") == whole_answers
    assert labelling.review(folder, "pattern", 5) == whole_queue
    # 12 unlabelled images: read 5 + 5 + 2 for the answers, the same for the queue, then the queue's
    # pool of candidates (5 places × 10 candidates: all 12).
    assert reads == [5, 5, 2, 5, 5, 2, 12], reads
    assert len(whole_queue) == 5


def test_answers_filter_and_sort_in_browse_and_name_clusters(library: Library, folder: Path) -> None:
    labelling = Labelling(library)
    labelling.import_folders(folder / "sorted", "pattern")
    predictions = labelling.browse_predictions(folder, "pattern")
    items = [BrowseItem(path, 0, 0, p) for path, p in predictions.items()]
    labelled = [i for i in items if i.prediction and i.prediction.corrected]
    assert len(labelled) == 18
    stripes = filter_items(items, "stripes", 0.0)
    assert {i.relpath for i in stripes} >= {f"sorted/stripes/stripes{k}.png" for k in range(4)}
    ordered = sort_items(items, "prediction")
    assert [i.relpath for i in ordered if i.prediction and i.prediction.best_label] == sorted(
        (i.relpath for i in items if i.prediction and i.prediction.best_label),
        key=lambda p: (predictions[p].best_label, -(predictions[p].answers["pattern"].confidence or 0), p),
    )
    named = labelling.clusters(folder, "pattern", "fine")
    assert any(c.label in ("stripes", "checks", "discs") for c in named.clusters)


def test_labels_follow_copies_wherever_they_are_indexed(
    library: Library, folder: Path, tmp_path: Path
) -> None:
    labelling = Labelling(library)
    labelling.import_folders(folder / "sorted", "pattern")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy2(folder / "sorted" / "discs" / "discs1.png", elsewhere / "copy.png")
    library.index(elsewhere)
    (answer,) = labelling.answers(elsewhere, "pattern")
    assert (answer.path, answer.label, answer.labelled, answer.confidence) == ("copy.png", "discs", True, 1.0)


def test_the_export_has_a_column_per_set(library: Library, folder: Path, tmp_path: Path) -> None:
    labelling = Labelling(library)
    labelling.import_folders(folder / "sorted", "pattern")
    labelling.store.create("mood", ["calm"])
    labelling.label("mood", "calm", [folder / "new" / "discs7.png"])  # one label: nothing to train
    out = tmp_path / "labels.csv"
    assert export_labels(labelling, folder, out) == 30
    with out.open(newline="") as fh:
        rows = {Path(r["path"]).relative_to(folder).as_posix(): r for r in csv.DictReader(fh)}
    header = list(next(iter(rows.values())))
    assert header[:6] == ["path", "source", "scene", "setting", "room", "kind"]
    assert header[-8:] == [
        "set:mood",
        "set:mood:source",
        "set:mood:predicted",
        "set:mood:confidence",
        "set:pattern",
        "set:pattern:source",
        "set:pattern:predicted",
        "set:pattern:confidence",
    ]
    sure = rows["sorted/checks/checks0.png"]
    assert (sure["set:pattern"], sure["set:pattern:source"], sure["set:pattern:confidence"]) == (
        "checks",
        "labelled",
        "1.0",
    )
    new = rows["new/discs7.png"]
    assert new["set:mood"] == "calm" and new["set:pattern:source"] in ("predicted", "")
    assert new["set:pattern:predicted"] in ("stripes", "checks", "discs")
    assert rows["new/discs8.png"]["set:mood"] == "" and rows["new/discs8.png"]["set:mood:source"] == ""
    assert float(new["set:pattern:confidence"]) == pytest.approx(
        next(a.confidence for a in labelling.answers(folder, "pattern") if a.path == "new/discs7.png"),
        abs=1e-4,
    )
    assert np.isfinite([float(r["set:pattern:confidence"]) for r in rows.values()]).all()


def test_shared_photos_of_four_scenes_are_sorted_from_eight_examples_each(
    datasets: Path, tmp_path: Path, embedder: Embedder
) -> None:
    kinds = {"desert": "outdoor", "bamboo_forest": "outdoor", "kitchen": "indoor", "auditorium": "indoor"}
    root = tmp_path / "scenes"
    for kind, side in kinds.items():
        files = sorted((datasets / "sun8_scenes" / side / kind).iterdir())[:12]
        for k, file in enumerate(files):
            target = root / ("sorted" / Path(kind) if k < 8 else Path("new")) / f"{kind}-{k}{file.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.__dict__["embedder"] = embedder
        library.index(root)
        labelling = Labelling(library)
        labelling.import_folders(root / "sorted", "scene")
        held_back = labelling.answers(root / "new", "scene")
    right = [a for a in held_back if a.path.split("/")[-1].startswith(a.guess + "-")]
    assert len(held_back) == 16 and len(right) >= 15, [(a.path, a.guess) for a in held_back]


def test_a_window_can_train_in_a_worker_and_adopt_the_result(library: Library, folder: Path) -> None:
    labelling = Labelling(library)
    labelling.import_folders(folder / "sorted", "pattern")
    data = labelling.training_data("pattern")  # read on the thread that owns the catalog
    assert data is not None and len(data.targets) == 18
    with ThreadPoolExecutor(1) as worker:  # the worker touches no SQLite
        model = worker.submit(
            train_label_model, data.vectors, data.targets, data.label_set.labels, fingerprint=data.fingerprint
        ).result()
    labelling.adopt(data.label_set, model)
    assert labelling.training_data("pattern") is None
    assert Labelling(library).training_data("pattern") is None  # the next process finds it on disk
    cache = library.data_dir / MODELS_FOLDER / f"set-{data.label_set.id}.npz"
    cache.write_bytes(b"damaged")
    assert Labelling(library).model("pattern")[1] is True  # a damaged cache is trained again
    labelling.label("pattern", "discs", [folder / "new" / "stripes7.png"])
    assert labelling.training_data("pattern") is not None  # a label changed: train again


def test_answers_and_review_from_one_read_are_those_asked_for_apart(
    library: Library, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window asks for both after every retrain: one read of the folder and one prediction
    pass (the unlabelled vectors read once, not twice) give the same answers and queue."""
    labelling = Labelling(library)
    labelling.import_folders(folder / "sorted", "pattern")
    model = labelling.model("pattern")[0]
    apart = labelling.answers(folder, "pattern", model), labelling.review(folder, "pattern", 5)
    reads: list[int] = []
    real_vectors = library.catalog.vectors

    def counted(model_id: str, keys: Sequence[str]) -> NDArray[np.float32]:
        reads.append(len(keys))
        return real_vectors(model_id, keys)

    monkeypatch.setattr(library.catalog, "vectors", counted)
    said = labelling.folder_answers(folder, "pattern", model)
    assert (said.answers(), said.review(5)) == apart
    assert reads == [12, 12]  # the 12 unlabelled once for the guesses, then the queue's candidates
