"""`sorter-train train`: heads for indoor/outdoor and room type, optionally a fine-tuned backbone.

Stages, each checkpointed so `--resume` picks up where a run stopped (Ctrl-C, a crash, a
`cancelled()` callback): `heads` (epochs over stored embeddings plus their degraded views),
`finetune` (optional: the last blocks of the backbone and the heads, on augmented pixels), then
`calibrate` (a temperature per head fitted on the validation split) which writes model.pt.
Sources named by `holdout_sources` are removed from training and validation entirely, so
`evaluate` can report how the heads do on photos from a source they have never seen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sorter_app.core.atomic import atomic_write_text

from .backbone import OnnxBackbone, check_stored_embeddings
from .balance import sample_weights
from .efficientnet_lite import EfficientNetLite, LiteEmbedder
from .errors import TrainingError
from .finetune import finetune
from .head_training import HEAD_NAMES, HeadTrainer, head_data, val_tensors
from .heads import Heads, fit_temperature
from .pretrained import load_lite0
from .run_files import CHECKPOINT_FILE, LOG_FILE, MODEL_FILE, VIEWS_FILE, load_torch, save_torch
from .shards import CuratedData, CuratedSplit
from .train_config import TrainConfig, load_config, save_config
from .views import degraded_views

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainOutcome:
    run_dir: Path
    finished: bool  # False: stopped by `cancelled()`; the checkpoint lets `--resume` continue
    summary: dict[str, Any]


def _never() -> bool:
    return False


def train(
    config: TrainConfig | None,
    run_dir: Path,
    *,
    resume: bool = False,
    log: Log = print,
    cancelled: Callable[[], bool] = _never,
) -> TrainOutcome:
    """Train (or with `resume`, continue) the run in `run_dir`; `config` is ignored when resuming."""
    checkpoint: dict[str, Any] | None = None
    if resume:
        config = load_config(run_dir)
        if (run_dir / CHECKPOINT_FILE).is_file():
            checkpoint = load_torch(run_dir / CHECKPOINT_FILE)
            log(f"resuming {run_dir} at stage {checkpoint['stage']}")
    else:
        if config is None:
            raise TrainingError("a config is needed for a new run")
        if (run_dir / CHECKPOINT_FILE).exists() or (run_dir / MODEL_FILE).exists():
            raise TrainingError(f"{run_dir} already holds a run: pass --resume, or choose another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(run_dir, config)
    assert config is not None
    if checkpoint is not None and checkpoint["stage"] == "done":
        log("nothing to do: the run is finished")
        return TrainOutcome(run_dir, True, load_torch(run_dir / MODEL_FILE)["summary"])
    torch.manual_seed(config.seed)

    data = CuratedData(Path(config.data))
    train_rows = data.load("train").without_sources(config.holdout_sources)
    val_rows = data.load("val").without_sources(config.holdout_sources)
    if not (train_rows.scene >= 0).any() or not (train_rows.room >= 0).any():
        raise TrainingError("the training split needs images with scene labels and with room labels")
    log(
        f"train: {len(train_rows)} images, val: {len(val_rows)} (held out: "
        f"{config.holdout_sources or 'none'})"
    )

    backbone = OnnxBackbone(LiteEmbedder(load_lite0()))
    probe = train_rows.index[:16]
    diff = check_stored_embeddings(backbone, data.pixels("train", probe), train_rows.embedding[:16])
    log(f"shards' embeddings match the frozen backbone (max abs diff {diff:.1e})")
    views = degraded_views(data, train_rows, config, backbone, run_dir / VIEWS_FILE, log)

    heads = Heads(hidden=config.hidden, dropout=config.dropout)
    for name in HEAD_NAMES:
        labels = _labels(train_rows, name)
        heads.head(name).set_standardisation(train_rows.embedding[labels >= 0])
    trainer = HeadTrainer(config, heads)
    stage = "heads"
    if checkpoint is not None:
        trainer.load_state(checkpoint["trainer"])
        stage = str(checkpoint["stage"])

    def save(stage_name: str, extra: dict[str, Any] | None = None) -> None:
        save_torch(
            run_dir / CHECKPOINT_FILE, {"stage": stage_name, "trainer": trainer.state(), **(extra or {})}
        )

    if stage == "heads":
        if not _train_heads(config, trainer, train_rows, val_rows, views, save, log, cancelled):
            return TrainOutcome(run_dir, False, {})
        trainer.restore_best()
        stage = "finetune" if config.finetune else "calibrate"
        save(stage)

    net = load_lite0()
    if stage == "finetune":
        state = (
            checkpoint.get("finetune")
            if checkpoint is not None and checkpoint["stage"] == "finetune"
            else None
        )
        tuned = finetune(
            config,
            data,
            train_rows,
            net,
            heads,
            state,
            lambda s: save("finetune", {"finetune": s}),
            log,
            cancelled,
        )
        if tuned is None:
            return TrainOutcome(run_dir, False, {})
        save("calibrate", {"backbone": net.state_dict()})
        stage = "calibrate"
    elif config.finetune and checkpoint is not None and "backbone" in checkpoint:
        net.load_state_dict(checkpoint["backbone"])

    summary = _calibrate_and_save(config, run_dir, data, val_rows, heads, net, trainer, len(train_rows), log)
    save("done")
    return TrainOutcome(run_dir, True, summary)


def _labels(rows: CuratedSplit, name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    return rows.scene if name == "scene" else rows.room


def _train_heads(
    config: TrainConfig,
    trainer: HeadTrainer,
    train_rows: CuratedSplit,
    val_rows: CuratedSplit,
    views: np.ndarray[Any, np.dtype[np.float32]] | None,
    save: Callable[[str], None],
    log: Log,
    cancelled: Callable[[], bool],
) -> bool:
    data = {
        name: head_data(
            train_rows.embedding,
            views,
            _labels(train_rows, name),
            sample_weights(_labels(train_rows, name), train_rows.source, config.balance),
        )
        for name in HEAD_NAMES
    }
    val = val_tensors(val_rows.embedding, val_rows.scene, val_rows.room)
    while trainer.epoch < config.epochs:
        if cancelled():
            log(f"stopped after epoch {trainer.epoch}; continue with --resume")
            return False
        losses = trainer.run_epoch(data)
        scores = trainer.validate(val)
        trainer.history.append({"epoch": trainer.epoch, "loss": losses, "val_balanced_accuracy": scores})
        save("heads")
        log(
            f"epoch {trainer.epoch}/{config.epochs}: loss scene {losses['scene']:.3f} room "
            f"{losses['room']:.3f}; "
            f"val balanced acc scene {scores['scene']:.3f} room {scores['room']:.3f}"
        )
    return True


def _calibrate_and_save(
    config: TrainConfig,
    run_dir: Path,
    data: CuratedData,
    val_rows: CuratedSplit,
    heads: Heads,
    net: EfficientNetLite,
    trainer: HeadTrainer,
    train_count: int,
    log: Log,
) -> dict[str, Any]:
    """Fit each head's temperature on validation embeddings of the final backbone; write model.pt."""
    embeddings = val_rows.embedding
    if config.finetune:
        backbone = OnnxBackbone(LiteEmbedder(net))
        embeddings = backbone.embed(data.pixels("val", val_rows.index))
    val = val_tensors(embeddings, val_rows.scene, val_rows.room)
    temperatures = {}
    heads.eval()
    for name in HEAD_NAMES:
        x, y = val[name]
        with torch.no_grad():
            logits = heads.head(name).logits(x)
        temperature = fit_temperature(logits, y)
        heads.head(name).temperature.fill_(temperature)
        temperatures[name] = temperature
    summary = {
        "best_epoch": {name: best["epoch"] for name, best in trainer.best.items()},
        "val_balanced_accuracy": {name: best["score"] for name, best in trainer.best.items()},
        "temperature": temperatures,
        "train_images": train_count,
        "finetuned": config.finetune,
    }
    save_torch(
        run_dir / MODEL_FILE,
        {
            "heads": heads.state_dict(),
            "backbone": net.state_dict() if config.finetune else None,
            "summary": summary,
        },
    )
    atomic_write_text(
        run_dir / LOG_FILE, json.dumps({"summary": summary, "history": trainer.history}, indent=2) + "\n"
    )
    log(f"calibrated: temperature scene {temperatures['scene']:.2f}, room {temperatures['room']:.2f}")
    log(f"wrote {run_dir / MODEL_FILE}")
    return summary
