"""Predictions are stored while indexing and said as "unknown" when the model is unsure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sorter_app.cli import main
from sorter_app.core import predictions
from sorter_app.core.catalog import Catalog
from sorter_app.core.errors import SorterError
from sorter_app.core.library import Library
from sorter_app.core.model_spec import load_spec
from sorter_app.core.predictions import (
    NOT_APPLICABLE,
    UNKNOWN,
    HeadAnswer,
    Prediction,
    StoredPrediction,
    _ColumnWriter,
    answer,
    answer_codes,
    folder_prediction_columns,
    prediction_heads,
    resolve,
)
from sorter_app.paths import bundled_model_sidecar
from tests.tiny_model import write_colour_photos, write_tiny_model


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return write_colour_photos(tmp_path / "photos")


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    with Library(tmp_path / "data", write_tiny_model(tmp_path / "resources" / "models")) as lib:
        yield lib


def test_indexing_stores_predictions_in_the_same_pass(photos: Path, library: Library) -> None:
    report = library.index(photos)
    assert report.indexed == 4
    by_name = {p.path: p.to_json() for p in library.predictions(photos)}
    assert by_name["red.png"]["scene"] == "indoor" and by_name["red.png"]["room"] == "kitchen"
    assert by_name["red.png"]["room_confidence"] > 0.9
    assert library.index(photos).indexed == 0  # nothing left to compute


def test_unknown_below_the_threshold_and_room_only_indoors(photos: Path, library: Library) -> None:
    library.index(photos)
    got = {p.path: p.to_json() for p in library.predictions(photos)}
    assert (got["dark-red.png"]["scene"], got["dark-red.png"]["room"]) == ("indoor", "unknown")
    assert got["dark-red.png"]["room_confidence"] < 0.5
    assert (got["blue.png"]["scene"], got["blue.png"]["room"], got["blue.png"]["room_confidence"]) == (
        "outdoor",
        None,
        None,
    )
    assert (got["grey.png"]["scene"], got["grey.png"]["room"]) == ("unknown", None)
    assert 0.4 < got["grey.png"]["scene_confidence"] < 0.7


def test_clusters_are_named_after_what_their_members_show(photos: Path, library: Library) -> None:
    for i in range(3):
        Image.new("RGB", (300, 240), (255, 10 * i, 0)).save(photos / f"red{i}.png")
    library.index(photos)
    names = [c.name for c in library.clusters(photos, "fine").clusters]
    assert any(name.startswith("kitchen · ") for name in names)


def test_a_model_without_heads_says_so(photos: Path, tmp_path: Path) -> None:
    with Library(tmp_path / "plain", write_tiny_model(tmp_path / "plain-model", heads=False)) as library:
        library.index(photos)
        with pytest.raises(SorterError, match="makes no scene or room predictions"):
            library.predictions(photos)


def test_predict_command_json_shape(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny_model(tmp_path / "res" / "models")
    monkeypatch.setenv("SORTER_RESOURCES_DIR", str(tmp_path / "res"))
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["index", str(photos), *data]) == 0
    capsys.readouterr()
    assert main(["predict", str(photos), "--json", *data]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [set(r) for r in rows] == [
        {"path", "scene", "scene_confidence", "scene_corrected", "room", "room_confidence", "room_corrected"}
    ] * 4
    assert {Path(r["path"]).name: r["room"] for r in rows}["red.png"] == "kitchen"


def test_a_matrix_of_rows_is_answered_as_each_row_alone() -> None:
    """The folder's answers come from one numpy pass per head; they must be the per-image answers,
    a float32 confidence against a float64 threshold included: float32(0.7) is just under 0.7."""
    rng = np.random.default_rng(3)
    rows = rng.dirichlet(np.ones(4), size=500).astype(np.float32)
    rows[7] = [0.7, 0.1, 0.1, 0.1]
    head = {"labels": ["a", "b", "c", "d"], "unknown_below": 0.7}
    codes, confidences = answer_codes(rows, head)
    table = ["a", "b", "c", "d", UNKNOWN]
    answered = [HeadAnswer(table[code], float(c)) for code, c in zip(codes, confidences, strict=True)]
    assert answered == [answer(row, head) for row in rows]
    assert answered[7].label == UNKNOWN
    assert {a.label for a in answered} == {"a", "b", "c", "d", UNKNOWN}


def test_a_folder_s_answers_kept_as_columns_read_back_as_given() -> None:
    """Browse holds a folder's answers as arrays (half a gigabyte of answer objects at a million
    images otherwise): every kind of answer reads back equal, the model's own where corrected."""
    kitchen, unsure = HeadAnswer("kitchen", 0.8125), HeadAnswer(UNKNOWN, 0.40625)
    rows = [
        ({"scene": HeadAnswer("indoor", 0.9), "room": kitchen}, None),
        ({"scene": HeadAnswer("outdoor", 0.75), "room": NOT_APPLICABLE}, None),
        (
            {"scene": HeadAnswer("indoor", 1.0, corrected=True), "room": unsure},
            {"scene": HeadAnswer("outdoor", 0.5)},
        ),
        ({"scene": HeadAnswer("a label of the user's", None)}, None),
    ]
    writer = _ColumnWriter(["scene", "room"], len(rows))
    for row, (answers, model) in enumerate(rows):
        writer.put(row, answers, model if model is not None else answers)
    columns = writer.columns()
    read = [StoredPrediction(f"p{row}.jpg", columns, row) for row in range(len(rows))]
    assert read[0].answers == {"scene": HeadAnswer("indoor", float(np.float32(0.9))), "room": kitchen}
    assert read[1].answers == rows[1][0] and read[1].best_label == "outdoor"
    assert read[2].answers == rows[2][0] and read[2].corrected
    assert (
        read[2].model_answer("scene") == HeadAnswer("outdoor", 0.5) and read[2].model_answer("room") == unsure
    )
    assert read[3].answers == {"scene": HeadAnswer("a label of the user's", None), "room": NOT_APPLICABLE}
    assert read[1] == Prediction("p1.jpg", rows[1][0])


def test_the_best_labels_of_a_folder_s_columns_are_each_prediction_s() -> None:
    """Clusters are named from `PredictionColumns.best_labels`, one numpy pass: for every mix of
    kind, scene and room answers (a photo names nothing, "unknown" names nothing, a graphic does)
    it is what each image's own `Prediction.best_label` says."""
    heads = ["kind", "scene", "room"]
    choices = {
        "kind": [
            HeadAnswer("photo", 0.9),
            HeadAnswer("graphic", 0.8),
            HeadAnswer(UNKNOWN, 0.3),
            NOT_APPLICABLE,
        ],
        "scene": [
            HeadAnswer("indoor", 0.9),
            HeadAnswer("outdoor", 0.7),
            HeadAnswer(UNKNOWN, 0.4),
            NOT_APPLICABLE,
        ],
        "room": [
            HeadAnswer("kitchen", 0.9),
            HeadAnswer("bathroom", 1.0, corrected=True),
            HeadAnswer(UNKNOWN, 0.2),
            NOT_APPLICABLE,
        ],
    }
    rng = np.random.default_rng(5)
    rows = [{h: choices[h][int(rng.integers(len(choices[h])))] for h in heads} for _ in range(400)]
    writer = _ColumnWriter(heads, len(rows))
    for row, answers in enumerate(rows):
        writer.put(row, answers, answers)
    columns = writer.columns()
    expected = [Prediction(f"p{row}.jpg", answers).best_label for row, answers in enumerate(rows)]
    assert columns.best_labels == expected
    assert [StoredPrediction(f"p{r}.jpg", columns, r).best_label for r in range(len(rows))] == expected
    assert {None, "graphic", "indoor", "outdoor", "kitchen", "bathroom"} == set(expected)


def test_a_folder_s_columns_are_each_image_s_own_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's answers are made a head at a time over whole columns, its `only_when` conditions
    as comparisons of codes: each row must be what `resolve` gives that image alone, with heads
    missing, corrections (a label of the user's among them) and chunks of the folder."""
    spec = load_spec(bundled_model_sidecar())  # kind; scene only for a photo; room only indoors
    heads = prediction_heads(spec)
    rng = np.random.default_rng(11)
    hashes = [f"{i:032x}" for i in range(700)]
    stored: dict[str, dict[str, np.ndarray]] = {}
    for content_hash in hashes:
        for name, head in heads.items():
            if rng.random() > 0.1:  # some contents lack a head's answer
                sharp = rng.dirichlet(np.full(len(head["labels"]), 0.4)).astype(np.float32)
                stored.setdefault(content_hash, {})[name] = sharp
    corrections = {
        hashes[3]: {"scene": "outdoor"},
        hashes[10]: {"kind": "graphic"},
        hashes[20]: {"room": "a room of the user's"},
        hashes[21]: {"scene": "indoor", "room": "kitchen"},
        hashes[650]: {"kind": "photo"},
    }
    monkeypatch.setattr(predictions, "_PREDICTION_CHUNK", 256)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        with catalog.transaction():
            catalog.upsert_predictions(
                spec.model_id, [(h, name, p) for h, said in stored.items() for name, p in said.items()]
            )
        for content_hash, corrected in corrections.items():
            for name, label in corrected.items():
                catalog.set_correction(content_hash, name, label)
        columns = folder_prediction_columns(catalog, spec, hashes)

    for row, content_hash in enumerate(hashes):
        read = StoredPrediction(f"p{row}.jpg", columns, row)
        assert read.answers == resolve(stored.get(content_hash, {}), heads, corrections.get(content_hash))
        model_only = resolve(stored.get(content_hash, {}), heads)
        assert {name: read.model_answer(name) for name in heads} == model_only
    labels = {a.label for row in range(len(hashes)) for a in columns.answers(row).values()}
    assert {
        None,
        UNKNOWN,
        "photo",
        "graphic",
        "indoor",
        "outdoor",
        "kitchen",
    } <= labels


def test_contents_without_stored_answers_have_none_in_the_folder_s_columns(tmp_path: Path) -> None:
    """A chunk with no stored probabilities for a head (here for any head: contents indexed, their
    answers not yet made) reads back as no answer, not as an error."""
    spec = load_spec(bundled_model_sidecar())
    heads = prediction_heads(spec)
    kind_only = {"kind": np.array([0.9, 0.1], dtype=np.float32)}
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        nothing = folder_prediction_columns(catalog, spec, ["0" * 32, "1" * 32])
        with catalog.transaction():
            catalog.upsert_predictions(spec.model_id, [("2" * 32, "kind", kind_only["kind"])])
        only_kind = folder_prediction_columns(catalog, spec, ["2" * 32])
    assert [nothing.answers(row) for row in range(2)] == [resolve({}, heads)] * 2
    assert only_kind.answers(0) == resolve(kind_only, heads)


def test_copied_answers_are_the_source_model_s_for_the_asked_contents_and_heads(tmp_path: Path) -> None:
    """A model that keeps another's heads node for node (`ModelSpec.answers_from`) takes that
    model's stored answers as its own: only for the contents asked, only for the heads named and
    of their width, never over an answer it already has, none for content never answered."""
    a, b, c = "a" * 32, "b" * 32, "c" * 32
    p = {h: np.array([0.2, 0.8], dtype=np.float32) for h in ("kind", "scene", "room")}
    mine = np.array([0.6, 0.4], dtype=np.float32)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        with catalog.transaction():
            catalog.upsert_predictions("base", [(h, head, p[head]) for h in (a, b) for head in p])
            catalog.upsert_predictions("sets", [(a, "scene", mine)])
        with catalog.transaction():
            added = catalog.copy_answers("sets", {"kind": ("base", 2), "scene": ("base", 2)}, [a, c])
            assert catalog.copy_answers("sets", {"room": ("base", 6)}, [a, b, c]) == 0  # not 6 wide
        assert added == 1  # a's kind; a's scene was there already; c was never answered by base
        assert catalog.prediction_matrix("sets", "kind", [a, b, c])[0] == [a]
        assert np.array_equal(catalog.prediction_matrix("sets", "scene", [a])[1][0], mine)
        assert catalog.prediction_matrix("sets", "room", [a, b, c])[0] == []
