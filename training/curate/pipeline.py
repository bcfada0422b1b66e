"""`curate`: labelled images in, leak-free train/val/test shards and a checkable manifest out.

1 corrupt · 2 noise · 3 teacher · 4 dedupe · 5 split · 6 shards — over one decode pass (decode.py).
Output goes into `config.out`: the old manifest is removed first and the new one written last, so
a folder with a `manifest.json` always holds a complete run; shards of an earlier run that the new
manifest does not list are deleted at the end.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.duplicates import NearRule
from sorter_app.core.embedder import Embedder
from sorter_app.core.errors import SorterError
from sorter_app.core.hashing import file_sha256
from sorter_app.paths import bundled_model_sidecar

from ..errors import TrainingError
from ..labels import ROOMS, SCENES
from .decode import MIN_UNIQUE_COLOURS, decode_items
from .inputs import Item, check_unique_paths, read_folder, read_manifest
from .noise import DEFAULT_PROBE, NOISE_THRESHOLD, NoiseScorer, load_probe
from .progress import Log, StageProgress, stderr_log
from .report import Step
from .shards import SHARD_ARRAYS, SHARD_SIZE
from .split import FRACTIONS, SPLITS, assign_splits
from .steps import dedupe_step, noise_step, teacher_step
from .teacher import DEFAULT_BAND, teacher_heads
from .writer import label_name, split_summary, write_split_shards

FORMAT = "image-sorter-curated"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_OUTPUT_FILE = re.compile(r"^(manifest\.json|(train|val|test)-\d{5}\.npz)$")


@dataclass(frozen=True)
class CurateConfig:
    out: Path
    manifests: tuple[Path, ...] = ()
    folders: tuple[Path, ...] = ()
    embedder: Path = field(default_factory=bundled_model_sidecar)
    teacher: Path | None = None
    confidence_band: tuple[float, float] = DEFAULT_BAND
    noise_probe: Path | None = DEFAULT_PROBE  # None: no scorer, unless `noise_scorer` is given
    noise_scorer: NoiseScorer | None = None  # any scorer; overrides `noise_probe`
    noise_threshold: float = NOISE_THRESHOLD
    min_colours: int = MIN_UNIQUE_COLOURS
    rule: NearRule = field(default_factory=NearRule)
    seed: int = 0
    shard_size: int = SHARD_SIZE
    command: tuple[str, ...] = ()
    threads: int | None = None


def curate(config: CurateConfig, log: Log = stderr_log) -> dict[str, Any]:
    """Run every step and write the output; returns the manifest that was written."""
    started = time.perf_counter()
    items = _read_inputs(config)
    try:
        embedder = Embedder.from_sidecar(config.embedder, threads=config.threads)
        teacher = Embedder.from_sidecar(config.teacher, threads=config.threads) if config.teacher else None
    except SorterError as exc:
        raise TrainingError(str(exc)) from exc
    heads = teacher_heads(teacher.spec) if teacher else None
    scorer = config.noise_scorer
    if scorer is None and config.noise_probe is not None:
        scorer = load_probe(config.noise_probe, embedder.spec.embedding_id)
    _prepare_out(config.out)
    inputs = f"{len(config.manifests)} manifest(s), {len(config.folders)} folder(s)"
    log(f"curate: {len(items)} images from {inputs}")
    work = Path(tempfile.mkdtemp(prefix=".curate-work-", dir=config.out))
    try:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        decoded = decode_items(
            items,
            embedder,
            teacher=teacher,
            teacher_heads=list(heads or {}),
            pixels_file=work / "pixels.npy",
            min_colours=config.min_colours,
            progress=StageProgress("decode + embed", log),
        )
        timings["decode_and_embed"] = time.perf_counter() - t
        corrupt = Step(
            "corrupt", f"unreadable, or fewer than {config.min_colours} distinct colours", len(items)
        )
        corrupt.dropped = {i: r for i, r in enumerate(decoded.reasons) if r is not None}
        steps = [corrupt]
        alive = [i for i in range(len(items)) if i not in corrupt.dropped]
        steps.append(noise_step(items, alive, decoded, scorer, config.noise_threshold))
        alive = [i for i in alive if i not in steps[-1].dropped]
        name = teacher.model_id if teacher else None
        steps.append(teacher_step(items, alive, decoded, heads, config.confidence_band, name))
        alive = [i for i in alive if i not in steps[-1].dropped]
        t = time.perf_counter()
        dedupe, groups = dedupe_step(items, alive, decoded, config.rule)
        steps.append(dedupe)
        alive = [i for i in alive if i not in dedupe.dropped]
        timings["dedupe"] = time.perf_counter() - t
        for step in steps:
            log(step.summary())
        split_of = assign_splits(
            alive,
            [(items[i].scene, items[i].room, items[i].source) for i in alive],
            [decoded.hashes[i] for i in alive],
            seed=config.seed,
        )
        t = time.perf_counter()
        shards = write_split_shards(
            config.out,
            items,
            decoded,
            split_of,
            seed=config.seed,
            shard_size=config.shard_size,
            progress=StageProgress("shards", log),
        )
        timings["shards"] = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["total"] = time.perf_counter() - started
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_by": "sorter-train curate",
        "command": {"argv": list(config.command), "cwd": str(Path.cwd())},
        "inputs": _describe_inputs(config, items),
        "seed": config.seed,
        "embedder": _describe_model(embedder, config.embedder),
        "teacher": _describe_model(teacher, config.teacher) if teacher and config.teacher else None,
        "thresholds": {
            "min_unique_colours": config.min_colours,
            "noise_threshold": config.noise_threshold,
            "confidence_band": list(config.confidence_band),
            "near_duplicate_rule": config.rule.__dict__,
            "split_fractions": dict(zip(SPLITS, FRACTIONS, strict=True)),
            "stratified_by": ["scene", "room", "source"],
            "shard_size": config.shard_size,
        },
        "labels": {"scene": list(SCENES), "room": list(ROOMS)},
        "arrays": SHARD_ARRAYS,
        "counts": {
            "input": len(items),
            "kept": len(split_of),
            "steps": {s.name: {"input": s.input, "dropped": len(s.dropped)} for s in steps},
            "splits": {s: sum(1 for v in split_of.values() if v == s) for s in SPLITS},
        },
        "steps": [s.to_json(items) for s in steps],
        "splits": split_summary(items, split_of),
        "shards": shards,
        "duplicate_groups": [
            {
                "tier": g.tier,
                "keep": items[g.keep].path if g.keep is not None else None,
                "split": split_of.get(g.keep) if g.keep is not None else None,
                "members": [{"path": items[i].path, "label": label_name(items[i])} for i in g.members],
            }
            for g in groups
        ],
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    atomic_write_text(config.out / MANIFEST, text)
    _remove_stale_shards(config.out, {s["file"] for s in shards})
    log(f"curate: {len(split_of)} images in {len(shards)} shards → {config.out} ({timings['total']:.0f} s)")
    return dict(json.loads(text))  # exactly what the file says (tuples become lists)


def _read_inputs(config: CurateConfig) -> list[Item]:
    if not config.manifests and not config.folders:
        raise TrainingError("nothing to curate: give --manifest CSV and/or --folder DIR")
    items: list[Item] = []
    for manifest in config.manifests:
        items += read_manifest(manifest)
    for folder in config.folders:
        items += read_folder(folder)
    check_unique_paths(items)
    return items


def _prepare_out(out: Path) -> None:
    """Create `out`, or reuse one holding only an earlier run's output (its manifest goes first)."""
    if out.exists():
        if not out.is_dir():
            raise TrainingError(f"--out {out} is not a folder")
        entries = [p for p in out.iterdir() if not _OUTPUT_FILE.match(p.name)]
        foreign = [p.name for p in entries if not p.name.startswith(".curate-work-")]
        if foreign:
            raise TrainingError(f"--out {out} holds files curate did not write ({foreign[0]}, …)")
        (out / MANIFEST).unlink(missing_ok=True)
        for leftover in entries:  # pixels of a run that was killed before it could clean up
            shutil.rmtree(leftover, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _remove_stale_shards(out: Path, current: set[str]) -> None:
    for path in out.glob("*.npz"):
        if _OUTPUT_FILE.match(path.name) and path.name not in current:
            path.unlink()


def _describe_inputs(config: CurateConfig, items: list[Item]) -> dict[str, Any]:
    return {
        "manifests": [{"path": str(m.resolve()), "sha256": file_sha256(m)} for m in config.manifests],
        "folders": [{"path": str(f.resolve()), "source": f.resolve().name} for f in config.folders],
        "images": len(items),
        "sources": sorted({it.source for it in items}),
    }


def _describe_model(model: Embedder, sidecar: Path) -> dict[str, Any]:
    return {
        "model_id": model.model_id,
        "sha256": model.spec.sha256,
        "sidecar": str(sidecar.resolve()),
        "preprocess": model.spec.preprocess.__dict__,
    }
