"""Tiny curated folders in `sorter-train curate`'s output format, for the train/evaluate/export tests.

Images are built with Pillow (outdoor: sky over ground; indoor: a wall colour per room with
furniture-like blocks), embedded by the real bundled model through the app's `Embedder`, and
written as manifest.json + {split}-00000.npz with the documented arrays. Two sources per scene
differ in sharpness, like the real datasets, so the per-source code paths are exercised.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from sorter_app.core.embedder import Embedder
from training.train_config import TrainConfig

ROOM_WALLS = [(235, 235, 245), (200, 170, 150), (180, 60, 50), (90, 90, 100), (240, 240, 200), (120, 150, 90)]


def built_image(scene: int, room: int, seed: int, blur: float) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    size = 224
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    if scene == 1:  # outdoor: a blue sky fading to the horizon, green-brown ground
        horizon = rng.integers(80, 150)
        sky = np.stack([110 + 0.4 * y, 160 + 0.3 * y, 250 - 0.1 * y], axis=-1)
        ground = np.stack([70 + 0 * y, 120 + 0 * y, 40 + 0 * y], axis=-1) + rng.normal(0, 25, (size, size, 3))
        img = np.where((y < horizon)[..., None], sky, ground)
    else:  # indoor: the room's wall colour, a floor, and rectangular furniture
        wall = np.array(ROOM_WALLS[max(room, 0)], dtype=np.float32)
        img = np.broadcast_to(wall, (size, size, 3)).copy()
        img[170:] = (120, 80, 50)
        for _ in range(3 + room % 3):
            x0, y0 = rng.integers(0, 180), rng.integers(60, 180)
            img[y0 : y0 + rng.integers(20, 60), x0 : x0 + rng.integers(20, 60)] = rng.uniform(0, 255, 3)
        img += np.sin(x / (4 + room))[..., None] * 12
    img += rng.normal(0, 6, img.shape)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    if blur > 0:
        pil = pil.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(pil, dtype=np.uint8)


def write_curated(out: Path, embedder: Embedder, per_class: int = 6, seed: int = 0) -> Path:
    """A curated folder: every split gets `per_class` images of each room and of outdoor, per source."""
    out.mkdir(parents=True, exist_ok=True)
    shards = []
    counter = seed * 100_000
    for split in ("train", "val", "test"):
        rows: list[tuple[NDArray[np.uint8], int, int, str]] = []
        for source, blur in (("sharp", 0.0), ("soft", 2.5)):
            for _ in range(per_class):
                for room in range(6):
                    counter += 1
                    rows.append((built_image(0, room, counter, blur), 0, room, f"{source}_rooms"))
                for _ in range(2):
                    counter += 1
                    rows.append((built_image(1, -1, counter, blur), 1, -1, f"{source}_outdoor"))
        pixels = np.stack([r[0] for r in rows])
        paths = [f"{r[3]}/{split}/{i:04d}.png" for i, r in enumerate(rows)]
        arrays = {
            "pixels": pixels,
            "embedding": embedder.embed(pixels).astype(np.float32),
            "scene": np.array([r[1] for r in rows], dtype=np.int8),
            "room": np.array([r[2] for r in rows], dtype=np.int8),
            "source": np.array([r[3] for r in rows]),
            "content_hash": np.array(
                [hashlib.sha256(p.tobytes()).hexdigest()[:32] for p in pixels], dtype="<U32"
            ),
            "path": np.array(paths),
        }
        name = f"{split}-00000.npz"
        np.savez(out / name, **arrays)  # type: ignore[arg-type]
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        shards.append({"file": name, "split": split, "count": len(rows), "sha256": digest})
    manifest = {
        "counts": {s["split"]: s["count"] for s in shards},
        "embedder": {"model_id": embedder.model_id, "sha256": embedder.spec.sha256},
        "shards": shards,
        "seed": seed,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


_BUILT: dict[str, Path] = {}


def shared_curated(root: Path) -> Path:
    """One tiny curated folder per test session (embedding it costs seconds), built on first use."""
    if "curated" not in _BUILT:
        from sorter_app.paths import bundled_model_sidecar

        embedder = Embedder.from_sidecar(bundled_model_sidecar(), threads=2)
        _BUILT["curated"] = write_curated(root / "curated", embedder, per_class=4)
    return _BUILT["curated"]


def tiny_config(data: Path, **overrides: object) -> TrainConfig:
    """Few epochs, small batches: enough to exercise every stage in a few seconds."""
    values: dict[str, object] = {"data": str(data), "epochs": 4, "batch_size": 32, "hidden": 32}
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def shared_run(root: Path) -> Path:
    """One trained + evaluated run per session, shared by the evaluate and export tests."""
    if "run" not in _BUILT:
        from training.evaluate import evaluate
        from training.train import train

        run = root / "run"
        train(tiny_config(shared_curated(root)), run, log=lambda _line: None)
        evaluate(run, log=lambda _line: None)
        _BUILT["run"] = run
    return _BUILT["run"]
