"""Every image's views, through the frozen network once: embeddings, and trunk activations to fine-tune on.

Model selection compares recipes leave-one-source-out, which means fitting each recipe once per
source; fine-tuning the tail (training/trunk.py) needs the trunk's output for several augmented
views of each image. Both would re-run the 2-core CPU through the whole network thousands of
times; instead each image is decoded once (as the app decodes it), its views are built
(training/image_views.py) and run through the frozen network once, and this cache keeps:

    rows.npz            path, source, scene, room, kind (the manifests' columns), width, height
    hash.npy            <U32 content hash (BLAKE2b-128 of the file, as the catalog keys it)
    error.npy           <U200: why the file could not be used, '' when it could
    emb_<view>.npy      float32 [N, 1280]: the L2-normalised embedding of each view
    act_<view>.npy      float16 [N, 192, 7, 7]: the trunk's activation, for `activation_views`
    act_up<S>_<view>.npy  float16 [N, 192, …]: the same of the centre crop enlarged to S in the
                        network, with `features --enlarge S` (training/enlarged_views.py)
    cache.json          what decided it (manifests, views, cut, backbone sha256) and rows done

Arrays are preallocated memory maps filled chunk by chunk; `cache.json` records the rows done
after each chunk is flushed, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path, atomic_write_text
from sorter_app.core.errors import ImageError
from sorter_app.core.hashing import content_hash
from sorter_app.core.images import load_image
from sorter_app.core.preprocess import normalise_batch

from .curate.inputs import Item, read_manifest
from .errors import TrainingError
from .export_embedder import INPUT_NAME, LITE0_PREPROCESS
from .image_views import view_maker
from .onnx_export import export_onnx
from .pretrained import load_lite0
from .reserved_npy import reserved_npy
from .trunk import ACTIVATION_SHAPE, CUT_BLOCK, TrunkAndEmbedding

CACHE_FILE = "cache.json"
CACHE_FORMAT = 1
EMBEDDING_DIM = 1280
CHUNK = 128
BATCH = 48


@dataclass(frozen=True)
class CacheRows:
    """The cache's per-image columns (all rows, including those that failed to decode)."""

    path: NDArray[np.str_]
    source: NDArray[np.str_]
    scene: NDArray[np.str_]
    room: NDArray[np.str_]
    kind: NDArray[np.str_]
    content_hash: NDArray[np.str_]
    error: NDArray[np.str_]
    setting: NDArray[np.str_]  # "" where the manifest had no setting column (and in older caches)

    def __len__(self) -> int:
        return int(self.path.shape[0])


class FeatureCache:
    """Read access to a finished (or partly built) cache folder; arrays are memory-mapped."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self.meta: dict[str, Any] = json.loads((folder / CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainingError(f"not a feature cache: {folder} ({exc})") from exc
        if self.meta.get("format") != CACHE_FORMAT:
            raise TrainingError(f"{folder}: unsupported feature cache format {self.meta.get('format')!r}")
        with np.load(folder / "rows.npz", allow_pickle=False) as npz:
            columns = {key: npz[key] for key in ("path", "source", "scene", "room", "kind")}
            setting = npz["setting"] if "setting" in npz.files else np.full(len(columns["path"]), "")
        self.rows = CacheRows(
            **columns,
            setting=setting,
            content_hash=np.load(folder / "hash.npy", mmap_mode="r"),
            error=np.load(folder / "error.npy", mmap_mode="r"),
        )

    @property
    def complete(self) -> bool:
        return int(self.meta["done"]) == len(self.rows)

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self.meta["views"])

    @property
    def activation_views(self) -> tuple[str, ...]:
        return tuple(self.meta["activation_views"])

    def embeddings(self, view: str) -> NDArray[np.float32]:
        array: NDArray[np.float32] = np.load(self.folder / f"emb_{view}.npy", mmap_mode="r")
        return array

    def activations(self, view: str) -> NDArray[np.float16]:
        """The trunk's output before block `CUT_BLOCK`; a cache cut elsewhere would feed the tail the
        wrong layer's activations (same shape), so it is refused rather than read."""
        cut = self.meta.get("cut_block")
        if cut != CUT_BLOCK:
            raise TrainingError(
                f"{self.folder}: activations cut before block {cut}, the tail starts at block {CUT_BLOCK}: "
                "run `sorter-train features` again"
            )
        unfinished = [
            size
            for size, done in self.meta.get("enlarged", {}).items()
            if view in done["views"] and not done.get("complete")
        ]
        if unfinished:
            raise TrainingError(
                f"{self.folder}: the views enlarged to {unfinished[0]} are not finished "
                f"(re-run `sorter-train features … --enlarge {unfinished[0]}`)"
            )
        path = self.folder / f"act_{view}.npy"
        if not path.is_file():
            raise TrainingError(
                f"{self.folder} has no activations of the view {view!r} (enlarged views come from "
                "`sorter-train features … --enlarge SIZE`)"
            )
        array: NDArray[np.float16] = np.load(path, mmap_mode="r")
        return array


def _encoder_session() -> tuple[ort.InferenceSession, str]:
    model = TrunkAndEmbedding(load_lite0(), CUT_BLOCK)
    data = export_onnx(
        model, input_shape=(3, 224, 224), input_name=INPUT_NAME, output_name=("activation", "embedding")
    )
    return cache_session(data), hashlib.sha256(data).hexdigest()


def cache_session(data: bytes) -> ort.InferenceSession:
    """A session for building caches: two threads that do not spin, so the decode threads get the
    cores between batches."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


def decode_views(item: Item, views: Sequence[str]) -> tuple[str, str, NDArray[np.uint8] | None]:
    """(content hash, error, [V, 224, 224, 3] pixels or None) for one manifest row."""
    try:
        data = item.file.read_bytes()
    except OSError as exc:
        return "", f"unreadable: {exc.strerror or exc}", None
    digest = content_hash(data)
    try:
        img = load_image(data, min_side=LITE0_PREPROCESS.size).image
        makers = [view_maker(name, LITE0_PREPROCESS) for name in views]
        return digest, "", np.stack([make(img, digest) for make in makers])
    except (ImageError, ValueError) as exc:
        return digest, str(exc)[:200], None


def build_cache(
    manifests: Sequence[Path],
    out: Path,
    views: Sequence[str],
    activation_views: Sequence[str],
    *,
    log: Callable[[str], None] = print,
    cancelled: Callable[[], bool] = lambda: False,
) -> FeatureCache:
    """Build (or resume) the cache of `manifests` in `out`; returns it when every row is done."""
    if not set(activation_views) <= set(views):
        raise TrainingError("activation views must be among the views")
    items = [item for manifest in manifests for item in read_manifest(manifest)]
    settings = {
        "format": CACHE_FORMAT,
        "manifests": [
            {"path": str(m.resolve()), "sha256": hashlib.sha256(m.read_bytes()).hexdigest()}
            for m in manifests
        ],
        "views": list(views),
        "activation_views": list(activation_views),
        "cut_block": CUT_BLOCK,
        "preprocess": LITE0_PREPROCESS.__dict__,
    }
    session, backbone_sha = _encoder_session()
    settings["encoder_sha256"] = backbone_sha
    meta_path = out / CACHE_FILE
    n = len(items)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        # Compared as JSON reads them back: the preprocessing's tuples come back as lists.
        if {k: meta.get(k) for k in settings} != json.loads(json.dumps(settings)):
            raise TrainingError(f"{out} holds a cache made with other settings; choose another --out")
        mode = "r+"
    else:
        out.mkdir(parents=True, exist_ok=True)
        _write_rows(out, items)
        meta = {**settings, "done": 0, "seconds": 0.0}
        mode = "w+"
    arrays = _open_arrays(out, n, views, activation_views, mode)
    done, seconds = int(meta["done"]), float(meta["seconds"])
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        while done < n and not cancelled():
            chunk = items[done : done + CHUNK]
            decoded = list(pool.map(lambda item: decode_views(item, views), chunk))
            _encode_chunk(session, decoded, done, views, activation_views, arrays)
            for array in arrays.values():
                array.flush()
            done += len(chunk)
            elapsed = seconds + time.perf_counter() - started
            meta.update(done=done, seconds=round(elapsed, 1))
            atomic_write_text(meta_path, json.dumps(meta, indent=1) + "\n")
            log(
                f"features: {done}/{n} images × {len(views)} views ({done / max(elapsed, 1e-9):.1f} images/s)"
            )
    return FeatureCache(out)


def _write_rows(out: Path, items: Sequence[Item]) -> None:
    columns: dict[str, Any] = {
        "path": np.array([it.path for it in items]),
        "source": np.array([it.source for it in items]),
        "scene": np.array([it.scene for it in items]),
        "room": np.array([it.room for it in items]),
        "kind": np.array([it.kind for it in items]),
        "setting": np.array([it.setting for it in items]),
    }
    with atomic_path(out / "rows.npz") as tmp, tmp.open("wb") as fh:
        np.savez(fh, **columns)


def _open_arrays(
    out: Path, n: int, views: Sequence[str], activation_views: Sequence[str], mode: str
) -> dict[str, np.memmap[Any, Any]]:
    def array(name: str, dtype: Any, shape: tuple[int, ...]) -> np.memmap[Any, Any]:
        path = out / f"{name}.npy"
        if mode == "w+":
            return reserved_npy(path, dtype, shape)
        return np.lib.format.open_memmap(path, mode="r+")

    arrays = {"hash": array("hash", "<U32", (n,)), "error": array("error", "<U200", (n,))}
    for view in views:
        arrays[f"emb_{view}"] = array(f"emb_{view}", np.float32, (n, EMBEDDING_DIM))
    for view in activation_views:
        arrays[f"act_{view}"] = array(f"act_{view}", np.float16, (n, *ACTIVATION_SHAPE))
    return arrays


def _encode_chunk(
    session: ort.InferenceSession,
    decoded: list[tuple[str, str, NDArray[np.uint8] | None]],
    start: int,
    views: Sequence[str],
    activation_views: Sequence[str],
    arrays: dict[str, np.memmap[Any, Any]],
) -> None:
    """Run each distinct view once (a square image's letterbox and end crops *are* its centre view)."""
    jobs: list[tuple[int, list[int]]] = []  # (row, views sharing these pixels)
    pixels: list[NDArray[np.uint8]] = []
    for i, (digest, error, stack) in enumerate(decoded):
        arrays["hash"][start + i] = digest
        arrays["error"][start + i] = error
        if stack is None:
            continue
        firsts: list[int] = []
        for v in range(len(views)):
            same = next((u for u in firsts if np.array_equal(stack[u], stack[v])), None)
            if same is None:
                firsts.append(v)
                jobs.append((start + i, [v]))
                pixels.append(stack[v])
            else:
                next(job for job in reversed(jobs) if job[1][0] == same)[1].append(v)
    for b in range(0, len(jobs), BATCH):
        batch = normalise_batch(np.stack(pixels[b : b + BATCH]), LITE0_PREPROCESS)
        activation, embedding = session.run(None, {INPUT_NAME: batch})
        for (row, shared), act, emb in zip(jobs[b : b + BATCH], activation, embedding, strict=True):
            for v in shared:
                arrays[f"emb_{views[v]}"][row] = emb
                if views[v] in activation_views:
                    arrays[f"act_{views[v]}"][row] = act.astype(np.float16)
