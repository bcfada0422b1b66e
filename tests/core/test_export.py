"""A folder's labels and grouping as CSV or JSON: the user's corrections first, the model's answers beside.

The tiny model answers flat colours predictably (tests/tiny_model.py): red is an indoor kitchen,
dark red indoor with no confident room, blue outdoor, grey an unsure scene.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sorter_app.core.errors import SorterError
from sorter_app.core.export import folder_export, to_csv
from sorter_app.core.library import Library
from sorter_app.core.predictions import HeadAnswer, Prediction
from sorter_app.core.ratings import REJECTED, set_ratings
from tests.tiny_model import COLOURS

COLUMNS = [
    "path",
    "source",
    "scene",
    "room",
    "kind",
    "group",
    "rating",
    "label_source",
    "scene_predicted",
    "scene_confidence",
    "room_predicted",
    "room_confidence",
]


@pytest.fixture
def library(colour_lib: Library, colour_photos: Path) -> Library:
    """The colour photos indexed, blue corrected to a kitchen."""
    colour_lib.correct(colour_photos, colour_photos / "blue.png", "kitchen")
    return colour_lib


@pytest.fixture
def photos(colour_photos: Path) -> Path:
    return colour_photos


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_csv_rows_say_the_users_label_else_the_models_confident_one(
    library: Library, photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "labels.csv"
    groups = {"red.png": "reds", "dark-red.png": "reds", "blue.png": "sky"}
    assert library.export(photos, out, groups) == 4
    columns, rows = _read_csv(out)
    assert columns == COLUMNS
    by_name = {Path(r["path"]).name: r for r in rows}
    assert [r["path"] for r in rows] == [str(photos / name) for name in sorted(COLOURS)]
    assert {r["source"] for r in rows} == {"image-sorter:photos"} and {r["kind"] for r in rows} == {"photo"}
    said = {name: (r["scene"], r["room"], r["group"], r["label_source"]) for name, r in by_name.items()}
    assert said == {
        "blue.png": ("indoor", "kitchen", "sky", "corrected"),
        "dark-red.png": ("indoor", "", "reds", "predicted"),
        "grey.png": ("", "", "", ""),
        "red.png": ("indoor", "kitchen", "reds", "predicted"),
    }
    models = {name: (r["scene_predicted"], r["room_predicted"]) for name, r in by_name.items()}
    assert models == {
        "blue.png": ("outdoor", ""),  # the model's own answer, whatever the user said
        "dark-red.png": ("indoor", "unknown"),
        "grey.png": ("unknown", ""),
        "red.png": ("indoor", "kitchen"),
    }
    assert (
        float(by_name["blue.png"]["scene_confidence"]) > 0.9 and by_name["blue.png"]["room_confidence"] == ""
    )
    assert float(by_name["dark-red.png"]["room_confidence"]) < 0.5


def test_json_holds_the_same_rows_with_nulls_and_numbers(
    library: Library, photos: Path, tmp_path: Path
) -> None:
    items = {item.relpath: item.content_hash or "" for item in library.browse_items(photos)}
    set_ratings(library.catalog, {items["red.png"]: 5, items["grey.png"]: REJECTED})
    library.export(photos, tmp_path / "labels.csv", {"red.png": "reds"})
    assert library.export(photos, tmp_path / "labels.JSON", {"red.png": "reds"}) == 4
    data = json.loads((tmp_path / "labels.JSON").read_text(encoding="utf-8"))
    assert list(data) == ["folder", "model_id", "exported_at", "images"]
    assert (data["folder"], data["model_id"]) == (str(photos), "tiny-test-model")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["exported_at"])
    images: list[dict[str, Any]] = data["images"]
    assert [list(image) for image in images] == [COLUMNS] * 4
    assert {Path(i["path"]).name: i["rating"] for i in images} == {
        "blue.png": 0, "dark-red.png": 0, "grey.png": -1, "red.png": 5,
    }  # fmt: skip
    blue = images[0]
    assert (blue["room_predicted"], blue["room_confidence"], type(blue["scene_confidence"])) == (
        None,
        None,
        float,
    )
    as_text = [{k: "" if v is None else str(v) for k, v in image.items()} for image in images]
    assert as_text == _read_csv(tmp_path / "labels.csv")[1]


def test_a_new_export_replaces_the_old_file_whole(library: Library, photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "labels.csv"
    library.export(photos, out, {name: "first" for name in COLOURS})
    library.clear_correction(photos, photos / "blue.png")
    library.export(photos, out)
    _, rows = _read_csv(out)
    blue = rows[0]
    assert (Path(blue["path"]).name, blue["scene"], blue["label_source"]) == (
        "blue.png",
        "outdoor",
        "predicted",
    )
    assert {r["group"] for r in rows} == {""}
    assert [p.name for p in out.parent.iterdir()] == ["labels.csv"]  # no temp file left behind


def test_only_csv_and_json_names_are_accepted(library: Library, photos: Path, tmp_path: Path) -> None:
    with pytest.raises(SorterError, match=r"labels\.txt: the name must end in \.csv or \.json"):
        library.export(photos, tmp_path / "out" / "labels.txt")
    assert not (tmp_path / "out").exists()


def test_a_folder_never_indexed_cannot_be_exported(library: Library, tmp_path: Path) -> None:
    (tmp_path / "unseen").mkdir()
    with pytest.raises(SorterError, match="not indexed yet"):
        library.export(tmp_path / "unseen", tmp_path / "labels.csv")
    assert not (tmp_path / "labels.csv").exists()


def test_columns_follow_the_models_heads() -> None:
    prediction = Prediction("a.jpg", {"vehicle": HeadAnswer("car", 0.91234)})
    text = to_csv(folder_export(Path("/cars"), "m", ["vehicle"], [prediction], {"a.jpg": "road"}))
    assert text.splitlines() == [
        "path,source,vehicle,kind,group,rating,label_source,vehicle_predicted,vehicle_confidence",
        "/cars/a.jpg,image-sorter:cars,car,photo,road,0,predicted,car,0.9123",
    ]
