"""`sorter labels …` end to end, in-process, on real image files and a real (tiny) ONNX model whose
embedding is the photo's mean colour (tests/tiny_model.py): reds, greens and blues are three easy
labels, so what is checked is the plumbing — shapes, retraining, plans, undo — not the classifier."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.cli.test_label_cli import Sorter
from tests.core.move_support import snapshot
from tests.tiny_model import write_tiny_model

BASES = {"reds": (220, 30, 30), "greens": (30, 200, 40), "blues": (30, 40, 220)}


def shade(path: Path, base: tuple[int, int, int], seed: int) -> Path:
    rng = random.Random(seed)
    colour = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in base)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64 + seed % 7, 48), colour).save(path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """sorted/<colour>/ holds 6 shades each (one in a nested folder); new/ holds 3 more of each."""
    root = tmp_path / "photos"
    for n, (name, base) in enumerate(BASES.items()):
        for k in range(6):
            folder = root / "sorted" / name / ("deeper" if k == 5 else "")
            shade(folder / f"{name}-{k}.png", base, 10 * n + k)
        for k in range(3):
            shade(root / "new" / f"{name[:-1]}-{k}.png", base, 100 + 10 * n + k)
    (root / "sorted" / "empty").mkdir()
    return root.resolve()


@pytest.fixture
def sorter(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Sorter:
    write_tiny_model(tmp_path / "res" / "models")
    monkeypatch.setenv("SORTER_RESOURCES_DIR", str(tmp_path / "res"))
    runner = Sorter(capsys, tmp_path / "data")
    assert runner.json("index", str(photos))["indexed"] == 27
    return runner


def test_import_folders_then_predict_has_the_fixed_shape(sorter: Sorter, photos: Path) -> None:
    imported = sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    assert {(d["label"], d["images"]) for d in imported["labels"]} == {
        ("reds", 6),
        ("greens", 6),
        ("blues", 6),
    }
    assert imported["skipped"] == [{"folder": "empty", "reason": "holds no indexed images"}]
    assert imported["changed"] == 18
    rows = sorter.json("labels", "predict", str(photos), "--set", "colour")
    assert len(rows) == 27 and all(set(r) == {"path", "label", "confidence", "labelled"} for r in rows)
    by_path = {Path(r["path"]).relative_to(photos).as_posix(): r for r in rows}
    assert by_path["sorted/reds/deeper/reds-5.png"] == {
        "path": str(photos / "sorted/reds/deeper/reds-5.png"),
        "label": "reds",
        "confidence": 1.0,
        "labelled": True,
    }
    for name in BASES:
        for k in range(3):
            row = by_path[f"new/{name[:-1]}-{k}.png"]
            assert (row["label"], row["labelled"]) == (name, False)
            assert 0.0 < row["confidence"] < 1.0
    only_new = sorter.json("labels", "predict", str(photos / "new"), "--set", "colour")
    assert sorted(r["path"] for r in only_new) == sorted(str(p) for p in (photos / "new").iterdir())


def test_unknown_below_the_threshold_and_all_gives_the_best_guess(sorter: Sorter, photos: Path) -> None:
    sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    assert sorter.json("labels", "train", "--set", "colour")["retrained"] is True
    Image.new("RGB", (60, 40), (128, 128, 128)).save(photos / "new" / "grey.png")
    sorter.json("index", str(photos))
    trained = sorter.json("labels", "train", "--set", "colour")
    assert trained["retrained"] is False  # the new grey image changed no label
    grey = next(
        r for r in sorter.json("labels", "predict", str(photos), "--set", "colour") if "grey" in r["path"]
    )
    guessed = next(
        r
        for r in sorter.json("labels", "predict", str(photos), "--set", "colour", "--all")
        if "grey" in r["path"]
    )
    assert grey["confidence"] < trained["threshold"] and grey["label"] == "unknown"
    assert guessed["label"] in BASES and guessed["confidence"] == grey["confidence"]


def test_it_retrains_exactly_when_the_labels_change(sorter: Sorter, photos: Path) -> None:
    sorter.json("labels", "create", "colour", "reds", "blues")
    sorter.json(
        "labels", "add", "--set", "colour", "reds", *map(str, (photos / "sorted" / "reds").glob("*.png"))
    )
    sorter.json(
        "labels", "add", "--set", "colour", "blues", *map(str, (photos / "sorted" / "blues").glob("*.png"))
    )
    first = sorter.json("labels", "train", "--set", "colour")
    assert first["retrained"] is True and [q["label"] for q in first["labels"]] == ["reds", "blues"]
    assert sorter.json("labels", "train", "--set", "colour")["retrained"] is False
    sorter.json("labels", "add", "--set", "colour", "greens", str(photos / "sorted/greens/greens-0.png"))
    again = sorter.json("labels", "train", "--set", "colour")
    assert again["retrained"] is True and [q["label"] for q in again["labels"]] == ["reds", "blues", "greens"]
    code, _, err = sorter("labels", "predict", str(photos), "--set", "colour")
    assert code == 0 and "trained colour" not in err  # up to date: not trained again


def test_labels_follow_a_move_by_label_and_undo_restores_every_byte(
    sorter: Sorter, photos: Path, tmp_path: Path
) -> None:
    sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    before = snapshot(photos)
    plan_file = tmp_path / "plan.json"
    plan = sorter.json("labels", "plan", str(photos / "new"), "--set", "colour", "-o", str(plan_file))
    assert sorted((Path(m["src"]).name, Path(m["dst"]).parent.name) for m in plan["moves"]) == sorted(
        (f"{name[:-1]}-{k}.png", name) for name in BASES for k in range(3)
    )
    assert all(Path(m["dst"]).parent.parent == photos / "new" for m in plan["moves"])
    moved = sorter.json("move", "--plan", str(plan_file))
    assert moved["moved"] == 9
    assert (photos / "new" / "reds" / "red-0.png").is_file()
    sorter.json("labels", "add", "--set", "colour", "reds", str(photos / "new" / "reds" / "red-0.png"))
    undone = sorter.json("undo")
    assert undone["restored"] == 9 and snapshot(photos) == before
    rows = {r["path"]: r for r in sorter.json("labels", "predict", str(photos), "--set", "colour")}
    assert rows[str(photos / "new" / "red-0.png")]["labelled"] is True  # the label followed it back


def test_a_copy_carries_the_label(sorter: Sorter, photos: Path) -> None:
    sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    shutil.copy2(photos / "sorted" / "blues" / "blues-1.png", photos / "new" / "copy.png")
    sorter.json("index", str(photos))
    rows = {r["path"]: r for r in sorter.json("labels", "predict", str(photos / "new"), "--set", "colour")}
    assert rows[str(photos / "new" / "copy.png")] == {
        "path": str(photos / "new" / "copy.png"),
        "label": "blues",
        "confidence": 1.0,
        "labelled": True,
    }


def test_min_confidence_keeps_unsure_images_in_place(sorter: Sorter, photos: Path, tmp_path: Path) -> None:
    sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    out = tmp_path / "plan.json"
    plan = sorter.json(
        "labels", "plan", str(photos / "new"), "--set", "colour", "--min-confidence", "1.0", "-o", str(out)
    )
    assert plan["moves"] == []
    plan = sorter.json(
        "labels", "plan", str(photos / "new"), "--set", "colour", "--label", "Blues", "-o", str(out)
    )
    assert {Path(m["dst"]).parent.name for m in plan["moves"]} == {"blues"}


def test_review_starts_with_the_least_confident(sorter: Sorter, photos: Path) -> None:
    sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    queue = sorter.json("labels", "review", str(photos), "--set", "colour", "--top", "50")
    assert sorted(r["path"] for r in queue) == sorted(str(p) for p in (photos / "new").iterdir())

    def margin(row: dict[str, Any]) -> float:
        top = [g["confidence"] for g in row["guesses"]]
        return float(top[0] - top[1])

    assert margin(queue[0]) == min(margin(r) for r in queue)
    assert [len(r["guesses"]) for r in queue] == [3] * 9


def test_sets_are_made_renamed_listed_and_deleted(sorter: Sorter, photos: Path) -> None:
    sorter.json("labels", "create", "style", "baroque", "realism")
    sorter.json("labels", "create", "period", "old")
    assert sorter("labels", "create", "Style")[0] == 1
    sorter.json("labels", "rename", "realism", "Realism", "--set", "style")
    sorter.json("labels", "add", "--set", "style", "Realism", str(photos / "new" / "red-0.png"))
    sorter.json("labels", "rename", "style", "movement")
    listed = sorter.json("labels", "list")
    assert listed == [
        {"set": "movement", "labels": {"baroque": 0, "Realism": 1}},
        {"set": "period", "labels": {"old": 0}},
    ]
    assert sorter.json("labels", "remove", "--set", "movement", "--label", "realism")["images"] == 1
    assert sorter.json("labels", "delete", "period")["images"] == 0
    assert sorter.json("labels", "list") == [{"set": "movement", "labels": {"baroque": 0}}]


def test_errors_are_one_line_reasons(sorter: Sorter, photos: Path, tmp_path: Path) -> None:
    sorter.json("labels", "create", "colour", "reds")
    sorter.json("labels", "add", "--set", "colour", "reds", str(photos / "new" / "red-0.png"))
    code, _, err = sorter("labels", "predict", str(photos), "--set", "colour")
    assert code == 1 and "at least two different labels" in err
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code, _, err = sorter("labels", "import-folders", str(outside), "--set", "colour")
    assert code == 1 and "not inside an indexed folder" in err
    code, _, err = sorter("labels", "add", "--set", "colour", "unknown", str(photos / "new" / "red-0.png"))
    assert code == 1 and "'unknown' is what a prediction says" in err
    code, _, err = sorter("labels", "predict", str(photos), "--set", "nope")
    assert code == 1 and "no label set named 'nope'" in err


def test_a_whole_cluster_is_labelled_in_one_go(sorter: Sorter, photos: Path) -> None:
    sorter.json("index", str(photos / "sorted"))  # clusters are found in an indexed folder
    clusters = sorter.json("clusters", str(photos / "sorted"), "--granularity", "fine")["clusters"]
    first = clusters[0]
    sorter.json("labels", "create", "colour")
    added = sorter.json(
        "labels", "add", "--set", "colour", "first", "--cluster", str(first["id"]),
        "--folder", str(photos / "sorted"), "--granularity", "fine",
    )  # fmt: skip
    assert (added["images"], added["changed"]) == (len(first["paths"]), len(first["paths"]))
    assert sorter.json("labels", "remove", "--set", "colour", first["paths"][0])["images"] == 1
    code, _, err = sorter("labels", "add", "--set", "colour", "x", "--cluster", "1")
    assert code == 1 and "--cluster needs --folder" in err


def test_odd_folder_names_are_skipped_or_made_safe(sorter: Sorter, photos: Path, tmp_path: Path) -> None:
    shade(photos / "odd" / "Unknown" / "u.png", (90, 90, 90), 1)
    shade(photos / "odd" / "a:b c" / "v.png", (200, 200, 20), 2)
    shade(photos / "odd" / "ok" / "w.png", (20, 200, 200), 3)
    sorter.json("index", str(photos))
    imported = sorter.json("labels", "import-folders", str(photos / "odd"), "--set", "odd")
    assert [d["label"] for d in imported["labels"]] == ["a:b c", "ok"]
    assert [(s["folder"], "what a prediction says" in s["reason"]) for s in imported["skipped"]] == [
        ("Unknown", True)
    ]
    sorter.json("labels", "add", "--set", "odd", "../up/..", str(photos / "new" / "red-0.png"))
    out = tmp_path / "plan.json"
    plan = sorter.json(
        "labels", "plan", str(photos / "new"), "--set", "odd", "--label", "../up/..", "-o", str(out)
    )
    (move,) = plan["moves"]
    assert Path(move["dst"]).parent == photos / "new" / "_up_"  # never outside the folder
    code, _, err = sorter("labels", "import-folders", str(photos / "new" / "red-0.png"), "--set", "odd")
    assert code == 1 and "not a folder" in err


def test_export_writes_the_sets_and_refuses_other_file_types(
    sorter: Sorter, photos: Path, tmp_path: Path
) -> None:
    sorter.json("labels", "import-folders", str(photos / "sorted"), "--set", "colour")
    written = sorter.json("labels", "export", str(photos), "-o", str(tmp_path / "out.json"))
    assert written["images"] == 27
    data = json.loads((tmp_path / "out.json").read_text())
    assert {r["set:colour:source"] for r in data["images"]} <= {"labelled", "predicted", ""}
    code, _, err = sorter("labels", "export", str(photos), "-o", str(tmp_path / "out.txt"))
    assert code == 1 and "must end in .csv or .json" in err


def test_listing_a_folder_says_sets_belong_to_no_folder(sorter: Sorter, photos: Path) -> None:
    """`sorter labels list DIR` (as `sorter clusters DIR` reads) said "no label set named '…/photos'"."""
    code, _, err = sorter("labels", "list", str(photos))
    assert code != 0 and "is a folder: label sets belong to no folder" in err, err
    sorter.json("labels", "create", photos.name, "a", "b")  # a set may have a folder's name
    assert sorter.json("labels", "list", photos.name)[0]["set"] == photos.name
