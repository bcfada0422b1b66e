"""A model with a kind head: graphics get no scene and no room, everywhere the app says what it sees.

The tiny model (tests/tiny_model.py, `kind=True`) calls green images graphics and everything else
photos; red is an indoor kitchen, blue outdoor, grey an unsure scene. Real ONNX, real SQLite.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from sorter_app.cli import main
from sorter_app.core.corrections import correction_labels
from sorter_app.core.library import Library
from sorter_app.core.predictions import Prediction
from tests.tiny_model import GRAPHIC, write_colour_photos, write_tiny_model


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = write_colour_photos(tmp_path / "photos").resolve()
    name, colour = GRAPHIC
    Image.new("RGB", (300, 240), colour).save(folder / name)
    return folder


@pytest.fixture
def sidecar(tmp_path: Path) -> Path:
    return write_tiny_model(tmp_path / "resources" / "models", kind=True)


@pytest.fixture
def library(tmp_path: Path, sidecar: Path, photos: Path) -> Iterator[Library]:
    with Library(tmp_path / "data", sidecar) as lib:
        lib.index(photos)
        yield lib


def _said(prediction: Prediction) -> dict[str, str | None]:
    return {head: answer.label for head, answer in prediction.answers.items()}


def _by_name(library: Library, photos: Path) -> dict[str, dict[str, str | None]]:
    return {p.path: _said(p) for p in library.predictions(photos)}


def test_a_graphic_gets_no_scene_and_no_room(library: Library, photos: Path) -> None:
    got = _by_name(library, photos)
    assert got["green.png"] == {"kind": "graphic", "scene": None, "room": None}
    assert got["red.png"] == {"kind": "photo", "scene": "indoor", "room": "kitchen"}
    assert got["blue.png"] == {"kind": "photo", "scene": "outdoor", "room": None}
    assert got["grey.png"] == {"kind": "photo", "scene": "unknown", "room": None}


def test_predict_json_rows_lead_with_kind_and_its_confidence(
    photos: Path,
    sidecar: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SORTER_RESOURCES_DIR", str(sidecar.parent.parent))
    data = ["--data-dir", str(tmp_path / "cli-data")]
    assert main(["index", str(photos), *data]) == 0
    capsys.readouterr()
    assert main(["predict", str(photos), "--json", *data]) == 0
    rows = {Path(r["path"]).name: r for r in json.loads(capsys.readouterr().out)}
    assert list(rows["green.png"])[:4] == ["path", "kind", "kind_confidence", "kind_corrected"]
    green = rows["green.png"]
    assert (green["kind"], green["scene"], green["scene_confidence"], green["room"]) == (
        "graphic",
        None,
        None,
        None,
    )
    assert green["kind_confidence"] > 0.99
    assert (rows["red.png"]["kind"], rows["red.png"]["room"]) == ("photo", "kitchen")


def test_the_user_can_say_graphic_and_it_clears_scene_and_room(library: Library, photos: Path) -> None:
    assert correction_labels(library.spec)[:2] == ["photo", "graphic"]  # kind first: the others depend on it
    library.correct(photos, photos / "red.png", "kitchen")
    assert _said(library.correct(photos, photos / "red.png", "graphic")) == {
        "kind": "graphic",
        "scene": None,
        "room": None,
    }
    # A room said about a graphic makes it a photo again, indoors.
    after = library.correct(photos, photos / "green.png", "bathroom")
    assert _said(after) == {"kind": "photo", "scene": "indoor", "room": "bathroom"}
    assert all(answer.corrected for answer in after.answers.values())


def test_clusters_of_graphics_are_named_graphic(library: Library, photos: Path) -> None:
    for i in range(3):
        Image.new("RGB", (300, 240), (0, 255 - 10 * i, 0)).save(photos / f"chart{i}.png")
    library.index(photos)
    names = [c.name for c in library.clusters(photos, "fine").clusters]
    assert any(name.startswith("graphic · ") for name in names), names
    assert not any(name.startswith(("outdoor", "indoor")) and "chart" in name for name in names)


def test_export_has_the_kind_columns(library: Library, photos: Path, tmp_path: Path) -> None:
    library.correct(photos, photos / "grey.png", "graphic")
    target = tmp_path / "labels.csv"
    library.export(photos, target)
    with target.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns, rows = list(reader.fieldnames or []), {Path(r["path"]).name: r for r in reader}
    assert columns[:5] == ["path", "source", "scene", "room", "kind"]
    assert {"kind_predicted", "kind_confidence"} <= set(columns)
    assert (rows["green.png"]["kind"], rows["green.png"]["scene"], rows["green.png"]["kind_predicted"]) == (
        "graphic",
        "",
        "graphic",
    )
    assert (
        rows["grey.png"]["kind"],
        rows["grey.png"]["kind_predicted"],
        rows["grey.png"]["label_source"],
    ) == (
        "graphic",
        "photo",
        "corrected",
    )
    assert rows["red.png"]["kind"] == "photo"
