"""Everything that decides a training run, saved as JSON beside its checkpoints.

A run folder must say how it was made: `sorter-train export` copies this config into the model
sidecar, and `--resume` continues with exactly the saved values (only the epoch budget may grow).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sorter_app.core.atomic import atomic_write_text

from .errors import TrainingError

CONFIG_FILE = "config.json"
BALANCE_MODES = ("none", "class", "class_source")


@dataclass
class TrainConfig:
    data: str
    seed: int = 0
    # Heads on the frozen embedder (both stages train them).
    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    hidden: int = 256  # 0: a linear head (logistic regression on the standardised embedding)
    dropout: float = 0.3
    # "class_source": every class weighs the same, and within a class every source weighs the
    # same, so the largest outdoor source (Intel, 100 px) cannot define what "outdoor" looks like.
    balance: str = "class_source"
    # Degraded views: each training image is also embedded after a downscale to a random
    # `degrade_min_px`..`degrade_max_px` side, JPEG re-encoding and upscaling back, so that blur
    # and compression are seen with both labels and stop being an "outdoor" cue.
    degrade_views: int = 2
    degrade_min_px: int = 64
    degrade_max_px: int = 160
    degrade_quality: tuple[int, int] = (30, 90)
    degrade_prob: float = 0.5  # chance that a sample is drawn as one of its degraded views
    holdout_sources: list[str] = field(default_factory=list)
    # Fine-tuning the backbone (optional second stage, on pixels).
    finetune: bool = False
    finetune_blocks: int = 2  # trainable: the last N MBConv blocks + the head conv
    finetune_steps: int = 200
    finetune_batch_size: int = 16
    finetune_lr: float = 1e-4
    finetune_head_lr: float = 5e-4
    checkpoint_every: int = 25  # fine-tuning steps between checkpoints
    device: str = "auto"  # auto: an accelerator when torch sees one, else CPU

    def __post_init__(self) -> None:
        if self.balance not in BALANCE_MODES:
            raise TrainingError(f"balance must be one of {', '.join(BALANCE_MODES)}, not {self.balance!r}")
        if not 0 < self.degrade_min_px <= self.degrade_max_px:
            raise TrainingError("need 0 < degrade_min_px <= degrade_max_px")
        lo, hi = self.degrade_quality
        if not 1 <= lo <= hi <= 100:
            raise TrainingError("degrade_quality must be 1 <= low <= high <= 100")
        self.degrade_quality = (int(lo), int(hi))
        if self.epochs < 1 or self.batch_size < 1:
            raise TrainingError("epochs and batch_size must be positive")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainingError(f"unknown training config keys: {', '.join(unknown)}")
        values = dict(data)
        if "degrade_quality" in values:
            lo, hi = values["degrade_quality"]
            values["degrade_quality"] = (int(lo), int(hi))
        return cls(**values)


def save_config(run_dir: Path, config: TrainConfig) -> Path:
    path = run_dir / CONFIG_FILE
    atomic_write_text(path, json.dumps(config.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def load_config(run_dir: Path) -> TrainConfig:
    path = run_dir / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingError(f"not a training run: {path} missing") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainingError(f"cannot read {path}: {exc}") from exc
    return TrainConfig.from_json(data)
