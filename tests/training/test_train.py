"""`sorter-train train`: config saved with the run, exact resume, balancing, degradation, fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training.balance import sample_weights
from training.degrade import Degradation, degrade
from training.errors import TrainingError
from training.pretrained import load_lite0
from training.run_files import CHECKPOINT_FILE, MODEL_FILE, load_run, load_torch
from training.train import train
from training.train_config import TrainConfig, load_config, save_config

from .curated_shards import built_image, shared_curated, tiny_config


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_curated(tmp_path_factory.getbasetemp())


def _quiet(_line: str) -> None:
    pass


def test_config_round_trips_and_rejects_nonsense(tmp_path: Path) -> None:
    config = TrainConfig(data="/data", epochs=7, holdout_sources=["a"], degrade_quality=(40, 80))
    save_config(tmp_path, config)
    assert load_config(tmp_path) == config
    assert json.loads((tmp_path / "config.json").read_text())["degrade_quality"] == [40, 80]
    with pytest.raises(TrainingError, match="balance"):
        TrainConfig(data="/data", balance="sometimes")
    (tmp_path / "config.json").write_text(json.dumps({"data": "/d", "learning_rate": 1}))
    with pytest.raises(TrainingError, match="unknown training config keys: learning_rate"):
        load_config(tmp_path)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path, curated: Path) -> None:
    """Stopped after 2 of 4 epochs and resumed, a run ends exactly where an uninterrupted one does."""
    whole = train(tiny_config(curated), tmp_path / "whole", log=_quiet)
    assert whole.finished

    calls = iter(range(100))
    stopped = train(tiny_config(curated), tmp_path / "split", log=_quiet, cancelled=lambda: next(calls) >= 2)
    assert not stopped.finished
    assert (tmp_path / "split" / CHECKPOINT_FILE).is_file()
    assert not (tmp_path / "split" / MODEL_FILE).exists()
    assert load_torch(tmp_path / "split" / CHECKPOINT_FILE)["trainer"]["epoch"] == 2

    lines: list[str] = []
    resumed = train(None, tmp_path / "split", resume=True, log=lines.append)
    assert resumed.finished
    assert any("reusing degraded_views.npz" in line for line in lines)
    assert load_config(tmp_path / "split") == load_config(tmp_path / "whole")
    a, b = load_torch(tmp_path / "whole" / MODEL_FILE), load_torch(tmp_path / "split" / MODEL_FILE)
    assert a["heads"].keys() == b["heads"].keys()
    for key in a["heads"]:
        assert torch.equal(a["heads"][key], b["heads"][key]), key
    assert a["summary"] == b["summary"]


def test_a_run_folder_is_never_overwritten(tmp_path: Path, curated: Path) -> None:
    train(tiny_config(curated, epochs=1, degrade_views=0), tmp_path / "run", log=_quiet)
    with pytest.raises(TrainingError, match="already holds a run"):
        train(tiny_config(curated, epochs=1), tmp_path / "run", log=_quiet)
    again = train(None, tmp_path / "run", resume=True, log=_quiet)  # finished: nothing to do
    assert again.finished


def test_class_source_balance_weighs_classes_then_sources_equally() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, -1])
    sources = np.array(["a", "a", "a", "b", "c", "d", "a"])
    w = sample_weights(labels, sources, "class_source")
    assert w[-1] == 0
    assert w[:6].mean() == pytest.approx(1.0)
    assert w[:4].sum() == pytest.approx(w[4:6].sum())  # classes weigh the same
    assert w[:3].sum() == pytest.approx(w[3])  # within class 0, sources a and b weigh the same
    assert w[4] == pytest.approx(w[5])
    by_class = sample_weights(labels, sources, "class")
    assert by_class[0] == pytest.approx(by_class[3])
    assert by_class[:4].sum() == pytest.approx(by_class[4:6].sum())
    assert np.all(sample_weights(labels, sources, "none")[:6] == 1.0)


def test_degradation_removes_detail_but_keeps_the_picture() -> None:
    sharp = built_image(0, 3, seed=5, blur=0.0)
    soft = degrade(sharp, Degradation(side=64, quality=30))
    assert soft.shape == sharp.shape and soft.dtype == np.uint8

    def detail(a: np.ndarray) -> float:
        grey = a.astype(np.float64).mean(axis=2)
        return float(np.abs(np.diff(grey, axis=1)).mean())

    assert detail(soft) < 0.6 * detail(sharp)
    assert np.abs(soft.astype(int).mean((0, 1)) - sharp.astype(int).mean((0, 1))).max() < 8


def test_short_finetune_changes_only_the_last_blocks(tmp_path: Path, curated: Path) -> None:
    config = tiny_config(
        curated,
        epochs=1,
        degrade_views=0,
        finetune=True,
        finetune_steps=2,
        finetune_batch_size=4,
        device="cpu",
    )
    outcome = train(config, tmp_path / "ft", log=_quiet)
    assert outcome.finished and outcome.summary["finetuned"]
    run = load_run(tmp_path / "ft")
    assert run.finetuned
    tuned, original = run.backbone.net.state_dict(), load_lite0().state_dict()
    changed = {k for k in original if not torch.equal(tuned[k], original[k])}
    assert changed, "fine-tuning changed nothing"
    last = len(run.backbone.net._blocks) - config.finetune_blocks
    blocks = tuple(f"_blocks.{i}." for i in range(last, len(run.backbone.net._blocks)))
    allowed = (*blocks, "_conv_head", "_bn1")
    assert all(k.startswith(allowed) for k in changed), sorted(changed)[:5]
