"""The model stage of one input shard: decode, embed, score noise, ask the teacher; results to disk.

`ShardProcessor` loads the ONNX sessions once (embedder, optional teacher) and then processes any
number of shards. The local engine holds one in-process; the Ray engine holds one per actor. It is
the same code either way, and a shard's batches are the same whoever runs it (the embedder gives
bit-identical output for the same batch whatever the thread count), so the results — and the
output built from them — do not depend on the engine or the number of workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sorter_app.core.embedder import Embedder
from sorter_app.core.layout import LENGTH
from sorter_app.paths import bundled_model_sidecar

from .decode import decode_items
from .inputs import Item
from .noise import NoiseScorer
from .teacher import teacher_heads
from .work import WorkStore

SCORE_BATCH = 256
LAYOUT_BYTES = LENGTH


@dataclass(frozen=True)
class ModelSetup:
    """What every worker loads once; the same for the whole run (part of each shard's key)."""

    embedder: Path | None  # None: the bundled model, found by each worker in its own copy of the project
    teacher: Path | None
    scorer: NoiseScorer | None
    min_colours: int
    threads: int | None  # onnxruntime threads per session (None: all cores)
    decode_threads: int | None = None

    def fingerprint(self, embedder_sha: str, teacher_sha: str | None) -> str:
        scorer = self.scorer.describe() if self.scorer is not None else None
        return repr((embedder_sha, teacher_sha, scorer, self.min_colours))


@dataclass(frozen=True)
class ShardTask:
    index: int
    key: str
    items: list[Item]


class ShardProcessor:
    """Holds the model sessions; `process` turns one shard into its files in the work store."""

    def __init__(self, setup: ModelSetup, work: Path) -> None:
        self.setup = setup
        self.work = WorkStore(work)
        sidecar = setup.embedder or bundled_model_sidecar()
        self.embedder = Embedder.from_sidecar(sidecar, threads=setup.threads)
        self.teacher = Embedder.from_sidecar(setup.teacher, threads=setup.threads) if setup.teacher else None
        self.heads = teacher_heads(self.teacher.spec) if self.teacher else {}

    def process(self, task: ShardTask) -> dict[str, Any]:
        started = time.perf_counter()
        key, n = task.key, len(task.items)
        scratch = self.work.scratch(key, "pixels.npy")
        decoded = decode_items(
            task.items,
            self.embedder,
            teacher=self.teacher,
            teacher_heads=list(self.heads),
            pixels_file=scratch,
            min_colours=self.setup.min_colours,
            workers=self.setup.decode_threads,
        )
        assert decoded.pixels is not None
        usable = np.flatnonzero(decoded.usable)
        noise = np.full(n, np.nan)
        if self.setup.scorer is not None:
            for start in range(0, len(usable), SCORE_BATCH):
                rows = usable[start : start + SCORE_BATCH]
                noise[rows] = self.setup.scorer.score(
                    np.asarray(decoded.pixels[rows]), decoded.embeddings[rows]
                )
        layouts = np.zeros((n, LAYOUT_BYTES), dtype=np.uint8)
        for i, layout in enumerate(decoded.layouts):
            if layout is not None:
                layouts[i] = np.frombuffer(layout, dtype=np.uint8)
        meta = {
            "reason": np.array([r or "" for r in decoded.reasons], dtype=str),
            "content_hash": np.array(decoded.hashes, dtype="<U32"),
            "width": decoded.widths,
            "height": decoded.heights,
            "file_size": decoded.file_sizes,
            "noise": noise,
        }
        for head, labels in self.heads.items():
            missing = np.full((n, len(labels)), np.nan, np.float32)  # no usable image in the shard
            meta[f"teacher_{head}"] = decoded.teacher.get(head, missing)
        decoded.pixels = None  # the memory map is closed before its file is renamed
        self.work.commit(scratch, key, "pixels.npy")
        self.work.write_array(key, "embedding.npy", decoded.embeddings)
        self.work.write_array(key, "layout.npy", layouts)
        self.work.write_meta(key, meta)
        record = {
            "index": task.index,
            "images": n,
            "usable": len(usable),
            "seconds": round(time.perf_counter() - started, 2),
        }
        self.work.mark_done(key, record)
        return self.work.done_record(key)
