"""Calibrate and check the near-duplicate rule on real photos and their edited copies. By hand:

    .venv/bin/python -m benchmarks.calibrate_duplicates --side tune --json tune.json   # ~3 min CPU
    .venv/bin/python -m benchmarks.calibrate_duplicates --side confirm                  # the other

Built like the held-out test the rule answers to: real photos, each edited 15 ways (JPEG q90/70/50/
30, PNG, 50 % and 25 % resizes, 90 % and 75 % crops at a random place, 5 % borders of a random
colour, 3° rotations, a mirror image, +20 % brightness, a watermark, screenshot-like down-up
scaling), among look-alike photos that are not duplicates: each original's five nearest other
photos by embedding, from the same sources. Two sides with no source in common, so that a choice
made on one can be checked on the other: *tune* (house_rooms, places365_rooms) and *confirm*
(sun8_scenes, miniplaces, intel_outdoor_scenes, indoor_outdoor_alek: 100–600 px, the small ones
included).

Everything runs as the app runs it: files decoded as the indexer decodes them (JPEG draft mode),
the bundled model's embeddings, the stored layout signature, the k-NN graph of `sorter duplicates`,
the rule's verdict per graph edge, and groups as connected components. Reported per side, for the
rule before this change (version-1 layouts: embedding + 16×16 whole-image correlation) and after it,
and for a sweep of the pixel-check threshold: pairwise precision and recall over every pair of
photos in the folder (same group vs same original), the recall of each kind of edit (the copy in
its original's group), false pairs, and the cost.

The shared datasets hold genuinely identical photos under different names (house_rooms, sun8):
benchmarks/known_duplicates.csv lists the pairs found so (byte-identical files; pairs this rule
scored ≥ 0.94 in a 16-NN graph of all 16,758 photos, every one between 0.90 and 0.965 and a sample
above checked by eye; and a few more found by eye below 0.94). Photos marked "unsure" there are
left out; two look-alikes listed as "same" count as the same photo, not as a false pair.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from sorter_app.core.duplicates import candidate_pairs, judge_edges
from sorter_app.core.embedder import Embedder
from sorter_app.core.images import load_image
from sorter_app.core.layout import LEGACY_SIDE, LENGTH, layout_signature
from sorter_app.core.near_rule import DEFAULT_RULE, NEAR, NearRule, decide_pairs
from sorter_app.core.neighbours import knn_graph
from sorter_app.core.preprocess import to_model_pixels
from sorter_app.paths import bundled_model_sidecar

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
KNOWN = Path(__file__).resolve().parent / "known_duplicates.csv"
SIDES = {
    "tune": ["house_rooms", "places365_rooms"],
    "confirm": ["sun8_scenes", "miniplaces", "intel_outdoor_scenes", "indoor_outdoor_alek"],
}
POOL = 1800  # photos per side the originals and look-alikes are drawn from
Edit = Callable[[Image.Image, np.random.Generator], bytes]


# --- the edits ---------------------------------------------------------------------------------------


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _crop(img: Image.Image, fraction: float, rng: np.random.Generator) -> Image.Image:
    w, h = img.size
    cw, ch = round(w * fraction), round(h * fraction)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return img.crop((x, y, x + cw, y + ch))


def _border(img: Image.Image, fraction: float, rng: np.random.Generator) -> Image.Image:
    colours = [(255, 255, 255), (0, 0, 0), (128, 128, 128), (30, 60, 200)]
    colour = colours[int(rng.integers(0, len(colours)))]
    bx, by = round(img.width * fraction), round(img.height * fraction)
    return ImageOps.expand(img, (bx, by, bx, by), fill=colour)


def _rotate(img: Image.Image, degrees: float, rng: np.random.Generator) -> Image.Image:
    """Turned about the centre, same size, black corners (what a quick "rotate" leaves)."""
    return img.rotate(degrees if rng.random() < 0.5 else -degrees, Image.Resampling.BICUBIC)


def _watermark(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    base = img.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=max(10, img.width // 12))
    x, y = int(img.width * rng.uniform(0.05, 0.3)), int(img.height * rng.uniform(0.6, 0.85))
    ImageDraw.Draw(layer).text(
        (x, y),
        "© Sample Photography",
        font=font,
        fill=(255, 255, 255, 150),
        stroke_width=1,
        stroke_fill=(0, 0, 0, 90),
    )
    return Image.alpha_composite(base, layer).convert("RGB")


def _screenshot(img: Image.Image) -> Image.Image:
    """Shown at 40 % and captured back at full size: soft, and saved as PNG."""
    small = img.resize((max(1, img.width * 2 // 5), max(1, img.height * 2 // 5)), Image.Resampling.BILINEAR)
    return small.resize(img.size, Image.Resampling.BICUBIC)


def _half(img: Image.Image, divisor: int) -> Image.Image:
    return img.resize((max(1, img.width // divisor), max(1, img.height // divisor)), Image.Resampling.LANCZOS)


EDITS: dict[str, Edit] = {
    "jpeg q90": lambda img, rng: _jpeg(img, 90),
    "jpeg q70": lambda img, rng: _jpeg(img, 70),
    "jpeg q50": lambda img, rng: _jpeg(img, 50),
    "jpeg q30": lambda img, rng: _jpeg(img, 30),
    "png": lambda img, rng: _png(img),
    "resize 50%": lambda img, rng: _jpeg(_half(img, 2)),
    "resize 25%": lambda img, rng: _jpeg(_half(img, 4)),
    "crop 90%": lambda img, rng: _jpeg(_crop(img, 0.9, rng)),
    "crop 75%": lambda img, rng: _jpeg(_crop(img, 0.75, rng)),
    "border 5%": lambda img, rng: _jpeg(_border(img, 0.05, rng)),
    "rotate 3°": lambda img, rng: _jpeg(_rotate(img, 3.0, rng)),
    "flip": lambda img, rng: _jpeg(ImageOps.mirror(img)),
    "brightness +20%": lambda img, rng: _jpeg(ImageEnhance.Brightness(img).enhance(1.2)),
    "watermark": lambda img, rng: _jpeg(_watermark(img, rng)),
    "screenshot": lambda img, rng: _png(_screenshot(img)),
}


# --- the folder ----------------------------------------------------------------------------------------


@dataclass
class Folder:
    """What the app would hold for one calibration folder, one entry per file."""

    family: list[int]  # the original a file derives from; -1 - i for the i-th look-alike
    edit: list[str]  # "original", an EDITS key, or "look-alike"
    vectors: NDArray[np.float32]
    layouts: list[bytes]  # version 2, as stored from now on
    legacy: list[bytes]  # version 1, as stored before
    sizes: list[tuple[int, int]]
    signature_seconds: float  # computing the version-2 signatures of every file, CPU


def _known_pairs() -> tuple[set[frozenset[str]], set[str]]:
    same: set[frozenset[str]] = set()
    unsure: set[str] = set()
    with KNOWN.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["verdict"] == "same":
                same.add(frozenset((row["a"], row["b"])))
            else:
                unsure.update((row["a"], row["b"]))
    return same, unsure


def _photos(sources: list[str]) -> list[str]:
    with (DATASETS / "manifest.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return sorted(r["path"] for r in rows if r["source"] in sources and r["kind"] == "photo")


class Decoder:
    """Files decoded, embedded and signed exactly as the indexer does."""

    def __init__(self) -> None:
        self.embedder = Embedder.from_sidecar(bundled_model_sidecar())
        self.signing = 0.0

    def __call__(
        self, blobs: list[bytes]
    ) -> tuple[NDArray[np.float32], list[bytes], list[bytes], list[tuple[int, int]]]:
        pre = self.embedder.spec.preprocess
        vectors, layouts, legacy, sizes = [], [], [], []
        for start in range(0, len(blobs), 32):
            loaded = [load_image(b, pre.size) for b in blobs[start : start + 32]]
            vectors.append(self.embedder.embed(np.stack([to_model_pixels(x.image, pre) for x in loaded])))
            began = time.process_time()
            layouts += [layout_signature(x.image) for x in loaded]
            self.signing += time.process_time() - began
            legacy += [_legacy_signature(x.image) for x in loaded]
            sizes += [(x.width, x.height) for x in loaded]
        return np.concatenate(vectors), layouts, legacy, sizes


def _legacy_signature(img: Image.Image) -> bytes:
    grey = img.convert("L").resize((LEGACY_SIDE, LEGACY_SIDE), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.uint8).tobytes()


def build_folder(side: str, originals: int, look_alikes: int, decode: Decoder) -> tuple[Folder, list[str]]:
    """The folder for one side, and the dataset path of each look-alike (for the known pairs)."""
    rng = np.random.default_rng({"tune": 1, "confirm": 2}[side])
    same, unsure = _known_pairs()
    in_known = {p for pair in same for p in pair} | unsure
    photos = [p for p in _photos(SIDES[side]) if p not in unsure]
    pool = [photos[i] for i in sorted(rng.choice(len(photos), min(POOL, len(photos)), replace=False))]
    pool_bytes = [(DATASETS / p).read_bytes() for p in pool]
    pool_vectors, pool_layouts, pool_legacy, pool_sizes = decode(pool_bytes)
    # Originals have no known duplicate anywhere: each family is exactly the original and its edits.
    eligible = [i for i, p in enumerate(pool) if p not in in_known]
    chosen = [eligible[i] for i in rng.choice(len(eligible), originals, replace=False)]
    similar = pool_vectors[chosen] @ pool_vectors.T
    similar[:, chosen] = -1.0
    picked = sorted({int(j) for row in similar for j in np.argsort(-row)[:look_alikes]})

    family, edit, blobs = [], [], []
    for n, i in enumerate(chosen):
        img = ImageOps.exif_transpose(Image.open(io.BytesIO(pool_bytes[i]))).convert("RGB")
        edit_rng = np.random.default_rng(1000 + n)
        for name, make in EDITS.items():
            family.append(n)
            edit.append(name)
            blobs.append(make(img, edit_rng))
    decode.signing = 0.0
    vectors, layouts, legacy, sizes = decode(blobs)
    items = chosen + picked
    folder = Folder(
        family=list(range(len(chosen))) + family + [-1 - k for k in range(len(picked))],
        edit=["original"] * len(chosen) + edit + ["look-alike"] * len(picked),
        vectors=np.concatenate([pool_vectors[items[: len(chosen)]], vectors, pool_vectors[picked]]),
        layouts=[pool_layouts[i] for i in chosen] + layouts + [pool_layouts[i] for i in picked],
        legacy=[pool_legacy[i] for i in chosen] + legacy + [pool_legacy[i] for i in picked],
        sizes=[pool_sizes[i] for i in chosen] + sizes + [pool_sizes[i] for i in picked],
        signature_seconds=decode.signing,
    )
    return folder, [pool[i] for i in picked]


# --- scoring -----------------------------------------------------------------------------------------


def _truth(folder: Folder, look_alike_paths: list[str]) -> NDArray[np.int64]:
    """A label per file: the same label = the same photo (families, and known duplicates)."""
    same, _ = _known_pairs()
    labels = np.array(folder.family, dtype=np.int64)
    first = len(folder.family) - len(look_alike_paths)
    for (i, a), (j, b) in itertools.combinations(enumerate(look_alike_paths), 2):
        if frozenset((a, b)) in same:
            labels[labels == labels[first + j]] = labels[first + i]
    return labels


def _groups(
    n: int, a: NDArray[np.int64], b: NDArray[np.int64], accepted: NDArray[np.bool_]
) -> NDArray[np.int64]:
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for x, y in zip(a[accepted].tolist(), b[accepted].tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return np.array([find(i) for i in range(n)])


def score_groups(folder: Folder, truth: NDArray[np.int64], group: NDArray[np.int64]) -> dict[str, Any]:
    """Pairwise precision and recall over all files, and each edit's recall (joined to its original)."""
    pairs_found = _pair_count(group)
    pairs_true = _pair_count(truth)
    both = _pair_count(truth * (int(group.max()) + 1) + group)
    tp, fp, fn = both, pairs_found - both, pairs_true - both
    originals = {
        f: i for i, (f, e) in enumerate(zip(folder.family, folder.edit, strict=True)) if e == "original"
    }
    recall_by_edit = {
        name: round(
            float(
                np.mean(
                    [
                        group[i] == group[originals[f]]
                        for i, (f, e) in enumerate(zip(folder.family, folder.edit, strict=True))
                        if e == name
                    ]
                )
            ),
            3,
        )
        for name in EDITS
    }
    return {
        "precision": round(tp / max(tp + fp, 1), 4),
        "recall": round(tp / max(tp + fn, 1), 4),
        "false_pairs": int(fp),
        "recall_by_edit": recall_by_edit,
    }


def _pair_count(labels: NDArray[np.int64]) -> int:
    _, counts = np.unique(labels, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def run_rule(
    folder: Folder, truth: NDArray[np.int64], rule: NearRule, k: int, legacy: bool, every: bool = False
) -> dict[str, Any]:
    """The app's verdicts on this folder's graph (`judge_edges`: joined pairs are not checked again),
    or with `every`, a verdict with a score for every pair (for re-thresholding)."""
    graph = knn_graph(folder.vectors, k)
    layouts = folder.legacy if legacy else folder.layouts
    began = time.process_time()
    if every:
        a, b, cosines = candidate_pairs(graph, rule.lowest)
        verdicts = decide_pairs(cosines, [layouts[i] for i in a], [layouts[j] for j in b], rule)
    else:
        edges = judge_edges(graph, layouts, rule, folder.sizes)
        a, b, verdicts = edges.a, edges.b, edges.verdicts.as_list()
        cosines = np.array([v.cosine for v in verdicts], dtype=np.float32)
    seconds = time.process_time() - began
    accepted = np.array([v.tier == NEAR for v in verdicts])
    result = score_groups(folder, truth, _groups(len(truth), a, b, accepted))
    checked = sum(v.score != -1.0 or v.tier != NEAR for v in verdicts)
    result["cost"] = {
        "graph_pairs": len(a),
        "checked_pairs": checked,
        "cpu_seconds": round(seconds, 2),
        "cpu_us_per_checked_pair": round(1e6 * seconds / max(checked, 1), 1),
        "cpu_ms_per_image": round(1e3 * seconds / len(truth), 2),
    }
    result["scores"] = np.array([v.score for v in verdicts], dtype=np.float32)
    result["pairs"] = (a, b, cosines)
    return result


def sweep(
    folder: Folder, truth: NDArray[np.int64], checked: dict[str, Any], rule: NearRule
) -> dict[str, Any]:
    """The same verdicts re-thresholded: precision and recall at other `copy` thresholds."""
    a, b, cosines = checked["pairs"]
    out = {}
    for threshold in (0.90, 0.92, 0.93, 0.94, 0.95, 0.96):
        accepted = (checked["scores"] >= threshold) & (cosines >= rule.candidate)
        found = score_groups(folder, truth, _groups(len(truth), a, b, accepted))
        out[f"copy >= {threshold}"] = {key: found[key] for key in ("precision", "recall", "false_pairs")} | {
            "worst_edits": dict(sorted(found["recall_by_edit"].items(), key=lambda kv: kv[1])[:3])
        }
    return out


def hardest_negatives(
    folder: Folder, truth: NDArray[np.int64], checked: dict[str, Any], top: int = 5
) -> list[dict[str, Any]]:
    a, b, cosines = checked["pairs"]
    wrong = np.flatnonzero(truth[a] != truth[b])
    worst = wrong[np.argsort(-checked["scores"][wrong])][:top]
    return [
        {
            "score": round(float(checked["scores"][k]), 3),
            "cosine": round(float(cosines[k]), 3),
            "edits": [folder.edit[a[k]], folder.edit[b[k]]],
        }
        for k in worst
    ]


def calibrate(originals: int, look_alikes: int, k: int, sides: list[str]) -> dict[str, Any]:
    decode = Decoder()
    report: dict[str, Any] = {
        "signature_bytes": {"version 1": LEGACY_SIDE * LEGACY_SIDE, "version 2": LENGTH}
    }
    for side in sides:
        folder, look_alike_paths = build_folder(side, originals, look_alikes, decode)
        truth = _truth(folder, look_alike_paths)
        before = run_rule(folder, truth, DEFAULT_RULE, 8, legacy=True)
        after = run_rule(folder, truth, DEFAULT_RULE, k, legacy=False)
        every = run_rule(folder, truth, replace(DEFAULT_RULE, copy=-2.0), k, legacy=False, every=True)
        report[side] = {
            "files": len(truth),
            "originals": originals,
            "look_alikes": len(look_alike_paths),
            "signature_cpu_ms_per_image": round(
                1e3 * folder.signature_seconds / (len(truth) - originals - len(look_alike_paths)), 2
            ),
            "before (version-1 rule, k=8)": {
                key: v for key, v in before.items() if key not in ("scores", "pairs")
            },
            f"after (k={k})": {key: v for key, v in after.items() if key not in ("scores", "pairs")},
            "threshold sweep": sweep(folder, truth, every, DEFAULT_RULE),
            "hardest look-alike pairs": hardest_negatives(folder, truth, every),
        }
        print(json.dumps({side: report[side]}, indent=1, ensure_ascii=False), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--originals", type=int, default=104, help="photos edited, per side (default 104)")
    parser.add_argument(
        "--look-alikes", type=int, default=5, help="nearest other photos per original (default 5)"
    )
    parser.add_argument(
        "--k", type=int, default=8, help="neighbours per photo in the graph (default 8, as the app)"
    )
    parser.add_argument("--side", choices=list(SIDES), action="append", help="one side only (default: both)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = calibrate(args.originals, args.look_alikes, args.k, args.side or list(SIDES))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
