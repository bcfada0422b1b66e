"""How good and how fast the bundled embedder is, measured through the app's own `Embedder`.

Quality: leave-one-out k-NN (cosine) room-type accuracy on a labelled folder — a direct test of
"similar images are neighbours", with no training involved. Speed: embeddings per second on
batches of 32 for the model alone (uint8 pixels in, as the app feeds it), plus the end-to-end rate
including decode and preprocessing on one thread. The session options, checksum check and
preprocessing are the app's, so the figures describe what a user gets.

    python -m training.measure_embedder [--sidecar resources/models/image-sorter.json] [--datasets DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.embedder import Embedder
from sorter_app.core.images import load_image
from sorter_app.core.preprocess import to_model_pixels
from sorter_app.paths import bundled_model_sidecar

from .paths import default_datasets_dir

DEFAULT_SOURCE = "places365_rooms"


@dataclass(frozen=True)
class Measurement:
    model_id: str
    source: str
    images: int
    k: int
    knn_accuracy: float
    per_class_accuracy: dict[str, float]
    batch_size: int
    embeddings_per_s: float
    end_to_end_per_s: float
    cpu_count: int
    load_average_1min: float | None  # other work on the machine lowers the speed figures


def labelled_photos(datasets_dir: Path, source: str) -> list[tuple[Path, str]]:
    """(path, room) for every manifest row of `source` that has a room label."""
    manifest = datasets_dir / "manifest.csv"
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = [(datasets_dir / r["path"], r["room"]) for r in csv.DictReader(fh) if r["source"] == source]
    return [(path, room) for path, room in rows if room]


def model_pixels(embedder: Embedder, paths: Sequence[Path]) -> NDArray[np.uint8]:
    pre = embedder.spec.preprocess
    return np.stack(
        [to_model_pixels(load_image(p.read_bytes(), min_side=pre.size).image, pre) for p in paths]
    )


def embed_files(embedder: Embedder, paths: Sequence[Path], batch_size: int = 32) -> NDArray[np.float32]:
    chunks = [
        embedder.embed(model_pixels(embedder, paths[start : start + batch_size]))
        for start in range(0, len(paths), batch_size)
    ]
    return np.concatenate(chunks)


def knn_leave_one_out(
    embeddings: NDArray[np.float32], labels: Sequence[str], k: int = 5
) -> tuple[float, dict[str, float]]:
    """Each image is labelled by a majority vote of its k most cosine-similar other images.

    Ties go to the label whose tied neighbours are more similar in total. Embeddings are
    unit-length, so cosine similarity is a dot product.
    """
    sims = embeddings @ embeddings.T
    np.fill_diagonal(sims, -np.inf)
    neighbours = np.argpartition(-sims, k, axis=1)[:, :k]
    correct: Counter[str] = Counter()
    for query, row in enumerate(neighbours):
        votes: Counter[str] = Counter()
        weight: dict[str, float] = {}
        for neighbour in row:
            votes[labels[neighbour]] += 1
            weight[labels[neighbour]] = weight.get(labels[neighbour], 0.0) + float(sims[query, neighbour])
        predicted = max(votes, key=lambda label: (votes[label], weight[label]))
        correct[labels[query]] += predicted == labels[query]
    totals = Counter(labels)
    per_class = {label: correct[label] / totals[label] for label in sorted(totals)}
    return sum(correct.values()) / len(labels), per_class


def model_throughput(embedder: Embedder, pixels: NDArray[np.uint8], repeats: int = 20) -> float:
    """Embeddings per second for one batch run repeatedly, after two warm-up runs."""
    for _ in range(2):
        embedder.embed(pixels)
    start = time.perf_counter()
    for _ in range(repeats):
        embedder.embed(pixels)
    return repeats * int(pixels.shape[0]) / (time.perf_counter() - start)


def measure(
    sidecar: Path, datasets_dir: Path, source: str = DEFAULT_SOURCE, k: int = 5, batch_size: int = 32
) -> Measurement:
    photos = labelled_photos(datasets_dir, source)
    if not photos:
        raise ValueError(f"no labelled {source} photos in {datasets_dir / 'manifest.csv'}")
    embedder = Embedder.from_sidecar(sidecar)
    paths = [path for path, _ in photos]
    speed = model_throughput(embedder, model_pixels(embedder, paths[:batch_size]))
    start = time.perf_counter()
    embeddings = embed_files(embedder, paths, batch_size)
    end_to_end = len(paths) / (time.perf_counter() - start)
    accuracy, per_class = knn_leave_one_out(embeddings, [room for _, room in photos], k)
    return Measurement(
        model_id=embedder.model_id,
        source=source,
        images=len(paths),
        k=k,
        knn_accuracy=accuracy,
        per_class_accuracy=per_class,
        batch_size=batch_size,
        embeddings_per_s=speed,
        end_to_end_per_s=end_to_end,
        cpu_count=os.cpu_count() or 0,
        load_average_1min=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.measure_embedder", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sidecar", type=Path, default=bundled_model_sidecar())
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument("--source", default=DEFAULT_SOURCE)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.sidecar, args.datasets, args.source, args.k)
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
