"""Which copy of a duplicate the keeper keeps: the original, or an edit of it? By hand:

    .venv/bin/python -m benchmarks.bench_keeper [--photos 80] [--sources house_rooms,...]

Each real photo is written beside one edited copy at a time (calibrate_duplicates' edits, plus
enlargements), under neutral names (`a.jpg`, `b.jpg`, which is which drawn at random), with the same
modification time and no EXIF on either: nothing but the pixels, sizes and formats tells them
apart, as in a held-out test built from a dataset. The layouts are made as the indexer makes them
(`model_input`), and the keeper runs as `Library.duplicate_tiers` runs it. Reported per edit: how
often the original is kept. Also printed: the enlargement score (enlarged.py) of every photo
against its 50 % and 80 % reductions (an original; high), and of every enlargement against its
photo (low), with blurred originals, which is where the two come closest.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.calibrate_duplicates import DATASETS, EDITS, _jpeg, _png
from sorter_app.core import enlarged
from sorter_app.core.catalog import FileFacts
from sorter_app.core.keeper import keep_choices
from sorter_app.core.model_input import prepare_model_input
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar

SOURCES = "house_rooms,places365_rooms,sun8_scenes,indoor_outdoor_alek"
PREPROCESS = load_spec(bundled_model_sidecar()).preprocess
PNG_MAGIC = b"\x89PNG"
Edit = Callable[[Image.Image, np.random.Generator], bytes]


def _enlarge(factor: float, method: Image.Resampling, save: Callable[[Image.Image], bytes]) -> Edit:
    def edit(img: Image.Image, rng: np.random.Generator) -> bytes:
        return save(img.resize((round(img.width * factor), round(img.height * factor)), method))

    return edit


ENLARGEMENTS: dict[str, Edit] = {
    "enlarge 2× bicubic, jpeg q90": _enlarge(2.0, Image.Resampling.BICUBIC, _jpeg),
    "enlarge 1.5× lanczos, png": _enlarge(1.5, Image.Resampling.LANCZOS, _png),
    "enlarge 2× bilinear, png": _enlarge(2.0, Image.Resampling.BILINEAR, _png),
    "enlarge 1.25× bicubic, jpeg q90": _enlarge(1.25, Image.Resampling.BICUBIC, _jpeg),
}


def _photos(sources: list[str], count: int, seed: int) -> list[Path]:
    with open(DATASETS / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "photo" and r["source"] in sources]
    return [DATASETS / r["path"] for r in random.Random(seed).sample(rows, count)]


def _facts_and_layout(path: Path, rel: str) -> tuple[FileFacts, bytes | None]:
    """What the indexer would store for the file: its facts (one shared time) and its layout."""
    prepared = prepare_model_input(str(path), PREPROCESS)
    assert not isinstance(prepared, str), prepared
    size = path.stat().st_size
    return FileFacts(rel, size, 1_600_000_000 * 10**9, prepared.width, prepared.height), prepared.layout


def keep_rates(photos: list[Path], seed: int) -> dict[str, int]:
    edits = {**EDITS, **ENLARGEMENTS}
    kept = dict.fromkeys(edits, 0)
    rng, names = np.random.default_rng(seed), random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for photo in photos:
            original = photo.read_bytes()
            img = Image.open(io.BytesIO(original)).convert("RGB")
            for edit, make in edits.items():
                data = make(img, rng)
                first, second = names.sample(["a", "b"], 2)
                extension = "png" if data.startswith(PNG_MAGIC) else "jpg"
                rels = [f"{first}.jpg", f"{second}.{extension}"]
                (root / rels[0]).write_bytes(original)
                (root / rels[1]).write_bytes(data)
                found = {rel: _facts_and_layout(root / rel, rel) for rel in rels}
                facts = {rel: f for rel, (f, _) in found.items()}
                layouts = {rel: layout for rel, (_, layout) in found.items()}
                (choice,) = keep_choices([rels], facts, root, layouts=layouts)
                kept[edit] += choice.keep == rels[0]
                for rel in rels:
                    (root / rel).unlink()
    return kept


def enlargement_scores(photos: list[Path]) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {}
    for photo in photos:
        img = Image.open(photo).convert("RGB")
        w, h = img.size
        for name, big in (
            ("original", img),
            ("original, blurred 0.7 px", img.filter(ImageFilter.GaussianBlur(0.7))),
            ("original, blurred 1.2 px", img.filter(ImageFilter.GaussianBlur(1.2))),
        ):
            for factor in (0.5, 0.8):
                small = Image.open(
                    io.BytesIO(_jpeg(big.resize((round(w * factor), round(h * factor)))))
                ).copy()
                scores.setdefault(f"{name} vs its {factor:.0%} reduction", []).append(_score(big, small))
        for factor in (1.25, 2.0):
            for method in (Image.Resampling.BICUBIC, Image.Resampling.LANCZOS, Image.Resampling.BILINEAR):
                up = img.resize((round(w * factor), round(h * factor)), method)
                for fmt, save in (("png", _png), ("jpeg q90", _jpeg)):
                    copy = Image.open(io.BytesIO(save(up))).copy()
                    key = f"enlarged {factor}× {method.name.lower()}, {fmt}"
                    scores.setdefault(key, []).append(_score(copy, img))
    return scores


def _score(big: Image.Image, small: Image.Image) -> float:
    return enlarged.enlargement_score(big, small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=80)
    parser.add_argument("--sources", default=SOURCES)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    photos = _photos(args.sources.split(","), args.photos, args.seed)
    print(f"original kept over its edited copy ({len(photos)} photos from {args.sources}):")
    for edit, count in keep_rates(photos, args.seed).items():
        print(f"  {edit:34s} {count:4d} / {len(photos)}")
    print(f"enlargement score (an enlargement below {enlarged.RATIO}):")
    for key, values in enlargement_scores(photos).items():
        v = np.array(values)
        below = int((v < enlarged.RATIO).sum())
        print(
            f"  {key:42s} min {v.min():6.3f}  median {np.median(v):6.3f}  max {v.max():6.3f}  below: {below}"
        )


if __name__ == "__main__":
    main()
