"""Fine-tuning that trains on a CPU: a copy of the network's last block + head conv, on cached activations.

The frozen trunk's activations of each image's views (centre, flip, two augmented crops) are in
the feature cache, so an epoch never touches pixels: a batch is a draw of one view per image, the
copied tail (block 15 + head conv, BatchNorm statistics frozen) turns it into pooled features,
and one linear layer per head reads their unit-length version. The heads start as the plain
logistic regressions on the frozen embedding (which the untouched copy reproduces exactly), so
epoch 0 *is* the baseline and every epoch after it is scored against it.

Regularisation is what keeps a model trained on five sources honest on a sixth: an L2-SP penalty
pulls the tail towards its ImageNet weights, every class and every source within a class weighs
the same, and the number of epochs is chosen on held-out sources (`select_epochs`), never on the
source being scored.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray
from torch import nn

from .efficientnet_lite import HEAD_CHANNELS
from .enlarged_views import ENLARGED_VIEWS, enlarged_view
from .linear import fit_logistic
from .pretrained import load_lite0
from .selection import source_balanced_weights
from .selection_data import HEAD_LABELS, SelectionData
from .trunk import CUT_BLOCK, Tail, unit_length

TAIL_HEADS = ("scene", "room")
TRAIN_VIEWS = ("centre", "flip", "aug0", "aug1")


@dataclass(frozen=True)
class TailConfig:
    epochs: int = 8
    samples_per_epoch: int = 4096  # images drawn per epoch (class-and-source balanced per head)
    batch_size: int = 128
    lr: float = 1e-4  # the copied tail
    head_lr: float = 1e-3
    l2_sp: float = 1e-2  # pull towards the ImageNet weights: alpha · Σ (θ − θ₀)²
    head_c: float = 1.0  # the initial heads' logistic-regression C
    seed: int = 0
    views: tuple[str, ...] = TRAIN_VIEWS  # the first is the one it is scored and thresholded on
    enlarge: int = 0  # 0: the trunk's activations of the 224 px views; S: of them enlarged to S px

    @classmethod
    def enlarged(cls, size: int, **kwargs: Any) -> TailConfig:
        """The recipe on the centre and mirror views enlarged to `size` inside the network (the
        only views `features --enlarge` stores)."""
        return cls(views=tuple(enlarged_view(v, size) for v in ENLARGED_VIEWS), enlarge=size, **kwargs)

    @property
    def recipe(self) -> str:
        """Its name among `select`'s recipes: `tail`, or `tail_up288` for the enlarged views."""
        return "tail" if not self.enlarge else f"tail_up{self.enlarge}"

    @property
    def prefix(self) -> str:
        """Where `fit` saves it among heads.npz's arrays: '' (as before there were two), or `up288/`."""
        return "" if not self.enlarge else f"up{self.enlarge}/"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TailConfig:
        return cls(
            epochs=int(data["epochs"]),
            samples_per_epoch=int(data["samples_per_epoch"]),
            batch_size=int(data["batch_size"]),
            lr=float(data["lr"]),
            head_lr=float(data["head_lr"]),
            l2_sp=float(data["l2_sp"]),
            head_c=float(data["head_c"]),
            seed=int(data["seed"]),
            views=tuple(str(v) for v in data["views"]),
            enlarge=int(data.get("enlarge", 0)),  # records from before enlarged views
        )


class TunedHeads(nn.Module):
    """activation [B, 192, 7, 7] → {head: logits}: a copied tail, then a linear layer per head."""

    def __init__(self, tail: Tail, heads: dict[str, nn.Linear]) -> None:
        super().__init__()
        self.tail = tail
        self.heads = nn.ModuleDict(heads)

    def features(self, activation: torch.Tensor) -> torch.Tensor:
        return unit_length(self.tail(activation))

    def forward(self, activation: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.features(activation)
        return {name: head(x) for name, head in self.heads.items()}


def linear_layer(weight: NDArray[Any], bias: NDArray[Any]) -> nn.Linear:
    """A torch layer holding a linear head's arrays (`weight` is [classes, dim]), as float32."""
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.asarray(weight, dtype=np.float32)))
        layer.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))
    return layer


@dataclass
class TailRun:
    """A trained model per epoch is not kept; `states[e]` is the model after epoch e (0: the baseline)."""

    states: list[dict[str, torch.Tensor]]
    history: list[dict[str, Any]]
    seconds: float


def _balanced_draw(
    data: SelectionData, rows: NDArray[np.int64], count: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """`count` rows, half drawn balanced for the scene and half for the room (class, then source)."""
    picks = []
    for head in TAIL_HEADS:
        labelled = rows[data.labels[head][rows] >= 0]
        weights = source_balanced_weights(
            data.labels[head][labelled], data.source[labelled], len(HEAD_LABELS[head])
        )
        picks.append(rng.choice(labelled, size=count // len(TAIL_HEADS), p=weights / weights.sum()))
    return np.concatenate(picks)


def train_tail(
    data: SelectionData,
    rows: NDArray[np.int64],
    config: TailConfig,
    activations: dict[str, NDArray[np.float16]],
    centre_embedding: NDArray[np.float32],
    *,
    evaluate: Callable[[TunedHeads, int], dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
    cancelled: Callable[[], bool] = lambda: False,
) -> TailRun:
    """Train on `rows` (indices into `data`); `activations[view]` and `centre_embedding` are full-length."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    heads = {}
    for head in TAIL_HEADS:
        labelled = rows[data.labels[head][rows] >= 0]
        y = data.labels[head][labelled]
        classes = len(HEAD_LABELS[head])
        w = source_balanced_weights(y, data.source[labelled], classes)
        lr = fit_logistic(centre_embedding[labelled], y, classes, c=config.head_c, sample_weight=w)
        heads[head] = linear_layer(lr.weight, lr.bias)
    model = TunedHeads(Tail(load_lite0(), CUT_BLOCK), heads)
    model.eval()  # BatchNorm statistics stay the ImageNet ones; there is no dropout
    start = [p.detach().clone() for p in model.tail.parameters()]
    optimiser = torch.optim.AdamW(
        [
            {"params": list(model.tail.parameters()), "lr": config.lr, "weight_decay": 0.0},
            {"params": list(model.heads.parameters()), "lr": config.head_lr, "weight_decay": 1e-4},
        ]
    )
    steps_per_epoch = max(1, config.samples_per_epoch // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs * steps_per_epoch)
    states = [copy.deepcopy(model.state_dict())]
    history = [{"epoch": 0, **(evaluate(model, 0) if evaluate else {})}]
    log(f"tail epoch 0 (the logistic-regression baseline): {history[-1]}")
    started = time.perf_counter()
    labels = {head: torch.from_numpy(data.labels[head]) for head in TAIL_HEADS}
    for epoch in range(1, config.epochs + 1):
        if cancelled():
            break
        drawn = _balanced_draw(data, rows, steps_per_epoch * config.batch_size, rng)
        rng.shuffle(drawn)
        view_of = rng.integers(len(config.views), size=drawn.size)
        total = 0.0
        for step in range(steps_per_epoch):
            batch = drawn[step * config.batch_size : (step + 1) * config.batch_size]
            views = view_of[step * config.batch_size : (step + 1) * config.batch_size]
            x = np.empty((batch.size, *activations[config.views[0]].shape[1:]), dtype=np.float32)
            for v, name in enumerate(config.views):
                mine = views == v
                x[mine] = activations[name][batch[mine]]
            logits = model(torch.from_numpy(x))
            loss = torch.zeros(())
            for head in TAIL_HEADS:
                target = labels[head][batch]
                has = target >= 0
                if has.any():
                    loss = loss + F.cross_entropy(logits[head][has], target[has])
            penalty = sum(((p - p0) ** 2).sum() for p, p0 in zip(model.tail.parameters(), start, strict=True))
            loss = loss + config.l2_sp * penalty
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        states.append(copy.deepcopy(model.state_dict()))
        history.append(
            {"epoch": epoch, "loss": total / steps_per_epoch, **(evaluate(model, epoch) if evaluate else {})}
        )
        log(f"tail epoch {epoch}/{config.epochs} ({time.perf_counter() - started:.0f} s): {history[-1]}")
    return TailRun(states, history, time.perf_counter() - started)


def tuned_arrays(
    state: dict[str, torch.Tensor],
    prefix: str = "",
    heads: tuple[str, ...] = TAIL_HEADS,
    enlarge: int = 0,
    indoors_only: bool = False,
) -> dict[str, NDArray[Any]]:
    """A `TunedHeads` state as `fit` saves it: `<prefix>tail/<param>`, `<prefix><head>/weight|bias`
    for the `heads` it answers, `<prefix>tail_heads`, `<prefix>enlarge` for a tail on enlarged
    views, and `<prefix>indoors_only` for one that answers only the photos the scene head calls
    indoor (an earlier tail answering the rest). What `tuned_heads_from` and `tuned_tails` read back."""
    arrays: dict[str, NDArray[Any]] = {f"{prefix}tail_heads": np.array(heads)}
    if enlarge:
        arrays[f"{prefix}enlarge"] = np.array(enlarge)
    if indoors_only:
        arrays[f"{prefix}indoors_only"] = np.array(True)
    for key, value in state.items():
        if key.startswith("heads."):
            head, what = key.removeprefix("heads.").split(".")
            if head in heads:
                arrays[f"{prefix}{head}/{what}"] = value.numpy()
        else:
            arrays[prefix + key.replace(".", "/", 1)] = value.numpy()
    return arrays


@dataclass(frozen=True)
class SavedTail:
    """What `fit` saved of one fine-tuned tail, besides its weights: the heads it answers, the size
    its views were enlarged to (0: the trunk's activation of the input itself), and whether it
    answers only the photos the scene head calls indoor (an earlier tail answering the rest)."""

    heads: tuple[str, ...]
    enlarge: int = 0
    indoors_only: bool = False


def tuned_tails(arrays: dict[str, Any]) -> dict[str, SavedTail]:
    """prefix → `SavedTail` for every fine-tuned tail `fit` saved (see `tuned_arrays`)."""
    prefixes = [key.removesuffix("tail_heads") for key in arrays if key.endswith("tail_heads")]
    return {
        prefix: SavedTail(
            heads=tuple(str(h) for h in arrays[f"{prefix}tail_heads"]),
            enlarge=int(arrays.get(f"{prefix}enlarge", 0)),
            indoors_only=bool(arrays.get(f"{prefix}indoors_only", False)),
        )
        for prefix in prefixes
    }


def tuned_heads_from(arrays: dict[str, Any], prefix: str = "") -> TunedHeads:
    """The model `fit` saved under `prefix` (see `tuned_arrays`), with the heads it answers."""
    tail = Tail(load_lite0(), CUT_BLOCK)
    params = f"{prefix}tail/"
    tail.load_state_dict(
        {k.removeprefix(params): torch.from_numpy(v) for k, v in arrays.items() if k.startswith(params)}
    )
    names = [str(h) for h in arrays.get(f"{prefix}tail_heads", TAIL_HEADS)]
    heads = {h: linear_layer(arrays[f"{prefix}{h}/weight"], arrays[f"{prefix}{h}/bias"]) for h in names}
    return TunedHeads(tail, heads).eval()


def frozen_tail_embedding(
    activations: NDArray[np.float16], rows: NDArray[np.int64], batch_size: int = 512
) -> NDArray[np.float32]:
    """The untouched tail's unit-length embedding of `activations[rows]` (zero elsewhere): for
    the enlarged views, what the cache's `emb_centre` is for the 224 ones: the features the
    heads' logistic regressions start from."""
    tail = Tail(load_lite0(), CUT_BLOCK).eval()
    out = np.zeros((activations.shape[0], HEAD_CHANNELS), np.float32)
    with torch.inference_mode():
        for start in range(0, rows.size, batch_size):
            batch = rows[start : start + batch_size]
            x = torch.from_numpy(np.asarray(activations[batch], dtype=np.float32))
            out[batch] = unit_length(tail(x)).numpy()
    return out


def start_embedding(
    data: SelectionData, config: TailConfig, activations: dict[str, NDArray[np.float16]]
) -> NDArray[np.float32]:
    """What the heads' logistic regressions start from: the cache's centre embedding, or for
    enlarged views the untouched tail's embedding of the first of them."""
    if not config.enlarge:
        return data.embeddings("centre")
    return frozen_tail_embedding(activations[config.views[0]], np.flatnonzero(data.labelled_photos))


def predict_tail(
    model: TunedHeads, activations: NDArray[np.float16], batch_size: int = 512
) -> dict[str, NDArray[np.float32]]:
    """Softmax probabilities per head for cached activations."""
    out: dict[str, list[NDArray[np.float32]]] = {head: [] for head in model.heads}
    with torch.inference_mode():
        for start in range(0, activations.shape[0], batch_size):
            x = torch.from_numpy(np.asarray(activations[start : start + batch_size], dtype=np.float32))
            for head, logits in model(x).items():
                out[head].append(F.softmax(logits, dim=1).numpy())
    return {head: np.concatenate(parts) for head, parts in out.items()}
