"""Optional second stage: fine-tune the last blocks of the backbone together with both heads.

Only the last `finetune_blocks` MBConv blocks and the 1280-channel head conv learn; BatchNorm
statistics stay frozen (batches of 16 on a CPU would give noisy statistics, and the features the
heads were trained on must not drift wholesale). Samples are drawn class-and-source balanced for
the scene; the room loss is weighted the same way over the room-labelled rows of each batch.
Augmentation is torchvision's (random resized crop, flip, colour jitter) plus the same
resolution/JPEG degradation as the heads stage. An accelerator is used when torch sees one.

Every step is seeded from (seed, step), so a run resumed from a checkpoint continues with the same
samples and augmentations it would have drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray
from PIL import Image
from torchvision import transforms

from sorter_app.core.preprocess import normalise_batch

from .balance import sample_weights
from .degrade import degrade, random_degradation
from .efficientnet_lite import EfficientNetLite, LiteEmbedder
from .export_embedder import LITE0_PREPROCESS
from .heads import Heads
from .shards import CuratedData, CuratedSplit
from .train_config import TrainConfig


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def trainable_parameters(net: EfficientNetLite, blocks: int) -> list[torch.nn.Parameter]:
    """Freeze everything, then unfreeze the last `blocks` MBConv blocks and the head conv + its BN."""
    for p in net.parameters():
        p.requires_grad_(False)
    modules: list[torch.nn.Module] = [
        *list(net._blocks)[len(net._blocks) - blocks :],
        net._conv_head,
        net._bn1,
    ]
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


def augment_batch(
    pixels: NDArray[np.uint8], config: TrainConfig, rng: np.random.Generator, augment: transforms.Compose
) -> NDArray[np.uint8]:
    out = np.empty_like(pixels)
    for i, p in enumerate(pixels):
        if rng.random() < config.degrade_prob:
            p = degrade(
                p,
                random_degradation(rng, config.degrade_min_px, config.degrade_max_px, config.degrade_quality),
            )
        out[i] = np.asarray(augment(Image.fromarray(p, "RGB")), dtype=np.uint8)
    return out


def finetune(
    config: TrainConfig,
    data: CuratedData,
    rows: CuratedSplit,
    net: EfficientNetLite,
    heads: Heads,
    state: dict[str, Any] | None,
    save: Callable[[dict[str, Any]], None],
    log: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> EfficientNetLite | None:
    """Fine-tune `net` and `heads` in place; None when `cancelled()` stopped it (state is saved)."""
    device = pick_device(config.device)
    pixels = data.pixels("train", rows.index)
    scene_w = sample_weights(rows.scene, rows.source, config.balance)
    room_w = torch.from_numpy(sample_weights(rows.room, rows.source, config.balance))
    draw = torch.from_numpy(scene_w.astype(np.float64))
    params = trainable_parameters(net, config.finetune_blocks)
    optimiser = torch.optim.AdamW(
        [
            {"params": params, "lr": config.finetune_lr},
            {"params": list(heads.parameters()), "lr": config.finetune_head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    step = 0
    if state is not None:
        net.load_state_dict(state["net"])
        heads.load_state_dict(state["heads"])
        optimiser.load_state_dict(state["optimiser"])
        step = int(state["step"])
    net.to(device).eval()  # frozen BatchNorm statistics, no stochastic depth
    heads.to(device).train()
    embedder = LiteEmbedder(net)
    augment = transforms.Compose(
        [
            transforms.RandomResizedCrop(LITE0_PREPROCESS.size, scale=(0.5, 1.0), antialias=True),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(0.2, 0.2, 0.2, 0.02),
        ]
    )
    scene_y, room_y = torch.from_numpy(rows.scene), torch.from_numpy(rows.room)
    log(
        f"fine-tuning on {device}: {len(params)} tensors in the last {config.finetune_blocks} blocks + "
        "head conv"
    )
    started, first_step = time.perf_counter(), step

    def snapshot() -> dict[str, Any]:
        return {
            "step": step,
            "net": {k: v.cpu() for k, v in net.state_dict().items()},
            "heads": {k: v.cpu() for k, v in heads.state_dict().items()},
            "optimiser": optimiser.state_dict(),
        }

    while step < config.finetune_steps:
        if cancelled():
            save(snapshot())
            log(f"stopped at fine-tuning step {step}; continue with --resume")
            return None
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        torch.manual_seed(config.seed * 1_000_003 + step)  # torchvision's random transforms
        idx = torch.multinomial(draw, config.finetune_batch_size, replacement=True, generator=generator)
        rng = np.random.default_rng([config.seed, 7, step])
        batch = augment_batch(pixels[idx.numpy()], config, rng, augment)
        x = torch.from_numpy(normalise_batch(batch, LITE0_PREPROCESS)).to(device)
        embedding = embedder(x)
        ys, yr, wr = scene_y[idx].to(device), room_y[idx].to(device), room_w[idx].to(device)
        has_scene, has_room = ys >= 0, yr >= 0
        loss = torch.zeros((), device=device)
        if has_scene.any():
            loss = loss + F.cross_entropy(heads.scene.logits(embedding[has_scene]), ys[has_scene])
        if has_room.any():
            per = F.cross_entropy(heads.room.logits(embedding[has_room]), yr[has_room], reduction="none")
            loss = loss + (per * wr[has_room]).sum() / wr[has_room].sum()
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        step += 1
        if step % 10 == 0 or step == config.finetune_steps:
            rate = (step - first_step) * config.finetune_batch_size / (time.perf_counter() - started)
            done = f"{step}/{config.finetune_steps}"
            log(f"fine-tune step {done}: loss {float(loss.detach()):.3f} ({rate:.1f} images/s)")
        if step % config.checkpoint_every == 0 and step < config.finetune_steps:
            save(snapshot())
    net.cpu()
    heads.cpu().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
