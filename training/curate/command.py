"""The `sorter-train curate` subcommand: its arguments, and turning them into a `CurateConfig`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sorter_app.paths import bundled_model_sidecar

from ..errors import TrainingError
from .cells import CELL_SIZE
from .engines import ENGINES
from .noise import DEFAULT_PROBE, NOISE_THRESHOLD
from .shards import SHARD_SIZE
from .teacher import DEFAULT_BAND, check_band

DESCRIPTION = """\
Turn labelled images into leak-free train/val/test shards: drop corrupt images, drop non-photos
(charts, documents, flat graphics), drop labels a teacher model is unsure of, keep one image per
near-duplicate group, split 80/10/10 stratified by label (a duplicate group never spans two
splits), and write {split}-NNNNN.npz shards plus manifest.json. Every step is reported with
counts and a sample of what it dropped. Progress goes to stderr; the counts to stdout.

Inputs: --manifest CSV (columns path, source, scene, room, kind; paths relative to the CSV's
folder; optional teacher_<scene|room>_<label> probability columns), --folder DIR, whose
sub-folder names are the labels: indoor/ or outdoor/ set the scene, a room name (kitchen/,
living_room/, ...) sets the room, non_photo/ marks noise; the source is DIR's name, and/or
--tar PATH: WebDataset .tar shards (image + .json/.cls per sample), a file or a folder of them.

Engines: --engine local (default) runs everything in this process. --engine ray runs the same
steps over shards on a Ray cluster (pip install 'image-sorter[ray]'): --address of a running
cluster (default: start a local one), --workers model actors and concurrent tasks. Either way the
shards' results are kept in OUT/.curate-work until the run succeeds, so the same command after a
crash processes only the shards that are missing; the output is identical whatever the engine."""


def add_curate_parser(commands: Any) -> None:
    """Register `curate` on the `sorter-train` subparsers object."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "curate",
        help="curate labelled images into leak-free train/val/test .npz shards with a manifest",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inputs = parser.add_argument_group("inputs (at least one)")
    inputs.add_argument("--manifest", type=Path, action="append", default=[], metavar="CSV")
    inputs.add_argument("--folder", type=Path, action="append", default=[], metavar="DIR")
    inputs.add_argument(
        "--tar",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="WebDataset .tar, or a folder of them",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder (new, or an earlier curate output)"
    )
    parser.add_argument(
        "--teacher", type=Path, metavar="SIDECAR", help="model sidecar with scene/room probability outputs"
    )
    parser.add_argument(
        "--confidence-band",
        type=float,
        nargs=2,
        default=list(DEFAULT_BAND),
        metavar=("LO", "HI"),
        help="teacher p(given label) inside (LO, HI) drops the label (default: %(default)s)",
    )
    parser.add_argument(
        "--noise-scorer",
        choices=("probe", "none"),
        default="probe",
        help="probe: logistic probe on embeddings (default); none: only drop rows labelled non_photo",
    )
    parser.add_argument(
        "--noise-probe", type=Path, default=DEFAULT_PROBE, metavar="JSON", help="probe weights"
    )
    parser.add_argument(
        "--noise-threshold", type=float, default=NOISE_THRESHOLD, help="drop at p(not a photo) ≥ this"
    )
    parser.add_argument("--seed", type=int, default=0, help="split and shard order seed (default: 0)")
    parser.add_argument("--shard-size", type=int, default=SHARD_SIZE, help="images per shard")
    parser.add_argument(
        "--embedder",
        type=Path,
        default=bundled_model_sidecar(),
        metavar="SIDECAR",
        help="embedder whose output the shards store (default: the bundled model)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="onnxruntime threads per model session (default: all cores; 1 per actor with --engine ray)",
    )
    parser.add_argument(
        "--cell-size",
        type=int,
        default=CELL_SIZE,
        help="images per dedupe cell: larger finds more, at more comparisons (default: %(default)s)",
    )
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine", choices=ENGINES, default="local", help="where shards run (default: local)"
    )
    engine.add_argument(
        "--address", help="Ray cluster address, e.g. ray://head:10001 or head:6379 (--engine ray)"
    )
    engine.add_argument(
        "--workers", type=int, help="model actors and concurrent tasks (--engine ray; default: cluster CPUs)"
    )


def run_curate(args: argparse.Namespace, argv: list[str] | None = None) -> None:
    """Run `curate` as parsed; `argv` (default: sys.argv) is recorded in the manifest."""
    from .pipeline import CurateConfig, curate  # onnxruntime and friends load only when needed

    if not 0.0 < args.noise_threshold <= 1.0:
        raise TrainingError(f"--noise-threshold must be in (0, 1], got {args.noise_threshold}")
    if args.cell_size < 2:
        raise TrainingError(f"--cell-size must be at least 2, got {args.cell_size}")
    if args.shard_size < 1:
        raise TrainingError(f"--shard-size must be at least 1, got {args.shard_size}")
    config = CurateConfig(
        out=args.out,
        manifests=tuple(args.manifest),
        folders=tuple(args.folder),
        tars=tuple(args.tar),
        embedder=args.embedder,
        teacher=args.teacher,
        confidence_band=check_band(args.confidence_band),
        noise_probe=args.noise_probe if args.noise_scorer == "probe" else None,
        noise_threshold=args.noise_threshold,
        seed=args.seed,
        shard_size=args.shard_size,
        command=("sorter-train", *(sys.argv[1:] if argv is None else argv)),
        threads=args.threads,
        engine=args.engine,
        address=args.address,
        workers=args.workers,
        cell_size=args.cell_size,
    )
    manifest = curate(config)
    print(json.dumps(manifest["counts"], indent=2))
