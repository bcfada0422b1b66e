"""`sorter-train curate` end to end on a small built dataset: shards, manifest, reproducibility.

One run (shard size 4) is shared by most tests; it uses the real bundled model and the committed
noise probe. The dataset has every kind of problem once: corrupt files, a chart, a resized copy
across sources, an identical pair filed under two rooms, and teacher columns for some rows.
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sorter_app.core.duplicates import NearRule
from sorter_app.core.embedder import Embedder
from sorter_app.core.hashing import content_hash, file_sha256
from sorter_app.core.images import load_image
from sorter_app.core.model_spec import load_spec
from sorter_app.core.preprocess import to_model_pixels
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from training.cli import main as sorter_train
from training.curate.pipeline import CurateConfig, curate
from training.curate.progress import quiet
from training.curate.shards import SHARD_ARRAYS
from training.labels import ROOMS, SCENES

COLUMNS = [
    "path",
    "source",
    "split",
    "scene",
    "room",
    "kind",
    "teacher_scene_indoor",
    "teacher_scene_outdoor",
]


def _chart(path: Path) -> None:
    img = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(img)
    draw.line((40, 20, 40, 260, 380, 260), fill="black", width=2)
    for k, height in enumerate((120, 200, 80, 160, 230)):
        draw.rectangle((60 + 60 * k, 260 - height, 95 + 60 * k, 260), fill=(60 + 30 * k, 90, 200 - 25 * k))
        draw.text((65 + 60 * k, 268), f"Q{k + 1}", fill="black")
    draw.text((150, 4), "Revenue by quarter", fill="black")
    img.save(path)


def build_dataset(root: Path) -> Path:
    """Images under root/{alpha,beta}/ and root/manifest.csv; returns the manifest."""
    rows: list[dict[str, Any]] = []

    def add(
        rel: str, scene: str, room: str = "", kind: str = "photo", split: str = "", **teacher: float
    ) -> None:
        rows.append(
            {
                "path": rel,
                "source": rel.split("/")[0],
                "split": split,
                "scene": scene,
                "room": room,
                "kind": kind,
            }
            | {f"teacher_scene_{k}": v for k, v in teacher.items()}
        )

    seed = 100
    for source, labels in {
        "alpha": [("indoor", "kitchen")] * 4 + [("indoor", "bedroom")] * 3 + [("outdoor", "")] * 4,
        "beta": [("indoor", "living_room")] * 3 + [("outdoor", "")] * 3 + [("indoor", "")] * 2,
    }.items():
        for scene, room in labels:
            seed += 1
            builders.write_jpeg(root / source / f"img{seed}.jpg", seed)
            add(f"{source}/img{seed}.jpg", scene, room)
    # a resized copy across sources and across the sources' own splits: one is kept, the larger
    builders.scene(7, (640, 480)).save(root / "alpha" / "large.jpg", "JPEG", quality=92)
    builders.scene(7, (640, 480)).resize((320, 240)).save(root / "beta" / "small.jpg", "JPEG", quality=92)
    add("alpha/large.jpg", "outdoor", split="train")
    add("beta/small.jpg", "outdoor", split="test")
    # identical bytes filed under two rooms: neither label can be trusted
    builders.write_jpeg(root / "alpha" / "open-plan.jpg", 8)
    shutil.copyfile(root / "alpha" / "open-plan.jpg", root / "beta" / "open-plan.jpg")
    add("alpha/open-plan.jpg", "indoor", "kitchen")
    add("beta/open-plan.jpg", "indoor", "dining_room")
    # broken files, a chart among the photos, a row that says non_photo
    builders.write_truncated_jpeg(root / "alpha" / "truncated.jpg")
    builders.write_zero_bytes(root / "beta" / "empty.jpg")
    _chart(root / "beta" / "chart.png")
    builders.write_jpeg(root / "beta" / "scan.jpg", 9)
    add("alpha/truncated.jpg", "indoor", "kitchen")
    add("beta/empty.jpg", "outdoor")
    add("beta/chart.png", "outdoor")
    add("beta/scan.jpg", "", kind="non_photo")
    # teacher opinions on two rows: one unsure (dropped), one confident (kept)
    builders.write_jpeg(root / "alpha" / "unsure.jpg", 10)
    builders.write_jpeg(root / "alpha" / "sure.jpg", 11)
    add("alpha/unsure.jpg", "outdoor", indoor=0.45, outdoor=0.55)
    add("alpha/sure.jpg", "outdoor", indoor=0.03, outdoor=0.97)
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("dataset"))


def run(manifest: Path, out: Path, **overrides: Any) -> dict[str, Any]:
    config = CurateConfig(out=out, manifests=(manifest,), **({"shard_size": 4, "threads": 2} | overrides))
    return curate(config, log=quiet)


@pytest.fixture(scope="module")
def curated(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("curated")
    return out, run(dataset, out)


def _shards(out: Path, manifest: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    loaded = {}
    for shard in manifest["shards"]:
        with np.load(out / shard["file"], allow_pickle=False) as npz:
            loaded[shard["file"]] = {k: npz[k] for k in npz.files}
    return loaded


def _step(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in manifest["steps"] if s["name"] == name)


def test_each_step_drops_what_it_should_and_says_why(curated: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = curated
    dropped = {step["name"]: {s["path"]: s["reason"] for s in step["samples"]} for step in manifest["steps"]}
    assert set(dropped["corrupt"]) == {"alpha/truncated.jpg", "beta/empty.jpg"}
    assert dropped["corrupt"]["beta/empty.jpg"] == "empty file (0 bytes)"
    assert set(dropped["noise"]) == {"beta/chart.png", "beta/scan.jpg"}
    assert dropped["noise"]["beta/chart.png"].startswith("not a photo (scorer): p=")
    assert dropped["noise"]["beta/scan.jpg"].startswith("labelled non_photo, missed by the scorer")
    assert dropped["teacher"] == {"alpha/unsure.jpg": "teacher: scene outdoor p=0.55 (low confidence)"}
    conflict = "conflicting labels in a duplicate group: indoor/dining_room vs indoor/kitchen"
    assert dropped["dedupe"] == {
        "beta/small.jpg": "near-duplicate: of alpha/large.jpg",
        "alpha/open-plan.jpg": conflict,
        "beta/open-plan.jpg": conflict,
    }
    teacher = _step(manifest, "teacher")
    assert teacher["teacher"] == "teacher_* columns of the input manifest"
    scene = teacher["labels_by_outcome"]["scene"]
    assert (scene["confirmed"], scene["low confidence"]) == (1, 1)  # the two rows with teacher columns
    assert "relabelled" not in scene and scene["no teacher opinion"] == teacher["input"] - 2


def test_counts_add_up_from_step_to_step_and_split_to_shard(curated: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = curated
    steps = manifest["steps"]
    assert steps[0]["input"] == manifest["counts"]["input"] == 29
    for before, after in itertools.pairwise(steps):
        assert after["input"] == before["kept"]
        assert before["dropped"] == sum(before["dropped_by_reason"].values())
        assert before["dropped"] == sum(before["dropped_by_source"].values())
    assert [s["dropped"] for s in steps] == [2, 2, 1, 3, 0]  # the split audit finds no leak
    kept = steps[-1]["kept"]
    assert kept == manifest["counts"]["kept"] == sum(manifest["counts"]["splits"].values()) == 21
    assert sum(s["count"] for s in manifest["shards"]) == kept
    for split, summary in manifest["splits"].items():
        assert summary["count"] == sum(s["count"] for s in manifest["shards"] if s["split"] == split)
        assert summary["count"] == sum(summary["by_source"].values()) == sum(summary["by_label"].values())
    assert manifest["counts"]["splits"] == {"train": 17, "val": 2, "test": 2}


def test_shards_are_chunked_named_and_typed_as_documented(curated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = curated
    names = [s["file"] for s in manifest["shards"]]
    assert names == [f"train-{i:05d}.npz" for i in range(5)] + ["val-00000.npz", "test-00000.npz"]
    assert [s["count"] for s in manifest["shards"]] == [4, 4, 4, 4, 1, 2, 2]
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "manifest.json", "run.json"])
    for name, arrays in _shards(out, manifest).items():
        n = next(s["count"] for s in manifest["shards"] if s["file"] == name)
        assert list(arrays) == list(SHARD_ARRAYS)
        assert arrays["pixels"].dtype == np.uint8 and arrays["pixels"].shape == (n, 224, 224, 3)
        assert arrays["embedding"].dtype == np.float32 and arrays["embedding"].shape == (n, 1280)
        assert arrays["scene"].dtype == np.int8 and arrays["room"].dtype == np.int8
        assert arrays["content_hash"].dtype == np.dtype("<U32")
        assert arrays["source"].dtype.kind == "U" and arrays["path"].dtype.kind == "U"
        assert set(arrays["scene"].tolist()) <= {-1, 0, 1}
        assert set(arrays["room"].tolist()) <= {-1, *range(len(ROOMS))}


def test_shard_rows_are_the_apps_pixels_embeddings_and_the_given_labels(
    dataset: Path, curated: tuple[Path, dict[str, Any]], embedder: Embedder
) -> None:
    out, manifest = curated
    with dataset.open(newline="") as fh:
        given = {r["path"]: r for r in csv.DictReader(fh)}
    root = dataset.parent
    pre = embedder.spec.preprocess
    for arrays in _shards(out, manifest).values():
        np.testing.assert_allclose(arrays["embedding"], embedder.embed(arrays["pixels"]), atol=1e-5)
        for k, path in enumerate(arrays["path"].tolist()):
            data = (root / path).read_bytes()
            assert arrays["content_hash"][k] == content_hash(data)
            expected = to_model_pixels(load_image(data, min_side=224).image, pre)
            np.testing.assert_array_equal(arrays["pixels"][k], expected)
            scene, room = int(arrays["scene"][k]), int(arrays["room"][k])
            assert (SCENES[scene] if scene >= 0 else "") == given[path]["scene"]
            assert (ROOMS[room] if room >= 0 else "") == given[path]["room"]
            assert arrays["source"][k] == given[path]["source"]


def test_the_manifest_lists_each_shards_sha256_and_what_made_it(curated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = curated
    for shard in manifest["shards"]:
        assert file_sha256(out / shard["file"]) == shard["sha256"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["format_version"] == 3 and manifest["seed"] == 0
    assert manifest["embedder"]["model_id"] == load_spec(bundled_model_sidecar()).model_id
    assert len(manifest["embedder"]["sha256"]) == 64
    assert manifest["thresholds"]["confidence_band"] == [0.1, 0.9]
    assert manifest["thresholds"]["near_duplicate_rule"] == vars(NearRule())
    assert manifest["labels"] == {"scene": list(SCENES), "room": list(ROOMS)}
    groups = {g["keep"]: g for g in manifest["duplicate_groups"]}
    assert groups["alpha/large.jpg"]["tier"] == "near"
    assert [m["path"] for m in groups["alpha/large.jpg"]["members"]] == ["alpha/large.jpg", "beta/small.jpg"]
    assert groups[None]["split"] is None and groups[None]["tier"] == "exact"


def test_the_same_seed_reproduces_identical_shards(
    dataset: Path, curated: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, first = curated
    again = run(dataset, tmp_path / "again")
    assert again["shards"] == first["shards"]
    other = run(dataset, tmp_path / "other-seed", seed=1)
    assert other["counts"]["kept"] == first["counts"]["kept"]
    assert [s["sha256"] for s in other["shards"]] != [s["sha256"] for s in first["shards"]]


def test_rerunning_into_the_same_folder_replaces_the_old_output(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run(dataset, out, shard_size=2)
    assert len(list(out.glob("train-*.npz"))) == (first["counts"]["splits"]["train"] + 1) // 2
    manifest = run(dataset, out, shard_size=20)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [s["file"] for s in manifest["shards"]] + ["manifest.json", "run.json"]
    )
    (out / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="did not write"):
        run(dataset, out)


def test_the_command_line_reads_labelled_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    for k in range(3):
        builders.write_jpeg(photos / "indoor" / "kitchen" / f"k{k}.jpg", 200 + k)
        builders.write_jpeg(photos / "outdoor" / f"o{k}.jpg", 210 + k)
        builders.write_jpeg(photos / "misc" / f"m{k}.jpg", 220 + k)
    code = sorter_train(
        ["curate", "--folder", str(photos), "--out", str(tmp_path / "out"), "--shard-size", "5"]
    )
    assert code == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["input"] == counts["kept"] == 9
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    run_record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run_record["command"]["argv"][:2] == ["sorter-train", "curate"]
    assert run_record["engine"] == {"engine": "local", "workers": 1}
    labels = sum((Counter(split["by_label"]) for split in manifest["splits"].values()), Counter())
    assert labels == {"indoor/kitchen": 3, "outdoor": 3, "unknown": 3}
    paths = {g for s in manifest["shards"] for g in [s["file"]]}
    assert paths == {"train-00000.npz", "train-00001.npz", "val-00000.npz", "test-00000.npz"}


def test_the_command_line_reports_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = sorter_train(["curate", "--folder", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert capsys.readouterr().err.strip() == f"sorter-train: error: not a folder: {tmp_path / 'missing'}"


class WhiteBackground:
    """A heuristic scorer, to show the scorer is pluggable: mostly near-white pixels → not a photo."""

    def score(self, pixels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        assert pixels.shape[1:] == (224, 224, 3) and len(pixels) == len(embeddings)
        return np.asarray((pixels.min(axis=-1) > 230).mean(axis=(1, 2)), dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        return {"name": "white background"}


def test_any_scorer_can_replace_the_probe(dataset: Path, tmp_path: Path) -> None:
    manifest = run(dataset, tmp_path / "out", noise_scorer=WhiteBackground())
    noise = _step(manifest, "noise")
    assert noise["scorer"] == {"name": "white background"}
    reasons = {s["path"]: s["reason"] for s in noise["samples"]}
    assert set(reasons) == {"beta/chart.png", "beta/scan.jpg"}
    assert reasons["beta/chart.png"].startswith("not a photo (scorer): p=")
