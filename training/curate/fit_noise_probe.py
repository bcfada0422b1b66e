"""Fit the noise probe (`noise_probe.json`) and measure it on images it never saw.

    python -m training.curate.fit_noise_probe [--manifest ../shared/datasets/manifest.csv]
        [--out training/curate/noise_probe.json] [--seed 0] [--cache /tmp/embeddings.npz]

Every usable image of the manifest is embedded by the bundled model (~2 min on 2 cores; `--cache`
keeps the embeddings for the next run). Within each source, half the distinct images (by content
hash, seeded) fit the probe — `kind=non_photo` against photos — and the other half measure it:
precision and recall at the threshold, recall per non_photo source, false alarms per photo source.
A second measurement leaves each non_photo source out of the fit entirely and asks how much of it
the probe still catches: how it does on a kind of non-photo it was not shown. The weights written
are those of the half-data fit, so the recorded figures describe exactly the committed probe.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.embedder import Embedder
from sorter_app.core.hashing import file_sha256
from sorter_app.paths import bundled_model_sidecar

from ..paths import default_datasets_dir
from .decode import decode_items
from .inputs import Item, read_manifest
from .noise import DEFAULT_PROBE, NOISE_THRESHOLD, ProbeScorer, fit_logistic
from .progress import StageProgress

L2 = 0.01


def embed_manifest(manifest: Path, embedder: Embedder, cache: Path | None) -> tuple[list[Item], Any]:
    """Items, plus (usable mask, hashes, embeddings), from `cache` when it matches the inputs."""
    items = read_manifest(manifest)
    key = f"{embedder.model_id}:{file_sha256(manifest)}"
    if cache is not None and cache.is_file():
        with np.load(cache) as data:
            if str(data["key"]) == key:
                return items, (data["usable"], [str(h) for h in data["hashes"]], data["embeddings"])
    decoded = decode_items(items, embedder, progress=StageProgress("embed"))
    result = (decoded.usable, decoded.hashes, decoded.embeddings)
    if cache is not None:
        np.savez(cache, key=np.array(key), usable=result[0], hashes=np.array(result[1]), embeddings=result[2])
    return items, result


def halves(
    items: Sequence[Item], hashes: Sequence[str], usable: NDArray[np.bool_], seed: int
) -> NDArray[np.bool_]:
    """True for the fitting half: half of each source's distinct contents, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    by_source: dict[str, set[str]] = {}
    for item, digest, ok in zip(items, hashes, usable, strict=True):
        if ok:
            by_source.setdefault(item.source, set()).add(digest)
    fitting: set[str] = set()
    for source in sorted(by_source):
        digests = sorted(by_source[source])
        chosen = rng.permutation(len(digests))[: (len(digests) + 1) // 2]
        fitting.update(digests[c] for c in chosen)
    return np.array([h in fitting for h in hashes], dtype=bool) & usable


def measure(
    scores: NDArray[np.float64], targets: NDArray[np.bool_], sources: NDArray[np.str_], threshold: float
) -> dict[str, Any]:
    flagged = scores >= threshold
    tp = int((flagged & targets).sum())
    fp = int((flagged & ~targets).sum())
    fn = int((~flagged & targets).sum())
    return {
        "threshold": threshold,
        "non_photos": int(targets.sum()),
        "photos": int((~targets).sum()),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": round(tp / max(tp + fp, 1), 4),
        "recall": round(tp / max(tp + fn, 1), 4),
        "recall_by_non_photo_source": {
            s: round(float(flagged[(sources == s) & targets].mean()), 4)
            for s in sorted(set(sources[targets]))
        },
        "false_positives_by_photo_source": {
            s: int((flagged & ~targets & (sources == s)).sum()) for s in sorted(set(sources[~targets]))
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, default=default_datasets_dir() / "manifest.csv")
    parser.add_argument("--out", type=Path, default=DEFAULT_PROBE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="embeddings cache (.npz), reused when it matches")
    args = parser.parse_args(argv)
    embedder = Embedder.from_sidecar(bundled_model_sidecar())
    items, (usable, hashes, embeddings) = embed_manifest(args.manifest, embedder, args.cache)
    targets = np.array([it.kind == "non_photo" for it in items], dtype=bool)
    sources = np.array([it.source for it in items])
    fitting = halves(items, hashes, usable, args.seed)
    held_out = usable & ~fitting
    weights, bias = fit_logistic(embeddings[fitting], targets[fitting], l2=L2)
    probe = ProbeScorer(weights, bias, embedder.model_id, threshold=NOISE_THRESHOLD)
    scores = probe.score(np.zeros((0, 0, 0, 3), np.uint8), embeddings)
    held = measure(scores[held_out], targets[held_out], sources[held_out], NOISE_THRESHOLD)
    print(f"held-out: precision {held['precision']}, recall {held['recall']}", file=sys.stderr)
    unseen: dict[str, Any] = {}
    for source in sorted(set(sources[targets])):
        mask = fitting & (sources != source)
        w, b = fit_logistic(embeddings[mask], targets[mask], l2=L2)
        s = ProbeScorer(w, b, embedder.model_id).score(np.zeros((0, 0, 0, 3), np.uint8), embeddings)
        these = usable & (sources == source)
        unseen[source] = {
            "images": int(these.sum()),
            "recall": round(float((s[these] >= NOISE_THRESHOLD).mean()), 4),
            "false_positives_on_held_out_photos": int((s[held_out & ~targets] >= NOISE_THRESHOLD).sum()),
        }
        print(f"unseen {source}: recall {unseen[source]['recall']}", file=sys.stderr)
    extra = {
        "fitted_by": "python -m training.curate.fit_noise_probe " + " ".join(argv or sys.argv[1:]),
        "manifest_sha256": file_sha256(args.manifest),
        "seed": args.seed,
        "l2": L2,
        "fitted_on": {"non_photos": int(targets[fitting].sum()), "photos": int((~targets[fitting]).sum())},
        "held_out": held,
        "unseen_source": unseen,
    }
    atomic_write_text(args.out, _dump(probe.to_json(extra)))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _dump(data: dict[str, Any]) -> str:
    """JSON with the long weight list on one line and everything else readable."""
    weights = data.pop("weights")
    text = json.dumps(data, indent=1)
    return text[:-2] + ',\n "weights": ' + json.dumps(weights) + "\n}\n"


if __name__ == "__main__":
    sys.exit(main())
