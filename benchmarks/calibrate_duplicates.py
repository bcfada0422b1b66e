"""Calibrate the near-duplicate rule for the bundled embedder on real photos. Run by hand:

    .venv/bin/python -m benchmarks.calibrate_duplicates

Positives: edited copies of real photos (JPEG re-encodes, resizes, crops, flips, brightness, PNG)
against their original. Negatives: every pair of an original and an *other* pool photo whose
embeddings are at least 0.85 similar: the look-alikes an embedding-only rule would call duplicates.
Reports, for embedding-only thresholds and for the two-part rule in sorter_app.core.duplicates,
the recall per kind of edit and how many look-alike pairs are wrongly accepted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageEnhance, ImageOps

from sorter_app.core.duplicates import NearRule
from sorter_app.core.embedder import Embedder
from sorter_app.core.hashing import content_hash
from sorter_app.core.images import load_image
from sorter_app.core.layout import layout_signature, layout_similarity
from sorter_app.core.preprocess import to_model_pixels
from sorter_app.paths import bundled_model_sidecar

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
ORIGINAL_SOURCES = ["indoor_outdoor_alek", "house_rooms/test", "sun8_scenes"]
POOL_SOURCES = ["places365_rooms", "indoor_outdoor_alek", "sun8_scenes", "house_rooms/test", "miniplaces"]


def _jpeg(quality: int) -> Callable[[Image.Image], bytes]:
    def edit(img: Image.Image) -> bytes:
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality)
        return out.getvalue()

    return edit


def _then_jpeg(transform: Callable[[Image.Image], Image.Image]) -> Callable[[Image.Image], bytes]:
    return lambda img: _jpeg(90)(transform(img))


def _crop(fraction: float) -> Callable[[Image.Image], Image.Image]:
    def crop(img: Image.Image) -> Image.Image:
        w, h = img.size
        cw, ch = int(w * fraction), int(h * fraction)
        return img.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))

    return crop


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


EDITS: dict[str, Callable[[Image.Image], bytes]] = {
    "jpeg q90": _jpeg(90),
    "jpeg q70": _jpeg(70),
    "jpeg q50": _jpeg(50),
    "jpeg q30": _jpeg(30),
    "png": _png,
    "resize 50%": _then_jpeg(lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "resize 25%": _then_jpeg(lambda im: im.resize((im.width // 4, im.height // 4), Image.Resampling.LANCZOS)),
    "crop 90%": _then_jpeg(_crop(0.9)),
    "crop 75%": _then_jpeg(_crop(0.75)),
    "flip": _then_jpeg(ImageOps.mirror),
    "brightness +20%": _then_jpeg(lambda im: ImageEnhance.Brightness(im).enhance(1.2)),
}


def embed_bytes(embedder: Embedder, blobs: list[bytes]) -> tuple[NDArray[np.float32], list[bytes]]:
    """Embeddings and layout signatures, decoded exactly as the indexer decodes."""
    pre = embedder.spec.preprocess
    vectors, layouts = [], []
    for start in range(0, len(blobs), 32):
        images = [load_image(b, pre.size).image for b in blobs[start : start + 32]]
        vectors.append(embedder.embed(np.stack([to_model_pixels(img, pre) for img in images])))
        layouts += [layout_signature(img) for img in images]
    return np.concatenate(vectors), layouts


def images_of(sources: list[str], per_source: int, rng: np.random.Generator) -> list[Path]:
    chosen: list[Path] = []
    for source in sources:
        files = sorted(p for p in (DATASETS / source).rglob("*") if p.suffix.lower() in {".jpg", ".png"})
        picks = rng.choice(len(files), min(per_source, len(files)), replace=False)
        chosen += [files[i] for i in sorted(picks)]
    return chosen


Pairs = tuple[NDArray[np.float64], NDArray[np.float64]]  # (embedding similarity, layout similarity)


def _embedding_only(threshold: float) -> Callable[[float, float], bool]:
    return lambda embedding, layout: embedding >= threshold


def _rules() -> dict[str, Callable[[float, float], bool]]:
    rules = {f"embedding >= {t}": _embedding_only(t) for t in (0.85, 0.90, 0.93, 0.95)}
    rules["shipped rule (embedding + layout)"] = NearRule().accepts
    return rules


def calibrate(per_source: int = 60, pool_per_source: int = 1200) -> dict[str, object]:
    rng = np.random.default_rng(0)
    embedder = Embedder.from_sidecar(bundled_model_sidecar())
    originals = images_of(ORIGINAL_SOURCES, per_source, rng)
    original_bytes = [p.read_bytes() for p in originals]
    original_vectors, original_layouts = embed_bytes(embedder, original_bytes)
    decoded = [load_image(b).image for b in original_bytes]

    positives: dict[str, Pairs] = {}
    for name, edit in EDITS.items():
        vectors, layouts = embed_bytes(embedder, [edit(img) for img in decoded])
        layout_sims = [layout_similarity(a, b) for a, b in zip(original_layouts, layouts, strict=True)]
        positives[name] = (np.sum(vectors * original_vectors, axis=1), np.array(layout_sims))

    pool = images_of(POOL_SOURCES, pool_per_source, rng)
    pool_bytes = [p.read_bytes() for p in pool]
    pool_vectors, pool_layouts = embed_bytes(embedder, pool_bytes)
    sims = original_vectors @ pool_vectors.T
    same = np.array([[content_hash(o) == content_hash(p) for p in pool_bytes] for o in original_bytes])
    sims[same] = -1.0  # an original is not its own negative
    look_alikes = np.argwhere(sims >= 0.85)
    negatives = [
        (float(sims[i, j]), layout_similarity(original_layouts[i], pool_layouts[j])) for i, j in look_alikes
    ]

    results = {}
    for rule_name, accepts in _rules().items():
        recall = {
            name: round(float(np.mean([accepts(e, lay) for e, lay in zip(*pair, strict=True)])), 3)
            for name, pair in positives.items()
        }
        results[rule_name] = {
            "recall_by_edit": recall,
            "look_alike_pairs_accepted": sum(accepts(e, lay) for e, lay in negatives),
        }
    return {
        "originals": len(originals),
        "pool": len(pool),
        "look_alike_pairs": len(negatives),
        "rules": results,
    }


if __name__ == "__main__":
    print(json.dumps(calibrate(), indent=1))
