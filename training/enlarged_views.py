"""The trunk's activations of the app's 224-px crop enlarged inside the network: the room tail's input.

A network trained on random crops sees a scene's furniture larger than a centre crop at its own
size shows it; fed that same crop enlarged to 288 px it tells living from dining rooms better (#10,
MODELS.md: the fine-tuned tail on it gains 1.6 points on rooms held out). Enlarging inside the
graph needs no second decode or crop in the app: the model reads the 224 px input it always did,
and a Resize node feeds a second pass of the same, frozen trunk (`EnlargedTrunk`).

`add_enlarged_views` stores that pass's activation ([192, 9, 9] at 288) of every usable row's centre
view and of its mirror image in a feature cache, as `act_up<size>_centre.npy` and
`act_up<size>_flip.npy`, beside the 224 views `build_cache` wrote; `SelectionData.activations`
reads them by those names, so the tail recipe trains and is scored on them like any other view.
Resumable: cache.json's `enlarged` records the rows done after each flushed chunk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray
from torch import nn

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.preprocess import normalise_batch

from .curate.inputs import Item
from .errors import TrainingError
from .export_embedder import INPUT_NAME, LITE0_PREPROCESS
from .feature_cache import BATCH, CACHE_FILE, CHUNK, FeatureCache, cache_session, decode_views
from .onnx_export import export_onnx
from .pretrained import load_lite0
from .reserved_npy import reserved_npy
from .trunk import CUT_BLOCK, Trunk

APP_SIZE = 224  # what the app's preprocessing gives the model
ENLARGED_VIEWS = ("centre", "flip")


def enlarged_view(view: str, size: int) -> str:
    """The cache's name for `view` enlarged to `size` (`up288_centre`)."""
    return f"up{size}_{view}"


def enlarge(image: torch.Tensor, size: int) -> torch.Tensor:
    """[B, 3, 224, 224] → [B, 3, size, size], bilinear (half-pixel centres: what ONNX's Resize does
    with `linear` and `half_pixel`, so the exported graph computes the same)."""
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)


class Enlarge(nn.Module):
    """`enlarge` as a module, for export: the Resize the installed graph's enlarged pass starts with."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return enlarge(image, self.size)


class EnlargedTrunk(nn.Module):
    """image [B, 3, 224, 224] → the trunk's activation of it enlarged to `size` ([B, 192, 9, 9] at 288)."""

    def __init__(self, trunk: nn.Module, size: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.size = size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.trunk(enlarge(image, self.size))
        return out


def activation_shape(size: int) -> tuple[int, int, int]:
    """The trunk's activation of a `size` px input ([192, 7, 7] at 224, [192, 9, 9] at 288), from
    the trunk itself: its padding is fixed for 224 px, so no formula holds for every size."""
    with torch.inference_mode():
        channels, height, width = Trunk(load_lite0(), CUT_BLOCK)(torch.zeros(1, 3, size, size)).shape[1:]
    return int(channels), int(height), int(width)


def _session(size: int) -> ort.InferenceSession:
    model = EnlargedTrunk(Trunk(load_lite0(), CUT_BLOCK), size)
    return cache_session(
        export_onnx(
            model, input_shape=(3, APP_SIZE, APP_SIZE), input_name=INPUT_NAME, output_name="activation"
        )
    )


def add_enlarged_views(
    folder: Path,
    items: list[Item],
    size: int,
    *,
    log: Callable[[str], None] = print,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Add the enlarged centre and mirror views' activations to the finished cache in `folder`
    (built from `items`); rows that failed to decode stay zero."""
    cache = FeatureCache(folder)
    if not cache.complete:
        raise TrainingError(f"{folder}: finish the cache before enlarging its views")
    names = [enlarged_view(v, size) for v in ENLARGED_VIEWS]
    session = _session(size)
    n = len(cache.rows)
    shape = (n, *activation_shape(size))
    meta: dict[str, Any] = cache.meta
    done_before = meta.get("enlarged", {}).get(str(size))
    arrays = {}
    for name in names:
        path = folder / f"act_{name}.npy"
        if done_before is None:
            arrays[name] = reserved_npy(path, np.float16, shape)
        else:
            arrays[name] = np.lib.format.open_memmap(path, mode="r+")
    record = done_before or {"views": names, "done": 0, "seconds": 0.0}
    meta.setdefault("enlarged", {})[str(size)] = record
    done, seconds, started = int(record["done"]), float(record["seconds"]), time.perf_counter()
    usable = [i for i in range(n) if not cache.rows.error[i] and cache.rows.content_hash[i]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        while done < len(usable) and not cancelled():
            rows = usable[done : done + CHUNK]
            decoded = list(pool.map(lambda r: _centre_view(items[r], str(cache.rows.content_hash[r])), rows))
            _encode(session, rows, decoded, arrays, names)
            for array in arrays.values():
                array.flush()
            done += len(rows)
            elapsed = seconds + time.perf_counter() - started
            record.update(done=done, seconds=round(elapsed, 1))
            atomic_write_text(folder / CACHE_FILE, json.dumps(meta, indent=1) + "\n")
            log(f"enlarged to {size}: {done}/{len(usable)} images ({done / max(elapsed, 1e-9):.1f} images/s)")
    record["complete"] = done == len(usable)
    atomic_write_text(folder / CACHE_FILE, json.dumps(meta, indent=1) + "\n")


def _centre_view(item: Item, expected_hash: str) -> NDArray[np.uint8]:
    """The centre view of a row the cache decoded: one that no longer decodes, or decodes to other
    bytes, would leave the row's enlarged views zero (or another image's) beside its 224 ones."""
    digest, error, stack = decode_views(item, ("centre",))
    if digest != expected_hash:
        raise TrainingError(f"{item.path} changed since the cache was built")
    if error or stack is None:
        raise TrainingError(f"{item.path} decoded when the cache was built, and now does not: {error}")
    centre: NDArray[np.uint8] = stack[0]
    return centre


def _encode(
    session: ort.InferenceSession,
    rows: list[int],
    pixels: list[NDArray[np.uint8]],
    arrays: dict[str, Any],
    names: list[str],
) -> None:
    jobs = list(zip(rows, pixels, strict=True))
    for b in range(0, len(jobs), BATCH):
        part = jobs[b : b + BATCH]
        centre = np.stack([p for _, p in part])
        flipped = np.ascontiguousarray(centre[:, :, ::-1])  # the flip view: the centre crop mirrored
        for name, view in zip(names, (centre, flipped), strict=True):
            (activation,) = session.run(None, {INPUT_NAME: normalise_batch(view, LITE0_PREPROCESS)})
            for (row, _), act in zip(part, activation, strict=True):
                arrays[name][row] = act.astype(np.float16)
