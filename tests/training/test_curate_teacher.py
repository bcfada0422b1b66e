"""`curate --teacher`: a real ONNX teacher, run by the app's `Embedder.run`, judges given labels.

The teacher is the tests' tiny scene/room model (tests/tiny_model.py): the mean colour decides,
so its answers are known in advance — strongly red images are indoor kitchens (p(kitchen) ≈ 0.92),
blue ones outdoor, grey ones 50/50.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import builders
from training.curate.pipeline import CurateConfig, curate
from training.curate.progress import quiet
from training.labels import ROOMS, SCENES

tiny_model = pytest.importorskip(
    "tests.tiny_model", reason="tests/tiny_model.py (the tiny teacher) is absent"
)

RED, BLUE, GREY = (0, 1, 2)


def _tinted(path: Path, seed: int, dominant: int) -> None:
    """A textured picture whose mean colour is saturated red or blue, or mid grey."""
    texture = np.asarray(builders.scene(seed), dtype=np.float64)
    if dominant == GREY:
        pixels = 127 + (texture - texture.mean()) * 0.3
    else:
        pixels = texture * 40 / 255  # the other channels: dark, but textured
        pixels[..., dominant * 2] = 255  # red is channel 0, blue channel 2
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, "PNG")


CASES = [  # name, colour, given scene, given room → expected scene, room (None: image dropped)
    ("red-kitchen", RED, "indoor", "kitchen", ("indoor", "kitchen")),
    ("red-bedroom", RED, "indoor", "bedroom", ("indoor", "kitchen")),  # contradicted: teacher's label
    ("red-outdoor", RED, "outdoor", "", ("indoor", "")),
    ("grey-indoor", GREY, "indoor", "", None),  # p = 0.5: the only label goes, so does the image
    ("blue-outdoor", BLUE, "outdoor", "", ("outdoor", "")),
    ("blue-living", BLUE, "indoor", "living_room", ("outdoor", "")),  # relabelled outdoor: no room
]


def test_a_teacher_model_confirms_drops_and_relabels(tmp_path: Path) -> None:
    sidecar = tiny_model.write_tiny_model(tmp_path / "teacher")
    root = tmp_path / "data"
    (root / "src").mkdir(parents=True)
    with (root / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "source", "scene", "room", "kind"])
        for seed, (name, colour, scene, room, _) in enumerate(CASES):
            _tinted(root / "src" / f"{name}.png", 500 + seed, colour)
            writer.writerow([f"src/{name}.png", "src", scene, room, "photo"])
    out = tmp_path / "out"
    config = CurateConfig(
        out=out, manifests=(root / "manifest.csv",), teacher=sidecar, noise_probe=None, threads=2
    )
    manifest = curate(config, log=quiet)

    labels: dict[str, tuple[str, str]] = {}
    for shard in manifest["shards"]:
        with np.load(out / shard["file"]) as npz:
            for path, s, r in zip(npz["path"], npz["scene"], npz["room"], strict=True):
                labels[Path(str(path)).stem] = (SCENES[s] if s >= 0 else "", ROOMS[r] if r >= 0 else "")
    assert labels == {name: expected for name, *_, expected in CASES if expected is not None}

    teacher = next(s for s in manifest["steps"] if s["name"] == "teacher")
    assert teacher["teacher"] == "model tiny-test-model"
    assert manifest["teacher"]["model_id"] == "tiny-test-model"
    assert [s["path"] for s in teacher["samples"]] == ["src/grey-indoor.png"]
    assert teacher["samples"][0]["reason"].startswith("teacher: scene indoor p=0.5")
    assert teacher["labels_by_outcome"] == {
        "scene": {"confirmed": 3, "low confidence": 1, "relabelled": 2},
        "room": {"cleared: scene relabelled outdoor": 1, "confirmed": 1, "relabelled": 1},
    }
    assert teacher["relabelled"] == 3
    noise = next(s for s in manifest["steps"] if s["name"] == "noise")
    assert (noise["scorer"], noise["dropped"]) == (None, 0)  # noise_probe=None: no scorer ran
