"""The `features` and `select` subcommands of `sorter-train`: arguments → function calls.

`features` runs every image's views through the frozen network once (training/feature_cache.py);
`select` scores candidate recipes leave-one-source-out on that cache (training/selection.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .image_views import FIXED_VIEWS, augmented_view_names
from .paths import default_datasets_dir, default_models_dir
from .run_log import record_command, record_entries_from
from .tail_finetune import TailConfig

DEFAULT_AUG_VIEWS = 4


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def add_selection_parsers(commands: Any) -> None:
    features: argparse.ArgumentParser = commands.add_parser(
        "features",
        help="embed every image's views once (centre, flip, letterbox, end crops, augmented) into a cache",
        description="Decode every manifest row as the app does, build its views (centre crop, flip, "
        "letterbox, the two end crops, N augmented views) and store each view's embedding, plus the "
        "frozen trunk's activation for the centre, flip and augmented views (what tail fine-tuning "
        "trains on). Resumable: re-run the same command to continue.",
    )
    features.add_argument(
        "--manifest",
        type=Path,
        action="append",
        required=True,
        help="CSV with path, source, scene, room, kind (repeatable)",
    )
    features.add_argument("--out", type=Path, required=True, help="cache folder")
    features.add_argument(
        "--aug-views",
        type=int,
        default=DEFAULT_AUG_VIEWS,
        help="augmented training views per image (default: %(default)s)",
    )
    features.add_argument("--views", help="only these views, comma-separated (e.g. centre)")
    features.add_argument(
        "--enlarge",
        type=int,
        metavar="SIZE",
        help="also store the trunk's activations of the centre and mirror views enlarged to SIZE px inside "
        "the network (288: what the room tail of `select --tail-enlarge` trains on)",
    )

    select: argparse.ArgumentParser = commands.add_parser(
        "select",
        help="score candidate recipes leave-one-source-out on feature caches (first row: plain LR)",
        description="For each head (kind, scene, room) and each source with its labels, fit every recipe "
        "on the other sources and predict the held-out one; writes OUT/selection.json (figures per recipe, "
        "head and held-out source) and OUT/heldout.npz (every out-of-source prediction, for thresholds).",
    )
    select.add_argument(
        "--cache", type=Path, action="append", required=True, help="feature cache (repeatable)"
    )
    select.add_argument("--out", type=Path, required=True)
    select.add_argument(
        "--recipes",
        default="all",
        help="comma-separated recipe names, 'all' (default) or 'none' (the tails only)",
    )
    select.add_argument("--heads", default="kind,scene,room", help="default: %(default)s")
    select.add_argument(
        "--tail", action="store_true", help="also score the fine-tuned tail (needs activations)"
    )
    select.add_argument(
        "--tail-enlarge",
        type=int,
        metavar="SIZE",
        help="also score the tail on the views enlarged to SIZE (recipe tail_upSIZE; needs "
        "`features --enlarge SIZE`)",
    )
    select.add_argument("--tail-epochs", type=int, default=TailConfig.epochs)
    select.add_argument(
        "--tail-samples", type=int, default=TailConfig.samples_per_epoch, help="images per epoch"
    )

    fit: argparse.ArgumentParser = commands.add_parser(
        "fit",
        help="fit the chosen recipe on every source; thresholds from its held-out predictions",
        description="Fit the recipe chosen with `select` (scene and room; --kind-recipe for kind) on every "
        "source, choose each head's 'unknown' threshold on the recipe's held-out predictions "
        "(target accuracy, at least 85 %% coverage; for scene and room on every held-out source), and "
        "write RUN_DIR/heads.npz and fit.json.",
    )
    fit.add_argument(
        "--selection", type=Path, action="append", required=True, help="a folder `select` wrote (repeatable)"
    )
    fit.add_argument("--cache", type=Path, action="append", required=True, help="the same caches as select")
    fit.add_argument("--recipe", default="lr", help="recipe for scene and room (default: %(default)s)")
    fit.add_argument("--room-recipe", help="recipe for room (default: --recipe's)")
    fit.add_argument("--kind-recipe", default="lr", help="recipe for kind (default: %(default)s)")
    fit.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")

    export: argparse.ArgumentParser = commands.add_parser(
        "export-heads",
        help="export the frozen embedder + the fitted kind/scene/room heads as one ONNX model",
        description="One ONNX graph: the embedding (checked bit-identical to the embedder-only model) and "
        "kind, scene, room probabilities; its sidecar carries the held-out thresholds and figures. "
        "--install replaces resources/models/image-sorter.{onnx,json} and rewrites MODELS.md's section.",
    )
    export.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    export.add_argument("--install", action="store_true")
    export.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help="(default: %(default)s)"
    )
    export.add_argument(
        "--datasets",
        type=Path,
        default=default_datasets_dir(),
        help="with sample_photos/, for the parity check",
    )


def add_setting_parser(commands: Any) -> None:
    setting: argparse.ArgumentParser = commands.add_parser(
        "setting",
        help="fit the setting head (home / not a home, between scene and room) on feature caches",
        description="On a cache of `--views centre,small128`: label every photo with a room 'home' and every "
        "other indoor photo 'not_a_home' (the shared datasets' convention), score "
        "a class-balanced logistic regression on the embedding leave-one-source-out, choose the gate at "
        "which rooms are withheld, and write a run that `sorter-train export --run RUN --install` appends "
        "to the installed model (training/setting_head.py).",
    )
    setting.add_argument(
        "--cache", type=Path, action="append", required=True, help="feature cache (repeatable)"
    )
    setting.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    setting.add_argument(
        "--models-dir",
        type=Path,
        default=default_models_dir(),
        help="the model it is for (default: %(default)s)",
    )


def _tail_configs(args: argparse.Namespace) -> list[TailConfig]:
    schedule = {"epochs": args.tail_epochs, "samples_per_epoch": args.tail_samples}
    return [
        *([TailConfig(**schedule)] if args.tail else []),
        *([TailConfig.enlarged(args.tail_enlarge, **schedule)] if args.tail_enlarge else []),
    ]


def run_selection_command(args: argparse.Namespace, argv: list[str] | None = None) -> bool:
    """Run `features`/`select`/`fit`/`export-heads`/`setting`; False when `args.command` is none of them."""
    words = list(sys.argv[1:] if argv is None else argv)
    if args.command == "features":
        from .feature_cache import build_cache

        augmented = augmented_view_names(args.aug_views)
        views = tuple(args.views.split(",")) if args.views else (*FIXED_VIEWS, *augmented)
        build_cache(
            args.manifest,
            args.out,
            views,
            [v for v in views if v in ("centre", "flip", *augmented)],
            log=_log,
        )
        if args.enlarge:
            from .curate.inputs import read_manifest
            from .enlarged_views import add_enlarged_views

            items = [item for manifest in args.manifest for item in read_manifest(manifest)]
            add_enlarged_views(args.out, items, args.enlarge, log=_log)
        record_command(args.out, words)
    elif args.command == "setting":
        from .setting_head import train_setting

        record_entries_from(args.out, args.cache)
        train_setting(args.cache, args.out, args.models_dir, log=_log)
        record_command(args.out, words)
    elif args.command == "fit":
        from .fit_selected import fit_selected

        record_entries_from(args.out, [*args.cache, *args.selection])
        fit_selected(
            args.selection,
            args.cache,
            args.out,
            recipe=args.recipe,
            room_recipe=args.room_recipe,
            kind_recipe=args.kind_recipe,
            log=_log,
        )
        record_command(args.out, words)
    elif args.command == "export-heads":
        from .export_heads import export_heads

        export_heads(
            args.run,
            install=args.install,
            models_dir=args.models_dir,
            datasets_dir=args.datasets,
            command=words,
            log=_log,
        )
        record_command(args.run, words)
    elif args.command == "select":
        from .errors import TrainingError
        from .selection_run import run_selection

        if args.recipes == "none" and not _tail_configs(args):
            raise TrainingError("--recipes none scores the tails only: add --tail or --tail-enlarge")

        run_selection(
            args.cache,
            args.out,
            recipes=None
            if args.recipes == "all"
            else []
            if args.recipes == "none"
            else args.recipes.split(","),
            heads=tuple(args.heads.split(",")),
            tails=_tail_configs(args),
            log=_log,
        )
        record_command(args.out, words)
    else:
        return False
    return True
