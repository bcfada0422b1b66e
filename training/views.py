"""Degraded views of the training images, embedded once per run and cached in the run folder.

Heads on the frozen embedder train in seconds, but the degraded views need every training pixel
degraded and re-embedded (~2 minutes for 11k images × 2 views on 2 cores), so they are computed
once, keyed by everything that decides them, and reused by `--resume` and by identical re-runs.
Each image's degradations depend only on (seed, view, row), never on batching or shard layout.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path

from .backbone import OnnxBackbone
from .degrade import degrade, random_degradation
from .shards import CuratedData, CuratedSplit
from .train_config import TrainConfig


def views_key(config: TrainConfig, rows: CuratedSplit, backbone_sha256: str) -> str:
    spec = {
        "rows": hashlib.sha256("\n".join(rows.content_hash.tolist()).encode()).hexdigest(),
        "views": config.degrade_views,
        "min_px": config.degrade_min_px,
        "max_px": config.degrade_max_px,
        "quality": list(config.degrade_quality),
        "seed": config.seed,
        "backbone": backbone_sha256,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def degraded_views(
    data: CuratedData,
    rows: CuratedSplit,
    config: TrainConfig,
    backbone: OnnxBackbone,
    cache: Path,
    log: Callable[[str], None],
) -> NDArray[np.float32] | None:
    """[views, N, D] embeddings of degraded copies of `rows` (train split), or None when disabled."""
    if config.degrade_views <= 0:
        return None
    key = views_key(config, rows, hashlib.sha256(backbone.onnx_bytes).hexdigest())
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as npz:
            if str(npz["key"]) == key:
                log(f"degraded views: reusing {cache.name}")
                return np.asarray(npz["views"], dtype=np.float32)
    n, views = len(rows), config.degrade_views
    out = np.empty((views, n, rows.embedding.shape[1]), dtype=np.float32)
    started, done = time.perf_counter(), 0
    for positions, pixels in data.iter_pixels("train", rows.index):
        row_ids = rows.index[positions]
        for view in range(views):
            degraded = np.empty_like(pixels)
            for i, row in enumerate(row_ids):
                rng = np.random.default_rng([config.seed, view, int(row)])
                how = random_degradation(
                    rng, config.degrade_min_px, config.degrade_max_px, config.degrade_quality
                )
                degraded[i] = degrade(pixels[i], how)
            out[view, positions] = backbone.embed(degraded)
        done += len(positions)
        rate = done * views / max(time.perf_counter() - started, 1e-9)
        log(f"degraded views: {done}/{n} images × {views} ({rate:.0f} embeddings/s)")
    with atomic_path(cache) as tmp, tmp.open("wb") as fh:
        np.savez(fh, key=np.array(key), views=out)
    return out
