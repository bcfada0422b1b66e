"""Training the two heads on stored embeddings: seconds per epoch on a CPU.

Each head sees its own rows (scene: every image with a scene label; room: every image with a room
label), a class-and-source balanced weighted loss, and each sample is drawn either clean or as
one of its pre-computed degraded views. The whole state (weights, optimisers, schedules, the
shuffling generator, torch's global generator that dropout draws from, the best epoch so far)
round-trips through a dict, so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray

from .heads import Head, Heads
from .labels import ROOMS, SCENES
from .metrics import balanced_accuracy
from .train_config import TrainConfig

HEAD_NAMES = ("scene", "room")
CLASS_COUNTS = {"scene": len(SCENES), "room": len(ROOMS)}


@dataclass
class HeadData:
    """One head's training rows: clean embeddings, degraded views [V, N, D] (or None), labels, weights."""

    clean: torch.Tensor
    views: torch.Tensor | None
    labels: torch.Tensor
    weights: torch.Tensor


def head_data(
    embeddings: NDArray[np.float32],
    views: NDArray[np.float32] | None,
    labels: NDArray[np.int64],
    weights: NDArray[np.float32],
) -> HeadData:
    rows = labels >= 0
    return HeadData(
        clean=torch.from_numpy(np.ascontiguousarray(embeddings[rows])),
        views=None if views is None else torch.from_numpy(np.ascontiguousarray(views[:, rows])),
        labels=torch.from_numpy(labels[rows]),
        weights=torch.from_numpy(weights[rows]),
    )


class HeadTrainer:
    """Both heads, their optimisers and schedules, and the best-so-far weights per head."""

    def __init__(self, config: TrainConfig, heads: Heads) -> None:
        self.config = config
        self.heads = heads
        self.optimisers = {
            name: torch.optim.AdamW(
                heads.head(name).parameters(), lr=config.lr, weight_decay=config.weight_decay
            )
            for name in HEAD_NAMES
        }
        self.schedules = {
            name: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
            for name, opt in self.optimisers.items()
        }
        self.generator = torch.Generator().manual_seed(config.seed)
        self.epoch = 0
        self.best: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []

    def run_epoch(self, data: dict[str, HeadData]) -> dict[str, float]:
        losses = {
            name: self._train_head(self.heads.head(name), self.optimisers[name], data[name])
            for name in HEAD_NAMES
        }
        for schedule in self.schedules.values():
            schedule.step()
        self.epoch += 1
        return losses

    def _train_head(self, head: Head, optimiser: torch.optim.Optimizer, data: HeadData) -> float:
        head.train()
        n = data.labels.shape[0]
        if n == 0:
            return float("nan")
        order = torch.randperm(n, generator=self.generator)
        pick_view = torch.rand(n, generator=self.generator) < self.config.degrade_prob
        view_index = torch.randint(max(1, self.config.degrade_views), (n,), generator=self.generator)
        total, weight_sum = 0.0, 0.0
        for start in range(0, n, self.config.batch_size):
            idx = order[start : start + self.config.batch_size]
            x = data.clean[idx].clone()
            if data.views is not None:
                use = pick_view[idx]
                x[use] = data.views[view_index[idx][use], idx[use]]
            w = data.weights[idx]
            loss = (F.cross_entropy(head.logits(x), data.labels[idx], reduction="none") * w).sum() / w.sum()
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += float(loss.detach()) * float(w.sum())
            weight_sum += float(w.sum())
        return total / weight_sum

    def validate(self, val: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """Balanced accuracy per head on clean validation embeddings; keeps each head's best weights."""
        scores = {}
        for name in HEAD_NAMES:
            x, y = val[name]
            score = score_head(self.heads.head(name), x, y, CLASS_COUNTS[name])
            scores[name] = score
            if y.numel() and (name not in self.best or score > self.best[name]["score"]):
                state = copy.deepcopy(self.heads.head(name).state_dict())
                self.best[name] = {"score": score, "epoch": self.epoch, "state": state}
        return scores

    def restore_best(self) -> None:
        for name, best in self.best.items():
            self.heads.head(name).load_state_dict(best["state"])

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "heads": self.heads.state_dict(),
            "optimisers": {k: v.state_dict() for k, v in self.optimisers.items()},
            "schedules": {k: v.state_dict() for k, v in self.schedules.items()},
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout draws from the global generator
            "best": self.best,
            "history": self.history,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.heads.load_state_dict(state["heads"])
        for name in HEAD_NAMES:
            self.optimisers[name].load_state_dict(state["optimisers"][name])
            self.schedules[name].load_state_dict(state["schedules"][name])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.best = state["best"]
        self.history = list(state["history"])


def score_head(head: Head, x: torch.Tensor, y: torch.Tensor, classes: int) -> float:
    if y.numel() == 0:
        return float("nan")
    head.eval()
    with torch.no_grad():
        predicted = head.logits(x).argmax(1).numpy()
    return balanced_accuracy(predicted, y.numpy(), classes)


def val_tensors(
    embeddings: NDArray[np.float32], scene: NDArray[np.int64], room: NDArray[np.int64]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    out = {}
    for name, labels in (("scene", scene), ("room", room)):
        rows = labels >= 0
        out[name] = (torch.from_numpy(np.ascontiguousarray(embeddings[rows])), torch.from_numpy(labels[rows]))
    return out


Log = Callable[[str], None]
