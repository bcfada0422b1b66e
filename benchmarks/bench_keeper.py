"""Which copy of a duplicate the keeper keeps: the original, or an edit of it? By hand:

    .venv/bin/python -m benchmarks.bench_keeper [--photos 80] [--sources house_rooms,...]

Each real photo is written beside one edited copy at a time (calibrate_duplicates' edits, plus
enlargements), under neutral names (`a.jpg`, `b.jpg`, which is which drawn at random), with the same
modification time and no EXIF on either: nothing but the pixels, sizes and formats tells them
apart, as in a held-out test built from a dataset. The layouts are made as the indexer makes them
(`model_input`), and the keeper runs as `Library.duplicate_tiers` runs it. Reported per edit: how
often the original is kept. Also printed: enlarged.py's score and verdict for every photo against
its 50 % and 80 % reductions, saved as JPEG and losslessly (an original: never to be called an
enlargement), with blurred photos and clear skies (sun8 `sky`), where the two come closest, and for
every enlargement against its photo; and reencoded.py's lattice score and verdict for every photo
saved again at a finer quality (to be called a re-save) and for originals against their coarser
copies (never to be called one).
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
from sorter_app.core import enlarged, reencoded
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
RESAVES: dict[str, Edit] = {
    "jpeg q95": lambda img, rng: _jpeg(img, 95),
    "jpeg q100": lambda img, rng: _jpeg(img, 100),
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
    edits = {**EDITS, **RESAVES, **ENLARGEMENTS}
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


def enlargement_verdicts(photos: list[Path]) -> dict[str, list[tuple[float, bool]]]:
    """(score, called an enlargement) for originals against their reductions (lossless and JPEG),
    blurred originals and clear skies among them, and for enlargements against their photo."""
    skies = sorted((DATASETS / "sun8_scenes/outdoor/sky").glob("*.jpg"))[: len(photos)]
    found: dict[str, list[tuple[float, bool]]] = {}

    def add(key: str, big: Image.Image, small: Image.Image) -> None:
        found.setdefault(key, []).append(
            (enlarged.enlargement_score(big, small), enlarged.enlarged_from(big, small))
        )

    for photo in photos + skies:
        img = Image.open(photo).convert("RGB")
        w, h = img.size
        sky = photo in skies
        for name, big in (
            ("a clear sky" if sky else "original", img),
            *(() if sky else (("original, blurred 1.2 px", img.filter(ImageFilter.GaussianBlur(1.2))),)),
        ):
            for factor in (0.5, 0.8):
                reduced = big.resize((round(w * factor), round(h * factor)))
                for fmt, save in (("jpeg q90", _jpeg), ("png", _png)):
                    small = Image.open(io.BytesIO(save(reduced))).convert("RGB")
                    add(f"{name} vs its {factor:.0%} reduction, {fmt}", big, small)
        if sky:
            continue
        for factor in (1.25, 2.0):
            for method in (Image.Resampling.BICUBIC, Image.Resampling.LANCZOS, Image.Resampling.BILINEAR):
                up = img.resize((round(w * factor), round(h * factor)), method)
                for fmt, save in (("png", _png), ("jpeg q90", _jpeg)):
                    copy = Image.open(io.BytesIO(save(up))).convert("RGB")
                    add(f"enlarged {factor}× {method.name.lower()}, {fmt}", copy, img)
    return found


def _quantised(data: bytes) -> reencoded.Quantised:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as fh:
        fh.write(data)
        fh.flush()
        with Image.open(fh.name) as img:
            size = img.size
        found = reencoded.read_quantised(Path(fh.name), size)
    assert found is not None
    return found


def resave_verdicts(photos: list[Path]) -> dict[str, list[tuple[float | None, bool]]]:
    """(lattice score, called a re-save) for each photo saved again at a finer quality, against
    the photo; and for originals made off any earlier JPEG grid (the photo reduced to 50 %, saved at
    q95 or q98) against their coarser copies, which must never make the original the re-save."""
    found: dict[str, list[tuple[float | None, bool]]] = {}

    def add(key: str, finer: bytes, coarser: bytes) -> None:
        a, b = _quantised(finer), _quantised(coarser)
        if not reencoded.can_tell(a.steps, b.steps):
            return
        found.setdefault(key, []).append((reencoded.lattice_score(a, b), reencoded.resaved_from(a, b)))

    for photo in photos:
        data = photo.read_bytes()
        img = Image.open(io.BytesIO(data)).convert("RGB")
        for quality in (85, 90, 95, 100):
            add(f"the photo saved again at q{quality}", _jpeg(img, quality), data)
        reduced = img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)
        for quality in (95, 98):
            original = _jpeg(reduced, quality)
            decoded = Image.open(io.BytesIO(original)).convert("RGB")
            for copy_quality in (50, 75, 85):
                add(
                    f"an original at q{quality} vs its copy at q{copy_quality}",
                    original,
                    _jpeg(decoded, copy_quality),
                )
    return found


def resave_cost(photo: Path, rounds: int = 3) -> list[tuple[float, float]]:
    """(seconds to decode both, seconds to score) for a 12-MP JPEG and its q95 re-save."""
    import time

    with tempfile.TemporaryDirectory() as tmp:
        coarse, fine = Path(tmp) / "a.jpg", Path(tmp) / "b.jpg"
        Image.open(photo).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(
            coarse, quality=80
        )
        Image.open(coarse).save(fine, "JPEG", quality=95)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            a = reencoded.read_quantised(fine, (4000, 3000))
            b = reencoded.read_quantised(coarse, (4000, 3000))
            decoded = time.perf_counter()
            assert a is not None and b is not None and reencoded.resaved_from(a, b)
            times.append((decoded - started, time.perf_counter() - decoded))
    return times


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
    print(f"enlargement verdicts (score below {enlarged.RATIO} and fine detail ≥ {enlarged.MIN_DETAIL}):")
    for key, values in enlargement_verdicts(photos).items():
        v = np.array([score for score, _ in values])
        called = sum(verdict for _, verdict in values)
        print(
            f"  {key:48s} score min {v.min():6.3f}, median {np.median(v):6.3f}; called: {called} / {len(v)}"
        )

    print(f"re-save verdicts (lattice score ≥ {reencoded.MADE_FROM}; pairs whose tables can tell):")
    for key, verdicts in resave_verdicts(photos).items():
        scores = np.array([score for score, _ in verdicts if score is not None])
        called = sum(verdict for _, verdict in verdicts)
        told = f"score min {scores.min():6.3f}, median {np.median(scores):6.3f}, max {scores.max():6.3f}"
        print(f"  {key:48s} {told if scores.size else 'no score':46s}; called: {called} / {len(verdicts)}")
    cost = ", ".join(f"decode {d:.2f} s + score {t:.3f} s" for d, t in resave_cost(photos[0]))
    print(f"re-save test on two 12-MP JPEGs (a q80 file and its q95 re-save): {cost}")


if __name__ == "__main__":
    main()
