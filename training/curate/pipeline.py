"""`curate`: labelled images in, leak-free train/val/test shards and a checkable manifest out.

1 corrupt · 2 noise · 3 teacher · 4 dedupe · 5 split (+ audit) · 6 shards. The inputs are cut into
shards (work.py); the model stage turns each into intermediate results on disk, on whichever engine
runs it (engines.py: in-process, or a Ray cluster); the steps then run on the driver over small
per-image facts, with the heavy parts (dedupe cells, the split audit, writing shards) as engine
tasks. The output depends on the inputs and settings only — not on the engine, the number of
workers, or how many times a shard was retried or resumed.

Output goes into `config.out`: the old manifest is removed first and the new one written last, so
a folder with a `manifest.json` always holds a complete run. `.curate-work/` inside it holds the
shard results; it survives a crash or Ctrl-C (the same command resumes from it) and is deleted
after a successful run. `run.json` says how this particular run went (engine, workers, shards
reused, seconds); `manifest.json` says only what the data is, so it is byte-identical across engines.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.duplicates import NearRule
from sorter_app.core.errors import SorterError
from sorter_app.core.hashing import file_sha256
from sorter_app.core.model_spec import ModelSpec, load_spec
from sorter_app.paths import bundled_model_sidecar

from ..errors import TrainingError
from ..labels import ROOMS, SCENES
from .cells import CELL_SIZE, INJECT_SAMPLE
from .decode import MIN_UNIQUE_COLOURS
from .engines import Engine, make_engine
from .inputs import Item, check_unique_paths, read_folder, read_manifest
from .noise import DEFAULT_PROBE, NOISE_THRESHOLD, NoiseScorer, load_probe
from .progress import Log, StageProgress, stderr_log
from .report import Step
from .run_data import load_run_data
from .shard_worker import ModelSetup, ShardTask
from .shards import SHARD_ARRAYS, SHARD_SIZE
from .split import FRACTIONS, SPLITS, assign_splits
from .steps import dedupe_step, noise_step, split_audit_step, teacher_step
from .tars import list_tars, read_tar
from .teacher import DEFAULT_BAND, teacher_heads
from .work import WORK_DIR, InputShard, WorkStore, plan_shards, shard_key
from .writer import label_name, label_set_vocabulary, split_summary, write_split_shards

FORMAT = "image-sorter-curated"
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
RUN_RECORD = "run.json"
_OUTPUT_FILE = re.compile(r"^(manifest\.json|run\.json|(train|val|test)-\d{5}\.npz)$")


@dataclass(frozen=True)
class CurateConfig:
    out: Path
    manifests: tuple[Path, ...] = ()
    folders: tuple[Path, ...] = ()
    tars: tuple[Path, ...] = ()  # WebDataset .tar files, or folders of them
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
    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    cell_size: int = CELL_SIZE  # images per dedupe cell (before each image's second cell)
    inject: int = INJECT_SAMPLE  # injected copies that measure the dedupe's recall


@dataclass
class _Inputs:
    items: list[Item]
    shards: list[InputShard]


def curate(config: CurateConfig, log: Log = stderr_log, engine: Engine | None = None) -> dict[str, Any]:
    """Run every step and write the output; returns the manifest that was written."""
    started = time.perf_counter()
    inputs = read_inputs(config)
    items = inputs.items
    embedder_spec = _spec(config.embedder)
    teacher_spec = _spec(config.teacher) if config.teacher else None
    heads = teacher_heads(teacher_spec) if teacher_spec else None
    scorer = config.noise_scorer
    if scorer is None and config.noise_probe is not None:
        scorer = load_probe(config.noise_probe, embedder_spec.embedding_id)
    # Ray runs one actor per CPU by default, so each model session gets one thread there.
    threads = config.threads if config.threads is not None or config.engine == "local" else 1
    # The bundled model is named by role, not path: under `ray job submit` each node has its own copy.
    bundled = config.embedder.resolve() == bundled_model_sidecar().resolve()
    embedder = None if bundled else config.embedder
    setup = ModelSetup(embedder, config.teacher, scorer, config.min_colours, threads)
    fingerprint = setup.fingerprint(embedder_spec.sha256, teacher_spec.sha256 if teacher_spec else None)
    keys = [shard_key(fingerprint, items[s.first : s.first + s.count]) for s in inputs.shards]
    _prepare_out(config.out)
    store = WorkStore(config.out / WORK_DIR)
    store.remove_except(set(keys))  # results of other inputs or settings, and temp debris
    todo = [
        ShardTask(s.index, key, items[s.first : s.first + s.count])
        for s, key in zip(inputs.shards, keys, strict=True)
        if not store.is_done(key)
    ]
    log(
        f"curate: {len(items)} images in {len(inputs.shards)} shards"
        f" ({len(inputs.shards) - len(todo)} already done)"
    )
    own_engine = engine is None
    engine = engine or make_engine(config.engine, address=config.address, workers=config.workers)
    timings: dict[str, float] = {}
    processed: Counter[str] = Counter()
    try:
        t = time.perf_counter()
        progress = StageProgress("decode + embed", log)
        total = sum(len(task.items) for task in todo)
        done = 0

        def on_done(record: dict[str, Any]) -> None:
            nonlocal done
            done += int(record["images"])
            processed[f"{record['worker']['host']}:{record['worker']['pid']}"] += 1
            progress(done, total)

        engine.process_shards(setup, store.root, todo, on_done)
        timings["decode_and_embed"] = time.perf_counter() - t
        data = load_run_data(store, inputs.shards, keys)
        corrupt = Step(
            "corrupt", f"unreadable, or fewer than {config.min_colours} distinct colours", len(items)
        )
        corrupt.dropped = {i: r for i, r in enumerate(data.reasons) if r is not None}
        steps = [corrupt]
        alive = [i for i in range(len(items)) if i not in corrupt.dropped]
        steps.append(
            noise_step(items, alive, data, scorer.describe() if scorer else None, config.noise_threshold)
        )
        alive = [i for i in alive if i not in steps[-1].dropped]
        name = teacher_spec.model_id if teacher_spec else None
        steps.append(teacher_step(items, alive, data, heads, config.confidence_band, name))
        alive = [i for i in alive if i not in steps[-1].dropped]
        t = time.perf_counter()
        dedupe, groups = dedupe_step(
            items,
            alive,
            data,
            config.rule,
            engine,
            seed=config.seed,
            cell_size=config.cell_size,
            inject=config.inject,
        )
        steps.append(dedupe)
        alive = [i for i in alive if i not in dedupe.dropped]
        split_of = assign_splits(
            alive,
            [(items[i].scene, items[i].room, items[i].source, *sorted(items[i].sets.items())) for i in alive],
            [data.hashes[i] for i in alive],
            seed=config.seed,
        )
        audit, _ = split_audit_step(items, alive, split_of, data, config.rule, engine, seed=config.seed)
        steps.append(audit)
        for i in audit.dropped:
            del split_of[i]
        timings["dedupe_and_audit"] = time.perf_counter() - t
        for step in steps:
            log(step.summary())
        t = time.perf_counter()
        shards = write_split_shards(
            config.out, items, data, split_of, engine, seed=config.seed, shard_size=config.shard_size
        )
        timings["shards"] = time.perf_counter() - t
        engine_info = engine.describe()
    finally:
        if own_engine:
            engine.close()
    manifest = _manifest(config, embedder_spec, teacher_spec, inputs, steps, split_of, shards, groups)
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    timings["total"] = time.perf_counter() - started
    run = {
        "command": {"argv": list(config.command), "cwd": str(Path.cwd())},
        "engine": engine_info,
        "work_shards": {
            "total": len(inputs.shards),
            "reused": len(inputs.shards) - len(todo),
            "processed": len(todo),
            "processed_by": dict(sorted(processed.items())),
        },
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "task_costs": {step.name: step.cost for step in steps if step.cost},
        "manifest_sha256": _sha256_text(text),
    }
    atomic_write_text(config.out / RUN_RECORD, json.dumps(run, indent=1) + "\n")
    atomic_write_text(config.out / MANIFEST, text)
    _remove_stale_shards(config.out, {s["file"] for s in shards})
    shutil.rmtree(store.root, ignore_errors=True)
    log(f"curate: {len(split_of)} images in {len(shards)} shards → {config.out} ({timings['total']:.0f} s)")
    return dict(json.loads(text))  # exactly what the file says (tuples become lists)


def _manifest(
    config: CurateConfig,
    embedder: ModelSpec,
    teacher: ModelSpec | None,
    inputs: _Inputs,
    steps: list[Step],
    split_of: dict[int, str],
    shards: list[dict[str, Any]],
    groups: list[Any],
) -> dict[str, Any]:
    items = inputs.items
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_by": "sorter-train curate",
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
            "stratified_by": ["scene", "room", "source", "label sets"],
            "shard_size": config.shard_size,
            "dedupe_cell_size": config.cell_size,
        },
        "labels": {"scene": list(SCENES), "room": list(ROOMS)},
        "label_sets": label_set_vocabulary(items),
        "arrays": SHARD_ARRAYS,
        "counts": {
            "input": len(items),
            "kept": len(split_of),
            "steps": {s.name: {"input": s.input, "dropped": len(s.dropped)} for s in steps},
            "splits": {s: sum(1 for v in split_of.values() if v == s) for s in SPLITS},
        },
        "steps": [s.to_json(items) for s in steps],
        "input_shards": _per_shard(inputs.shards, steps),
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
    }


def _per_shard(shards: list[InputShard], steps: list[Step]) -> list[dict[str, Any]]:
    """Per input shard: where it came from, and how many of its images each step dropped."""
    firsts = np.array([shard.first for shard in shards], dtype=np.int64)
    dropped_per_step = {
        step.name: np.bincount(
            np.searchsorted(firsts, np.fromiter(step.dropped, np.int64, len(step.dropped)), side="right") - 1,
            minlength=len(shards),
        )
        for step in steps
    }
    records = []
    for k, shard in enumerate(shards):
        dropped = {name: int(counts[k]) for name, counts in dropped_per_step.items()}
        records.append(
            {
                "index": shard.index,
                "input": shard.input,
                "first": shard.first,
                "images": shard.count,
                "dropped": dropped,
                "kept": shard.count - sum(dropped.values()),
            }
        )
    return records


def read_inputs(config: CurateConfig) -> _Inputs:
    if not config.manifests and not config.folders and not config.tars:
        raise TrainingError("nothing to curate: give --manifest CSV, --folder DIR and/or --tar PATH")
    items: list[Item] = []
    groups: list[tuple[str, int, int]] = []  # (input, images, images per shard)

    def add(name: str, found: list[Item], size: int) -> None:
        items.extend(found)
        groups.append((name, len(found), size))

    for manifest in config.manifests:
        add(str(manifest.resolve()), read_manifest(manifest), config.shard_size)
    for folder in config.folders:
        add(str(folder.resolve()), read_folder(folder), config.shard_size)
    for path in config.tars:
        root, tars = list_tars(path)
        for tar in tars:
            found = read_tar(tar, root)
            add(str(tar.resolve()), found, max(len(found), 1))  # a tar is one unit of work
    check_unique_paths(items)
    return _Inputs(items, plan_shards(groups))


def _spec(sidecar: Path) -> ModelSpec:
    try:
        return load_spec(sidecar)
    except (SorterError, OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot load model sidecar {sidecar}: {exc}") from exc


def _prepare_out(out: Path) -> None:
    """Create `out`, or reuse one holding only an earlier run's output (its manifest goes first)."""
    if out.exists():
        if not out.is_dir():
            raise TrainingError(f"--out {out} is not a folder")
        entries = [p for p in out.iterdir() if not _OUTPUT_FILE.match(p.name) and p.name != WORK_DIR]
        foreign = [p.name for p in entries if not p.name.startswith(".curate-work-")]
        if foreign:
            raise TrainingError(f"--out {out} holds files curate did not write ({foreign[0]}, …)")
        (out / MANIFEST).unlink(missing_ok=True)
        for leftover in entries:  # the pixels of an older version's killed run
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
        "tars": [str(t.resolve()) for t in config.tars],
        "images": len(items),
        "sources": sorted({it.source for it in items}),
    }


def _describe_model(spec: ModelSpec, sidecar: Path) -> dict[str, Any]:
    return {
        "model_id": spec.model_id,
        "sha256": spec.sha256,
        "sidecar": str(sidecar.resolve()),
        "preprocess": spec.preprocess.__dict__,
    }


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
