"""What a run folder holds, and loading a finished run back as torch modules.

RUN_DIR/config.json        TrainConfig (written first, so even a crashed run says what it was)
RUN_DIR/checkpoint.pt      everything `--resume` needs (stage, epoch/step, optimisers, RNG states)
RUN_DIR/degraded_views.npz cached embeddings of degraded training pixels (costly to recompute)
RUN_DIR/model.pt           the finished model: heads (+ the backbone when fine-tuned), calibrated
RUN_DIR/train_log.json     per-epoch losses and validation scores
RUN_DIR/evaluation.json    `sorter-train evaluate`'s report (+ evaluation.txt); export reads it
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sorter_app.core.atomic import atomic_path

from .efficientnet_lite import LiteEmbedder
from .errors import TrainingError
from .heads import Heads
from .pretrained import load_lite0
from .train_config import TrainConfig, load_config

CHECKPOINT_FILE = "checkpoint.pt"
VIEWS_FILE = "degraded_views.npz"
MODEL_FILE = "model.pt"
LOG_FILE = "train_log.json"
EVALUATION_FILE = "evaluation.json"
EVALUATION_TEXT = "evaluation.txt"


def save_torch(path: Path, payload: dict[str, Any]) -> None:
    """torch.save through a temp file + rename: an interrupted save leaves the old checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_torch(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise TrainingError(f"{path} missing") from None
    return data


@dataclass
class TrainedRun:
    config: TrainConfig
    heads: Heads
    backbone: LiteEmbedder
    finetuned: bool
    summary: dict[str, Any]


def load_run(run_dir: Path) -> TrainedRun:
    """The finished model of a run; the backbone is the packaged weights unless it was fine-tuned."""
    config = load_config(run_dir)
    if not (run_dir / MODEL_FILE).is_file():
        raise TrainingError(f"{run_dir} has no {MODEL_FILE}: training did not finish (use --resume)")
    model = load_torch(run_dir / MODEL_FILE)
    heads = Heads(hidden=config.hidden, dropout=config.dropout)
    heads.load_state_dict(model["heads"])
    net = load_lite0()
    if model.get("backbone") is not None:
        net.load_state_dict(model["backbone"])
    return TrainedRun(
        config=config,
        heads=heads.eval(),
        backbone=LiteEmbedder(net).eval(),
        finetuned=model.get("backbone") is not None,
        summary=dict(model.get("summary", {})),
    )


def read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingError(f"{path} missing") from None
    return data
