"""`sorter-train evaluate`: how good a run's heads are, where they fail, and where to say "unknown".

Reported for each head (scene on every scene-labelled image, room on every room-labelled one):
on the test split overall and per source; on probes that shrink every test image to 160…48 px,
JPEG and back (a model that learnt "blurry means outdoor" loses indoor recall there); on every
source the run held out of training (all its splits: it was never seen); on extra folders.
The "unknown" thresholds are chosen on the validation split (lowest confidence at which the kept
predictions reach the target accuracy) and then reported with their coverage on test data, so
the threshold is not fitted to the figures it is judged by.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.errors import ImageError
from sorter_app.core.images import load_image
from sorter_app.core.preprocess import to_model_pixels

from .backbone import OnnxBackbone
from .degrade import PROBE, Degradation, probe_batch
from .errors import TrainingError
from .evaluate_text import render_text
from .heads import Heads
from .labels import ROOMS, SCENES
from .metrics import DEFAULT_TARGETS, choose_threshold, classification_report
from .run_files import EVALUATION_FILE, EVALUATION_TEXT, TrainedRun, load_run
from .shards import SPLITS, CuratedData, CuratedSplit

NAMES = {"scene": list(SCENES), "room": list(ROOMS)}
Probs = dict[str, NDArray[np.float32]]
# Sides the whole test split is also shrunk to: how accuracy falls with resolution shows whether
# the heads learnt "small and blurry means outdoor" (indoor recall collapses) or not.
SWEEP_SIDES = (160, 128, 100, 80, 64, 48)


def predict(heads: Heads, embeddings: NDArray[np.float32]) -> Probs:
    heads.eval()
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
        return {"scene": heads.scene(x).numpy(), "room": heads.room(x).numpy()}


def _labels(rows: CuratedSplit, head: str) -> NDArray[np.int64]:
    return rows.scene if head == "scene" else rows.room


class RunEmbedder:
    """Embeddings under the run's backbone: the stored ones when it is frozen, else recomputed."""

    def __init__(self, run: TrainedRun, data: CuratedData) -> None:
        self.run, self.data = run, data
        self._backbone: OnnxBackbone | None = None

    @property
    def backbone(self) -> OnnxBackbone:
        if self._backbone is None:
            self._backbone = OnnxBackbone(self.run.backbone)
        return self._backbone

    def split(self, split: str, rows: CuratedSplit) -> NDArray[np.float32]:
        if not self.run.finetuned:
            return rows.embedding
        return self.backbone.embed(self.data.pixels(split, rows.index))

    def probe(self, split: str, rows: CuratedSplit, sides: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        """Embeddings of `rows` shrunk to each side (JPEG, upscaled back), reading the pixels once."""
        out = {side: np.empty((len(rows), rows.embedding.shape[1]), dtype=np.float32) for side in sides}
        for positions, pixels in self.data.iter_pixels(split, rows.index):
            for side in sides:
                how = Degradation(side=side, quality=PROBE.quality)
                out[side][positions] = self.backbone.embed(probe_batch(pixels, how))
        return out


def head_report(
    head: str,
    probs: NDArray[np.float32],
    labels: NDArray[np.int64],
    sources: NDArray[np.str_],
    threshold: float | None,
) -> dict[str, Any]:
    rows = labels >= 0
    names = NAMES[head]
    per_source = {
        str(src): classification_report(
            probs[rows & (sources == src)], labels[rows & (sources == src)], names, threshold
        )
        for src in sorted(set(sources[rows].tolist()))
    }
    return {
        "overall": classification_report(probs[rows], labels[rows], names, threshold),
        "per_source": per_source,
    }


def app_view(probs: Probs, rows: CuratedSplit, thresholds: dict[str, float]) -> dict[str, Any]:
    """What a user sees: a room only when the scene says indoor (above its threshold) and the room
    itself is above its threshold."""
    indoor = (probs["scene"].argmax(1) == 0) & (probs["scene"].max(1) >= thresholds["scene"])
    shown = indoor & (probs["room"].max(1) >= thresholds["room"])
    roomed, outdoor = rows.room >= 0, rows.scene == 1
    right = probs["room"].argmax(1) == rows.room
    return {
        "room_shown_on_room_images": float(shown[roomed].mean()) if roomed.any() else None,
        "room_accuracy_when_shown": float(right[roomed & shown].mean()) if (roomed & shown).any() else None,
        "room_shown_on_outdoor_images": float(shown[outdoor].mean()) if outdoor.any() else None,
    }


def choose_thresholds(probs: Probs, rows: CuratedSplit, targets: dict[str, float]) -> dict[str, Any]:
    out = {}
    for head in ("scene", "room"):
        labelled = _labels(rows, head) >= 0
        p, y = probs[head][labelled], _labels(rows, head)[labelled]
        out[head] = choose_threshold(p.max(1), p.argmax(1) == y, targets[head]).to_json()
    return out


def folder_rows(
    folder: Path, size: int, log: Callable[[str], None]
) -> tuple[NDArray[np.uint8], CuratedSplit]:
    """A labelled folder, read with curate's convention (folder names are the labels)."""
    from .curate.inputs import read_folder
    from .export_embedder import LITE0_PREPROCESS
    from .labels import room_index, scene_index

    pixels, kept = [], []
    for item in read_folder(folder):
        if not item.scene and not item.room:
            continue
        try:
            image = load_image(item.file.read_bytes(), min_side=size).image
            pixels.append(to_model_pixels(image, LITE0_PREPROCESS))
            kept.append(item)
        except (OSError, ImageError, ValueError) as exc:
            log(f"skipped {item.file}: {exc}")
    if not kept:
        raise TrainingError(f"no labelled images in {folder} (use folders named indoor/outdoor or a room)")
    n = len(kept)
    rows = CuratedSplit(
        embedding=np.zeros((n, 0), dtype=np.float32),
        scene=np.array([scene_index(i.scene) for i in kept], dtype=np.int64),
        room=np.array([room_index(i.room) for i in kept], dtype=np.int64),
        source=np.array([folder.name] * n),
        content_hash=np.array([""] * n),
        path=np.array([i.path for i in kept]),
        index=np.arange(n, dtype=np.int64),
    )
    return np.stack(pixels), rows


def evaluate(
    run_dir: Path,
    data_dir: Path | None = None,
    folders: Sequence[Path] = (),
    *,
    targets: dict[str, float] | None = None,
    probe: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    targets = {**DEFAULT_TARGETS, **(targets or {})}
    run = load_run(run_dir)
    data = CuratedData(data_dir or Path(run.config.data))
    held = run.config.holdout_sources
    embed = RunEmbedder(run, data)
    val = data.load("val").without_sources(held)
    thresholds = choose_thresholds(predict(run.heads, embed.split("val", val)), val, targets)
    t = {head: float(thresholds[head]["threshold"]) for head in ("scene", "room")}
    test = data.load("test").without_sources(held)
    probs = predict(run.heads, embed.split("test", test))
    report: dict[str, Any] = {
        "run": str(run_dir),
        "data": str(data.root),
        "manifest_sha256": data.manifest_sha256,
        "finetuned": run.finetuned,
        "holdout_sources": held,
        "balance": run.config.balance,
        "degrade_views": run.config.degrade_views,
        "targets": targets,
        "thresholds": thresholds,
    }
    for head in ("scene", "room"):
        report[head] = {"test": head_report(head, probs[head], _labels(test, head), test.source, t[head])}
    report["app_view"] = app_view(probs, test, t)
    if probe:
        sides = sorted({PROBE.side, *SWEEP_SIDES}, reverse=True)
        log(f"probe: re-embedding {len(test)} test images shrunk to {sides} px, JPEG q{PROBE.quality}")
        shrunk = {side: predict(run.heads, e) for side, e in embed.probe("test", test, sides).items()}
        for head in ("scene", "room"):
            degraded = shrunk[PROBE.side][head]
            report[head]["test_degraded"] = head_report(
                head, degraded, _labels(test, head), test.source, None
            )
        report["probe"] = {"side": PROBE.side, "quality": PROBE.quality}
        report["resolution_sweep"] = {
            str(side): {
                head: head_report(head, shrunk[side][head], _labels(test, head), test.source, None)["overall"]
                for head in ("scene", "room")
            }
            for side in sides
        }
    report["holdout"] = {}
    train_rooms = data.load("train").without_sources(held).room if held else np.zeros(0, dtype=np.int64)
    for source in held:
        parts = [(s, data.load(s).only_sources([source])) for s in SPLITS]
        parts = [(s, rows) for s, rows in parts if len(rows)]
        if not parts:
            raise TrainingError(f"held-out source {source!r} has no images in {data.root}")
        rows = CuratedSplit.concat([r for _, r in parts])
        held_probs = predict(run.heads, np.concatenate([embed.split(s, r) for s, r in parts]))
        report["holdout"][source] = {
            head: head_report(head, held_probs[head], _labels(rows, head), rows.source, t[head])["overall"]
            for head in ("scene", "room")
        }
        # A class the training split never had (house_rooms has no entrance_hall) cannot be right;
        # the figure on the classes it did have separates "new source" from "new class".
        seen = np.unique(train_rooms[train_rooms >= 0])
        known = np.where(np.isin(rows.room, seen), rows.room, -1)
        report["holdout"][source]["room_trained_classes"] = {
            **head_report("room", held_probs["room"], known, rows.source, t["room"])["overall"],
            "classes": [ROOMS[i] for i in seen],
        }
    report["folders"] = {}
    for folder in folders:
        pixels, rows = folder_rows(folder, 224, log)
        folder_probs = predict(run.heads, embed.backbone.embed(pixels))
        report["folders"][str(folder)] = {
            head: head_report(head, folder_probs[head], _labels(rows, head), rows.source, t[head])["overall"]
            for head in ("scene", "room")
        }
    report = _finite(report)
    atomic_write_text(run_dir / EVALUATION_FILE, json.dumps(report, indent=2) + "\n")
    atomic_write_text(run_dir / EVALUATION_TEXT, render_text(report))
    log(f"wrote {run_dir / EVALUATION_FILE} and {EVALUATION_TEXT}")
    return report


def _finite(value: Any) -> Any:
    """NaN (no examples) → None, so the report is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
