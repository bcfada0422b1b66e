"""`sorter-train`: headless commands that produce the models the app bundles."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .curate.command import add_curate_parser, run_curate
from .errors import TrainingError
from .model_commands import add_model_parsers, run_model_command
from .paths import DATASETS_ENV, default_datasets_dir, default_models_dir
from .selection_commands import add_selection_parsers, add_setting_parser, run_selection_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sorter-train", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = commands.add_parser(
        "export-embedder",
        help="export EfficientNet-Lite0 (ImageNet weights) as the bundled ONNX embedder + JSON sidecar",
        description="Check the ImageNet weights on a known photo, export to ONNX, verify onnxruntime "
        "against torch, then atomically write image-sorter.onnx and image-sorter.json.",
    )
    export.add_argument(
        "--out", type=Path, default=default_models_dir(), help="output folder (default: %(default)s)"
    )
    export.add_argument(
        "--datasets",
        type=Path,
        default=default_datasets_dir(),
        help=f"datasets folder with sample_photos/ (default: ${DATASETS_ENV} or %(default)s)",
    )
    export.add_argument(
        "--no-sanity-check",
        dest="sanity_check",
        action="store_false",
        help="skip the ImageNet espresso check (only when the datasets are unavailable)",
    )
    graph = commands.add_parser(
        "heads-graph",
        help="write the heads-only graph (embedding → predictions) beside an installed model",
        description="Cut the probability heads out of the model's graph as a second ONNX file and name "
        "it in the sidecar, so the app predicts from the vectors a catalog holds without decoding images. "
        "New exports write it themselves.",
    )
    graph.add_argument("--models-dir", type=Path, default=default_models_dir(), help="(default: %(default)s)")
    graph.add_argument("--datasets", type=Path, default=default_datasets_dir(), help="(default: %(default)s)")
    add_curate_parser(commands)
    add_model_parsers(commands)
    add_selection_parsers(commands)
    add_setting_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export-embedder":
            from .export_embedder import export_embedder

            export_embedder(args.out, args.datasets, sanity_check=args.sanity_check)
        elif args.command == "heads-graph":
            from .heads_graph import install_heads_graph

            install_heads_graph(args.models_dir, args.datasets, list(sys.argv[1:] if argv is None else argv))
        elif args.command == "curate":
            run_curate(args, argv)
        elif not run_selection_command(args, argv):
            run_model_command(args, argv)
    except TrainingError as exc:
        print(f"sorter-train: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a folder it may not write: say so, without a traceback
        print(f"sorter-train: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
