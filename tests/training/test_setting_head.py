"""`sorter-train setting` → `sorter-train export --install`: the setting head appended to the bundled
model, on built images through the real network, ONNX and sidecar.

Two "home" sources with room labels and one source of indoor photos without a room label, in
category folders (its categories are what the unseen-kinds fold holds out): every step must run,
hold out what it says, put the gate where its rule says, and leave the bundled model's outputs bit
for bit while rooms become conditional on the setting.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sorter_app.core.embedder import Embedder
from sorter_app.core.model_spec import load_spec
from sorter_app.core.predictions import prediction_heads
from training.cli import main
from training.curate.inputs import read_manifest
from training.errors import TrainingError
from training.export_label_model import label_sets_on_graph
from training.label_heads import LABEL_HEADS_FILE, LABEL_REPORT_FILE, load_label_heads
from training.linear import LinearModel
from training.selection_data import load_selection_data
from training.setting_head import (
    ELSEWHERE,
    GATE_LOSS,
    HOME,
    UNSEEN,
    HeldOut,
    choose_gate,
    folds,
    remove_setting_md,
    setting_labels,
    with_gate,
)

from .conftest import COMMITTED_MODELS, textured_pixels

pytestmark = pytest.mark.slow  # exports the trunk once and embeds ~50 built images; the bundled model twice


def _photo(path: Path, seed: int, tint: int) -> None:
    pixels = textured_pixels(240, 240, seed)
    pixels[..., tint] //= 3
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    rows = []
    # Every photo its own seed: the same picture twice would be one image to the cache.
    for s, (source, rooms) in enumerate(
        (("homes_a", ("kitchen", "bedroom")), ("homes_b", ("kitchen", "bedroom")))
    ):
        for i in range(10):
            path = root / source / f"{i}.png"
            _photo(path, seed=100 * s + i, tint=2)
            rows.append({"path": str(path), "source": source, "scene": "indoor", "room": rooms[i % 2]})
    for i, category in enumerate(("office", "shop", "hall", "gym") * 4):
        path = root / "elsewhere" / "indoor" / category / f"{i}.png"
        _photo(path, seed=500 + i, tint=0)
        rows.append({"path": str(path), "source": "elsewhere", "scene": "indoor", "room": ""})
    for i in range(2):  # as `sorter export` writes a home photo whose room the model was unsure of
        path = root / "homes_b" / f"unsure{i}.png"
        _photo(path, seed=700 + i, tint=2)
        rows.append(
            {"path": str(path), "source": "homes_b", "scene": "indoor", "room": "", "setting": "home"}
        )
    for i in range(6):
        path = root / "outside" / f"{i}.png"
        _photo(path, seed=900 + i, tint=1)
        rows.append({"path": str(path), "source": "outside", "scene": "outdoor", "room": ""})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["path", "source", "scene", "room", "kind", "setting"])
        writer.writeheader()
        writer.writerows({"setting": "", **row, "kind": "photo"} for row in rows)
    out = tmp_path_factory.mktemp("cache") / "features"
    assert (
        main(["features", "--manifest", str(manifest), "--out", str(out), "--views", "centre,small128"]) == 0
    )
    return out


def test_labels_folds_and_gate_follow_the_rules(cache: Path) -> None:
    data = load_selection_data([cache])
    labels = setting_labels(data)
    assert (labels[data.source == "outside"] == -1).all()
    assert (labels[np.isin(data.source, ["homes_a", "homes_b"])] == HOME).all()  # the unsure rooms too
    assert (data.source == "homes_b").sum() == 12
    assert (labels[data.source == "elsewhere"] == ELSEWHERE).all()
    made = {name: (test, train) for name, test, train in folds(data, labels)}
    assert set(made) == {"homes_a", "homes_b", "elsewhere", UNSEEN}
    for test, train in made.values():
        assert not set(test.tolist()) & set(train.tolist()) and (labels[train] >= 0).all()
    test, train = made[UNSEEN]
    unseen = {Path(p).parent.name for p in data.path[test]}
    assert unseen == {"hall", "shop"}  # every second category by name: gym, hall, office, shop
    assert not unseen & {Path(p).parent.name for p in data.path[train]}
    # The gate: at most GATE_LOSS of the held-out home rooms reach it, and one lower would let more.
    for n in (101, 150, 200, 8547):
        home = np.random.default_rng(n).uniform(0.3, 0.99, n).astype(np.float32)
        fold = HeldOut(np.arange(n), home, home, np.ones(n, dtype=bool))
        gate = choose_gate({"a": fold}, np.zeros(n, dtype=np.int64))
        assert (home >= gate).sum() <= int(GATE_LOSS * n) < (home >= home[home < gate].max()).sum(), n
    never = HeldOut(np.arange(3), np.full(3, 0.1, np.float32), np.full(3, 0.1, np.float32), np.ones(3, bool))
    assert choose_gate({"a": never}, np.zeros(3, dtype=np.int64)) == 0.5  # never below an even chance


def test_a_manifest_setting_must_be_one_of_the_heads_labels(tmp_path: Path) -> None:
    for setting, room, problem in (
        ("garage", "", "unknown setting"),
        ("not_a_home", "kitchen", "not of a home"),
    ):
        manifest = tmp_path / f"{setting}.csv"
        manifest.write_text(f"path,source,scene,room,kind,setting\na.jpg,s,indoor,{room},photo,{setting}\n")
        with pytest.raises(TrainingError, match=problem):
            read_manifest(manifest)


def test_the_gate_moves_into_the_bias_exactly() -> None:
    rng = np.random.default_rng(0)
    model = LinearModel(rng.normal(size=(2, 16)).astype(np.float32), rng.normal(size=2).astype(np.float32))
    x = rng.normal(size=(2000, 16)).astype(np.float32)
    raw = model.probabilities(x)[:, ELSEWHERE]
    gated = with_gate(model, 0.8).probabilities(x)[:, ELSEWHERE]
    away = np.abs(raw - 0.8) > 1e-4  # float32 rounding at the boundary itself
    assert np.array_equal((gated >= 0.5)[away], (raw >= 0.8)[away]) and 0 < (raw >= 0.8).mean() < 1


def test_exported_over_the_bundled_model_it_replaces_only_its_own_head(
    cache: Path, tmp_path: Path, datasets_dir: Path
) -> None:
    """The committed model already carries a setting head: a new run exported over it takes that
    head's place; the embedding, kind, scene and room stay bit for bit, and rooms wait for a home."""
    run, models = tmp_path / "run", tmp_path / "models"
    shutil.copytree(COMMITTED_MODELS, models)
    base = load_spec(models / "image-sorter.json")
    assert main(["setting", "--cache", str(cache), "--out", str(run), "--models-dir", str(models)]) == 0
    report = json.loads((run / LABEL_REPORT_FILE).read_text())
    assert (run / LABEL_HEADS_FILE).is_file() and report["conditions"] == {"room": {"setting": "home"}}
    figures = report["sets"]["setting"]
    assert 0 < figures["gate"] < 1 and set(figures["heldout"]) == {"homes_a", "homes_b", "elsewhere", UNSEEN}
    assert figures["heldout"]["homes_a"]["home"] == 10 and figures["heldout"]["elsewhere"]["not_a_home"] == 16
    _, heads = load_label_heads(run)
    args = [
        "export",
        "--run",
        str(run),
        "--install",
        "--models-dir",
        str(models),
        "--datasets",
        str(datasets_dir),
    ]
    assert main(args) == 0
    spec = load_spec(models / "image-sorter.json")
    assert list(prediction_heads(spec)) == ["kind", "scene", "setting", "room"]
    assert spec.outputs["setting"]["only_when"] == {"scene": "indoor"}
    assert spec.outputs["room"]["only_when"] == {"setting": "home"}
    assert spec.model_id != base.model_id and spec.answers_from == base.answers_from
    assert spec.extra["based_on"] == base.extra.get("based_on", base.model_id)
    commands = [c["command"] for c in spec.extra["commands"]]
    assert len(commands) == len(set(commands)) and commands[-1].startswith("sorter-train export --run")
    assert sum(c.startswith("sorter-train setting") for c in commands) == 1  # the replaced run's are gone
    assert spec.extra["appended_commands"] == len(commands) - commands.index(
        next(c for c in commands if c.startswith("sorter-train features") and str(cache.parent) in c)
    )
    text = (models / "MODELS.md").read_text()
    assert text.count("a `setting` head appended") == 1 and spec.model_id in text

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(6, 224, 224, 3), dtype=np.uint8)
    before = Embedder.from_sidecar(COMMITTED_MODELS / "image-sorter.json").run(pixels)
    after = Embedder.from_sidecar(models / "image-sorter.json").run(pixels)
    for name in ("embedding", "kind", "scene", "room"):
        assert np.array_equal(before[name], after[name]), name
    expected = heads["setting"].probabilities(np.asarray(after["embedding"]))
    assert np.allclose(after["setting"], expected, atol=1e-5)
    assert figures["heldout"]["homes_a"]["home_gated_small"] is not None
    # export-heads installing a model without it takes its section out of MODELS.md.
    remove_setting_md(models / "MODELS.md")
    after_removal = (models / "MODELS.md").read_text()
    assert "a `setting` head appended" not in after_removal and "## How the heads are made" in after_removal
    # A user's label set may not take the name.
    with pytest.raises(TrainingError, match="clash"):
        label_sets_on_graph((models / "image-sorter.onnx").read_bytes(), spec, {"setting": heads["setting"]})
