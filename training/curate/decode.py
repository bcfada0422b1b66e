"""The one pass over the pixels of a shard: read, hash, decode, check, preprocess and embed.

Images come from files or from members of WebDataset tars (tars.py). Decoding runs in threads
(Pillow releases the GIL) while the model embeds batches on the main thread, as the app's indexer
does. Every later step reuses what this pass produced: the corrupt check's verdict, the content
hash, the original size, the 16×16 layout signature, the embedding, any teacher's probabilities,
and the model pixels. Pixels (150 KB an image, 2.5 GB for the shared datasets) are not held in
memory: they go into a memory-mapped `.npy` file in the work folder, from which the output shards
are later copied, so nothing is decoded twice and the shards hold exactly the pixels that were
embedded.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.embedder import Embedder
from sorter_app.core.errors import ImageError
from sorter_app.core.hashing import content_hash
from sorter_app.core.images import load_image
from sorter_app.core.layout import layout_signature
from sorter_app.core.model_spec import Preprocess
from sorter_app.core.preprocess import to_model_pixels

from ..reserved_npy import reserved_npy
from .inputs import Item
from .tars import TarReader

ProgressFn = Callable[[int, int], None]
MIN_UNIQUE_COLOURS = 10
BATCH_SIZE = 32


@dataclass
class Decoded:
    """Per-item results, indexed like the input items. `reasons[i]` is None for a usable image."""

    reasons: list[str | None]
    hashes: list[str]  # '' where the file could not be read
    widths: NDArray[np.int64]
    heights: NDArray[np.int64]
    file_sizes: NDArray[np.int64]
    layouts: list[bytes | None]
    embeddings: NDArray[np.float32]  # [N, D]; zero rows for unusable images
    pixels: NDArray[np.uint8] | None  # [N, S, S, 3] memmap, or None when not kept
    teacher: dict[str, NDArray[np.float32]] = field(default_factory=dict)  # head → [N, C]

    @property
    def usable(self) -> NDArray[np.bool_]:
        return np.array([r is None for r in self.reasons], dtype=bool)


@dataclass(frozen=True)
class _Prepared:
    reason: str | None
    digest: str = ""
    width: int = 0
    height: int = 0
    size: int = 0
    layout: bytes | None = None
    pixels: tuple[NDArray[np.uint8], ...] = ()  # one array per distinct preprocessing


def read_item(item: Item, tars: TarReader) -> bytes:
    """The bytes of an input image: a file, or a member of a WebDataset tar."""
    return tars.read(item.file, item.member) if item.member is not None else item.file.read_bytes()


def prepare_item(item: Item, pres: Sequence[Preprocess], min_colours: int, tars: TarReader) -> _Prepared:
    """Read and decode one image; a reason string instead of pixels when it cannot be used."""
    try:
        data = read_item(item, tars)
    except OSError as exc:
        return _Prepared(f"cannot read: {exc.strerror or exc}")
    digest = content_hash(data)
    try:
        loaded = load_image(data, min_side=max(p.size for p in pres))
        # getcolors(n) gives up (None) as soon as it sees more than n colours: cheap on any image.
        colours = loaded.image.getcolors(min_colours - 1)
        if colours is not None:
            return _Prepared(
                f"fewer than {min_colours} distinct colours: {len(colours)} (flat or blank image)",
                digest,
                size=len(data),
            )
        pixels = tuple(to_model_pixels(loaded.image, pre) for pre in pres)
    except ImageError as exc:
        return _Prepared(str(exc), digest, size=len(data))
    except (ValueError, MemoryError) as exc:
        return _Prepared(f"cannot prepare image: {exc}", digest, size=len(data))
    return _Prepared(
        None, digest, loaded.width, loaded.height, len(data), layout_signature(loaded.image), pixels
    )


def decode_items(
    items: Sequence[Item],
    embedder: Embedder,
    *,
    teacher: Embedder | None = None,
    teacher_heads: Sequence[str] = (),
    pixels_file: Path | None = None,
    min_colours: int = MIN_UNIQUE_COLOURS,
    progress: ProgressFn | None = None,
    workers: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> Decoded:
    """Decode, check and embed `items` in order; with `pixels_file`, keep their model pixels there."""
    n = len(items)
    pre = embedder.spec.preprocess
    pres = [pre]
    if teacher is not None and teacher.spec.preprocess != pre:
        pres.append(teacher.spec.preprocess)  # the teacher sees its own preprocessing
    out = Decoded(
        reasons=[None] * n,
        hashes=[""] * n,
        widths=np.zeros(n, dtype=np.int64),
        heights=np.zeros(n, dtype=np.int64),
        file_sizes=np.zeros(n, dtype=np.int64),
        layouts=[None] * n,
        embeddings=np.zeros((n, embedder.spec.embedding_dim), dtype=np.float32),
        pixels=None,
    )
    if pixels_file is not None:
        out.pixels = reserved_npy(pixels_file, np.uint8, (n, pre.size, pre.size, 3))
    batch = _Batches(embedder, teacher, teacher_heads, out, batch_size)
    n_workers = workers or min(4, os.cpu_count() or 1)
    done = 0
    tars = TarReader()
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="curate-decode") as pool:
        queue: deque[tuple[int, Future[_Prepared]]] = deque()
        upcoming = iter(range(n))
        while True:
            while len(queue) < 2 * batch_size + n_workers and (i := next(upcoming, None)) is not None:
                queue.append((i, pool.submit(prepare_item, items[i], pres, min_colours, tars)))
            if not queue:
                break
            i, future = queue.popleft()
            batch.add(i, future.result())
            done += 1
            if progress and (done % 256 == 0 or done == n):
                progress(done, n)
    tars.close()
    batch.flush()
    if out.pixels is not None and isinstance(out.pixels, np.memmap):
        out.pixels.flush()
    return out


class _Batches:
    """Collects decoded images and runs the embedder (and the teacher) a batch at a time."""

    def __init__(
        self,
        embedder: Embedder,
        teacher: Embedder | None,
        heads: Sequence[str],
        out: Decoded,
        size: int,
    ) -> None:
        self._embedder, self._teacher, self._heads = embedder, teacher, list(heads)
        self._out, self._size = out, size
        self._pending: list[tuple[int, _Prepared]] = []

    def add(self, i: int, prepared: _Prepared) -> None:
        out = self._out
        out.reasons[i], out.hashes[i], out.file_sizes[i] = prepared.reason, prepared.digest, prepared.size
        if prepared.reason is not None:
            return
        out.widths[i], out.heights[i], out.layouts[i] = prepared.width, prepared.height, prepared.layout
        self._pending.append((i, prepared))
        if len(self._pending) >= self._size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        rows = np.array([i for i, _ in self._pending], dtype=np.int64)
        pixels = np.stack([p.pixels[0] for _, p in self._pending])
        out = self._out
        out.embeddings[rows] = self._embedder.embed(pixels)
        if out.pixels is not None:
            out.pixels[rows] = pixels
        if self._teacher is not None:
            teacher_pixels = np.stack([p.pixels[-1] for _, p in self._pending])
            results = self._teacher.run(teacher_pixels)
            for head in self._heads:
                values = results[head]
                if head not in out.teacher:
                    out.teacher[head] = np.full((len(out.reasons), values.shape[1]), np.nan, np.float32)
                out.teacher[head][rows] = values
        self._pending.clear()
