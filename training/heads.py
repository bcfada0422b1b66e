"""The scene and room heads, and the one module the app runs: backbone → embedding, scene, room.

Heads read the *L2-normalised* embedding, the very vector the shards store and the app indexes,
so heads trained on stored embeddings fit the exported graph exactly. Each head standardises its
input with the training set's mean and spread (unit-length 1280-d vectors have tiny coordinates,
which slows plain SGD/Adam) and divides its logits by a temperature fitted on the validation
split, so that the probabilities the app thresholds are calibrated.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray
from torch import nn

from .efficientnet_lite import HEAD_CHANNELS, LiteEmbedder
from .labels import ROOMS, SCENES

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.5, 20.0


class Head(nn.Module):
    def __init__(
        self, classes: int, dim: int = HEAD_CHANNELS, hidden: int = 256, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("inv_std", torch.ones(dim))
        self.register_buffer("temperature", torch.ones(()))
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden > 0:
            layers += [nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes)]
        else:
            layers.append(nn.Linear(dim, classes))
        self.net = nn.Sequential(*layers)

    mean: torch.Tensor
    inv_std: torch.Tensor
    temperature: torch.Tensor

    def set_standardisation(self, embeddings: NDArray[np.float32]) -> None:
        x = torch.as_tensor(embeddings, dtype=torch.float32)
        self.mean.copy_(x.mean(0))
        self.inv_std.copy_(1.0 / x.std(0).clamp_min(1e-6))

    def logits(self, embedding: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits: what training optimises."""
        out: torch.Tensor = self.net((embedding - self.mean) * self.inv_std)
        return out

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities: what the app reads."""
        return F.softmax(self.logits(embedding) / self.temperature, dim=-1)


class Heads(nn.Module):
    def __init__(self, hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.scene = Head(len(SCENES), hidden=hidden, dropout=dropout)
        self.room = Head(len(ROOMS), hidden=hidden, dropout=dropout)

    def head(self, name: str) -> Head:
        if name == "scene":
            return self.scene
        if name == "room":
            return self.room
        raise KeyError(name)


class SorterModel(nn.Module):
    """image [B, 3, 224, 224] → (embedding [B, 1280] unit length, scene [B, 2], room [B, 6])."""

    def __init__(self, backbone: LiteEmbedder, heads: Heads) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = heads

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        embedding = self.backbone(image)
        return embedding, self.heads.scene(embedding), self.heads.room(embedding)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 200) -> float:
    """The single temperature that minimises validation NLL (Guo et al., 2017).

    Optimised in log space so it stays positive; it rescales confidence without changing any
    prediction, which keeps accuracy and makes the "unknown" threshold mean what it says. Kept
    within [0.5, 20]: on a nearly separable validation split NLL keeps falling as T → 0, and
    sharpening logits more than twofold on the strength of a handful of errors is extrapolation.
    """
    if labels.numel() == 0:
        return 1.0
    log_t = torch.zeros((), requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps)
    logits = logits.detach()

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return float(log_t.detach().exp().clamp(MIN_TEMPERATURE, MAX_TEMPERATURE))
