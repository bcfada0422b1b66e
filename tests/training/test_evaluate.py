"""`sorter-train evaluate` on a tiny real run: report contents, held-out sources, extra folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from training.cli import main
from training.evaluate import evaluate
from training.train import train

from .curated_shards import built_image, shared_curated, shared_run, tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_run(tmp_path_factory.getbasetemp())


def test_report_has_every_figure_per_head_and_per_source(run_dir: Path) -> None:
    text = (run_dir / "evaluation.json").read_text()
    report = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    for head, classes in (("scene", 2), ("room", 6)):
        test = report[head]["test"]
        overall = test["overall"]
        for key in ("accuracy", "balanced_accuracy", "per_class_recall", "confusion", "ece", "coverage"):
            assert key in overall, (head, key)
        assert len(overall["confusion"]) == classes
        assert sum(map(sum, overall["confusion"])) == overall["count"]
        assert sum(f["count"] for f in test["per_source"].values()) == overall["count"]
        assert report[head]["test_degraded"]["overall"]["count"] == overall["count"]
        threshold = report["thresholds"][head]
        assert threshold["target"] == {"scene": 0.99, "room": 0.90}[head]
        assert overall["unknown_below"] == threshold["threshold"]
    assert "accuracy_at_3" in report["room"]["test"]["overall"]
    assert set(report["scene"]["test"]["per_source"]) == {
        "sharp_rooms",
        "sharp_outdoor",
        "soft_rooms",
        "soft_outdoor",
    }
    assert set(report["room"]["test"]["per_source"]) == {"sharp_rooms", "soft_rooms"}
    assert report["scene"]["test"]["overall"]["accuracy"] > 0.8  # sky vs. walls is easy
    human = (run_dir / "evaluation.txt").read_text()
    assert "SCENE (indoor/outdoor)" in human and "unknown below" in human and "soft_rooms" in human


def test_held_out_source_is_reported_on_all_its_images(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    curated = shared_curated(tmp_path_factory.getbasetemp())
    run = tmp_path / "holdout"
    train(tiny_config(curated, epochs=2, degrade_views=0, holdout_sources=["soft_rooms"]), run, log=print)
    report = evaluate(run, probe=False, log=print)
    held = report["holdout"]["soft_rooms"]
    assert held["room"]["count"] == 3 * 4 * 6  # every split: 4 per class × 6 rooms
    assert held["scene"]["count"] == 3 * 4 * 6
    assert "soft_rooms" not in report["room"]["test"]["per_source"]
    assert "test_degraded" not in report["scene"]


def test_extra_labelled_folder_and_the_command_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mine"
    for i, (parts, scene, room) in enumerate(
        [(("indoor", "kitchen"), 0, 4), (("outdoor",), 1, -1), (("bedroom",), 0, 1), (("outdoor",), 1, -1)]
    ):
        target = folder.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(built_image(scene, room, 900 + i, 0.0)).save(target / f"{i}.jpg", quality=90)
    assert main(["evaluate", "--run", str(run_dir), "--folder", str(folder), "--no-probe"]) == 0
    assert "FOLDER" in capsys.readouterr().out
    report = json.loads((run_dir / "evaluation.json").read_text())
    figures = report["folders"][str(folder)]
    assert figures["scene"]["count"] == 4 and figures["room"]["count"] == 2
    assert figures["scene"]["class_counts"] == {"indoor": 2, "outdoor": 2}
    commands = json.loads((run_dir / "commands.json").read_text())
    assert commands[-1]["command"].startswith("sorter-train evaluate --run ")
    evaluate(run_dir, log=print)  # restore the shared run's full report for the export tests
