"""`sorter correct` and `sorter export`, in-process, on flat colours the tiny model answers predictably:
reds are indoor kitchens, blues outdoor, greys an unsure scene (tests/tiny_model.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sorter_app.cli import main
from tests.tiny_model import write_tiny_model

SHADES = {"red": (255, 0, 0), "blue": (0, 0, 255), "grey": (128, 128, 128)}


class Sorter:
    def __init__(self, capsys: pytest.CaptureFixture[str], data: Path) -> None:
        self.capsys, self.data = capsys, data

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--data-dir", str(self.data)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (r, g, b) in SHADES.items():
        for k in range(4):
            Image.new("RGB", (300, 240), (r, g + 3 * k, b)).save(folder / f"{name}{k}.png")
    return folder.resolve()


@pytest.fixture
def sorter(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Sorter:
    write_tiny_model(tmp_path / "res" / "models")
    monkeypatch.setenv("SORTER_RESOURCES_DIR", str(tmp_path / "res"))
    runner = Sorter(capsys, tmp_path / "data")
    assert runner.json("index", str(photos))["indexed"] == 12
    return runner


def _predicted(sorter: Sorter, photos: Path) -> dict[str, dict[str, Any]]:
    return {Path(r["path"]).name: r for r in sorter.json("predict", str(photos))}


def test_correct_overrides_the_prediction_and_clear_undoes_it(sorter: Sorter, photos: Path) -> None:
    said = sorter.json("correct", str(photos), str(photos / "blue0.png"), "kitchen")
    assert said["path"] == str(photos / "blue0.png")
    assert (said["scene"], said["scene_corrected"], said["room"], said["room_corrected"]) == (
        "indoor",
        True,
        "kitchen",
        True,
    )
    assert _predicted(sorter, photos)["blue0.png"] == said
    assert _predicted(sorter, photos)["blue1.png"]["scene_corrected"] is False
    code, out, _ = sorter("correct", "--clear", str(photos), str(photos / "blue0.png"))
    assert code == 0 and out.strip() == f"{photos / 'blue0.png'}: scene outdoor 1.00"
    assert _predicted(sorter, photos)["blue0.png"]["scene_corrected"] is False


def test_correct_says_what_is_now_believed(sorter: Sorter, photos: Path) -> None:
    code, out, _ = sorter("correct", str(photos), str(photos / "red0.png"), "outdoor")
    assert (code, out.strip()) == (0, f"{photos / 'red0.png'}: scene outdoor (corrected)")


def test_correct_refuses_bad_labels_and_bad_arguments(sorter: Sorter, photos: Path) -> None:
    image = str(photos / "red0.png")
    code, _, err = sorter("correct", str(photos), image, "garage")
    assert code == 1
    assert err.strip() == (
        "sorter: error: unknown label 'garage'; choose one of indoor, outdoor, bathroom, bedroom, "
        "dining_room, entrance_hall, kitchen, living_room"
    )
    assert sorter("correct", str(photos), image)[0] == 2
    assert sorter("correct", "--clear", str(photos), image, "indoor")[0] == 2
    assert _predicted(sorter, photos)["red0.png"]["scene_corrected"] is False


def test_export_groups_by_the_clusters_the_user_sees(sorter: Sorter, photos: Path, tmp_path: Path) -> None:
    sorter.json("correct", str(photos), str(photos / "grey0.png"), "bedroom")
    clusters = sorter.json("clusters", str(photos), "--granularity", "fine")
    expected = {Path(p).name: c["label"] for c in clusters["clusters"] for p in c["paths"]}
    expected |= {Path(p).name: "unsorted" for p in clusters["unsorted"]}
    assert len(clusters["clusters"]) >= 2
    out = tmp_path / "labels.csv"
    assert sorter.json("export", str(photos), "-o", str(out), "--clusters", "fine") == {
        "output": str(out),
        "images": 12,
    }
    with out.open(newline="") as fh:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
    assert {name: r["group"] for name, r in rows.items()} == expected
    assert (rows["grey0.png"]["scene"], rows["grey0.png"]["room"], rows["grey0.png"]["label_source"]) == (
        "indoor",
        "bedroom",
        "corrected",
    )


def test_export_without_clusters_leaves_groups_empty(sorter: Sorter, photos: Path, tmp_path: Path) -> None:
    code, out, _ = sorter("export", str(photos), "-o", str(tmp_path / "labels.json"))
    assert (code, out.strip()) == (0, f"wrote 12 images to {tmp_path / 'labels.json'}")
    images = json.loads((tmp_path / "labels.json").read_text())["images"]
    assert len(images) == 12 and {image["group"] for image in images} == {""}


def test_export_refuses_other_file_types(sorter: Sorter, photos: Path, tmp_path: Path) -> None:
    code, _, err = sorter("export", str(photos), "-o", str(tmp_path / "labels.xlsx"))
    assert code == 1 and "must end in .csv or .json" in err
    assert not (tmp_path / "labels.xlsx").exists()


def test_rate_gives_stars_or_rejects_and_export_carries_them(
    sorter: Sorter, photos: Path, tmp_path: Path
) -> None:
    rated = sorter.json(
        "rate", str(photos), str(photos / "red0.png"), str(photos / "blue1.png"), "--stars", "4"
    )
    assert rated == [
        {"path": str(photos / "red0.png"), "rating": 4},
        {"path": str(photos / "blue1.png"), "rating": 4},
    ]
    code, out, _ = sorter("rate", str(photos), str(photos / "blue1.png"), "--reject")
    assert (code, out) == (0, f"{photos / 'blue1.png'}: rejected\n")
    code, _, err = sorter(
        "rate", str(photos), str(photos / "red1.png"), str(photos / "nowhere.png"), "--stars", "2"
    )
    assert code != 0 and "nowhere.png is not indexed" in err  # checked first: red1 is not rated either
    with pytest.raises(SystemExit) as usage:
        sorter("rate", str(photos), str(photos / "red1.png"), "--stars", "6")
    assert usage.value.code == 2 and "invalid choice: 6" in sorter.capsys.readouterr().err
    sorter("export", str(photos), "-o", str(tmp_path / "labels.csv"))
    with (tmp_path / "labels.csv").open(encoding="utf-8") as fh:
        ratings = {Path(r["path"]).name: r["rating"] for r in csv.DictReader(fh)}
    assert {name: r for name, r in ratings.items() if r != "0"} == {"red0.png": "4", "blue1.png": "-1"}
