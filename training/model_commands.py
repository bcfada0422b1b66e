"""The `train`, `evaluate` and `export` subcommands of `sorter-train`: arguments → function calls.

Kept apart from training/cli.py so each command group owns its arguments; every command that
touches a run folder records its exact command line there (RUN_DIR/commands.json), which is what
MODELS.md quotes under "Reproduce".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .metrics import DEFAULT_TARGETS
from .paths import DATASETS_ENV, default_datasets_dir, default_models_dir
from .train_config import BALANCE_MODES, TrainConfig


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def add_model_parsers(commands: Any) -> None:
    defaults = TrainConfig(data="")
    train: argparse.ArgumentParser = commands.add_parser(
        "train",
        help="train the indoor/outdoor and room heads (optionally fine-tune the backbone) on curated shards; "
        "for curated `sorter labels export` data, one head per label set",
        description="Train scene (indoor/outdoor) and room-type heads on the frozen embedder's stored "
        "embeddings plus degraded (low-resolution, JPEG) re-embedded views, class- and source-balanced; "
        "optionally fine-tune the backbone's last blocks (--finetune). Checkpoints every epoch; --resume "
        "continues an interrupted run with its saved config. Curated data that carries label sets (a "
        "`sorter labels export` manifest) trains one class-balanced logistic-regression head per set "
        "instead, in seconds, beside the bundled heads (which stay as installed).",
    )
    train.add_argument("--data", type=Path, help="curated folder (manifest.json + shards)")
    train.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run folder")
    train.add_argument(
        "--resume", action="store_true", help="continue the run in RUN_DIR with its saved config"
    )
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--hidden", type=int, default=defaults.hidden, help="hidden units per head; 0: linear")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--balance", choices=BALANCE_MODES, default=defaults.balance)
    train.add_argument(
        "--degrade-views",
        type=int,
        default=defaults.degrade_views,
        help="degraded views per training image (0: off)",
    )
    train.add_argument(
        "--holdout-source",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this source out of training",
    )
    train.add_argument("--finetune", action="store_true", help="also fine-tune the backbone's last blocks")
    train.add_argument("--finetune-steps", type=int, default=defaults.finetune_steps)
    train.add_argument("--finetune-blocks", type=int, default=defaults.finetune_blocks)
    train.add_argument("--finetune-batch-size", type=int, default=defaults.finetune_batch_size)
    train.add_argument("--device", default=defaults.device, help="auto, cpu, cuda, mps")

    evaluate: argparse.ArgumentParser = commands.add_parser(
        "evaluate",
        help="report accuracy, balanced accuracy, recall, confusion, ECE and unknown thresholds of a run",
        description="Evaluate a run on the curated test split (overall, per source, and on a 100-px degraded "
        "probe), on the sources it held out, and on extra labelled folders; choose the 'unknown' thresholds "
        "on the validation split. Writes RUN_DIR/evaluation.json and evaluation.txt.",
    )
    evaluate.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    evaluate.add_argument("--data", type=Path, help="curated folder (default: the one the run trained on)")
    evaluate.add_argument(
        "--folder",
        type=Path,
        action="append",
        default=[],
        help="extra labelled folder (folder names are labels)",
    )
    evaluate.add_argument(
        "--target-scene",
        type=float,
        default=DEFAULT_TARGETS["scene"],
        help="accuracy the kept scene answers must reach (default: %(default)s)",
    )
    evaluate.add_argument(
        "--target-room",
        type=float,
        default=DEFAULT_TARGETS["room"],
        help="accuracy the kept room answers must reach (default: %(default)s)",
    )
    evaluate.add_argument(
        "--no-probe", dest="probe", action="store_false", help="skip the degraded-image probe"
    )

    export: argparse.ArgumentParser = commands.add_parser(
        "export",
        help="export a run as one ONNX graph (embedding + scene + room) with its sidecar",
        description="Export backbone + heads as one ONNX file, check onnxruntime against torch, write it "
        "with its sidecar into RUN_DIR/export; --install also replaces "
        "resources/models/image-sorter.{onnx,json} and updates MODELS.md. "
        "Needs `sorter-train evaluate` first (thresholds and figures come from it).",
    )
    export.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    export.add_argument("--install", action="store_true", help="install as the app's bundled model")
    export.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help="(default: %(default)s)"
    )
    export.add_argument(
        "--holdout-run",
        type=Path,
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="a --holdout-source run whose held-out figures go into the sidecar and MODELS.md",
    )
    export.add_argument(
        "--compare-run",
        type=Path,
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="another evaluated run (e.g. without balancing or degraded views) to compare with in MODELS.md",
    )
    export.add_argument(
        "--datasets",
        type=Path,
        default=default_datasets_dir(),
        help="datasets folder with sample_photos/ for the parity check "
        f"(default: ${DATASETS_ENV} or %(default)s)",
    )


def run_model_command(args: argparse.Namespace, argv: list[str] | None) -> bool:
    """Run `train`/`evaluate`/`export`; False when `args.command` is none of them."""
    from .label_heads import (
        has_label_sets,
        is_label_run,
        load_label_heads,
        render_label_report,
        train_label_heads,
    )
    from .run_log import record_command

    words = list(sys.argv[1:] if argv is None else argv)
    if args.command == "train" and not args.resume and args.data and has_label_sets(args.data):
        train_label_heads(args.data, args.out, log=_log)
        record_command(args.out, words)
    elif args.command == "train":
        from .errors import TrainingError
        from .train import train

        config = None
        if not args.resume:
            if args.data is None:
                raise TrainingError("--data is required for a new run")
            config = TrainConfig(
                data=str(args.data.resolve()),
                seed=args.seed,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                hidden=args.hidden,
                balance=args.balance,
                degrade_views=args.degrade_views,
                holdout_sources=list(args.holdout_source),
                finetune=args.finetune,
                finetune_steps=args.finetune_steps,
                finetune_blocks=args.finetune_blocks,
                finetune_batch_size=args.finetune_batch_size,
                device=args.device,
            )
        try:
            outcome = train(config, args.out, resume=args.resume, log=_log)
        except KeyboardInterrupt:
            record_command(args.out, words)  # the checkpoint is there: --resume continues it
            raise
        record_command(args.out, words)
        if not outcome.finished:
            raise TrainingError("training stopped early; continue with --resume")
    elif args.command == "evaluate" and is_label_run(args.run):
        print(render_label_report(load_label_heads(args.run)[0]), end="")
        record_command(args.run, words)
    elif args.command == "evaluate":
        from .evaluate import evaluate
        from .evaluate_text import render_text

        report = evaluate(
            args.run,
            args.data,
            args.folder,
            targets={"scene": args.target_scene, "room": args.target_room},
            probe=args.probe,
            log=_log,
        )
        print(render_text(report), end="")
        record_command(args.run, words)
    elif args.command == "export" and is_label_run(args.run):
        from .export_label_model import export_label_model

        export_label_model(
            args.run,
            install=args.install,
            models_dir=args.models_dir,
            datasets_dir=args.datasets,
            command=words,
            log=_log,
        )
        record_command(args.run, words)
    elif args.command == "export":
        from .export_model import export_model

        export_model(
            args.run,
            install=args.install,
            models_dir=args.models_dir,
            datasets_dir=args.datasets,
            holdout_runs=args.holdout_run,
            compare_runs=args.compare_run,
            command=words,
            log=_log,
        )
        record_command(args.run, words)
    else:
        return False
    return True
