"""`sorter correct`, `rate` and `export`: the user's word on what an image shows and how good it
is, and the labels as a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.clusters import RESOLUTIONS
from ..core.library import Library
from ..core.predictions import Prediction
from ..core.ratings import MAX_STARS, REJECTED, rating_name
from .output import EXIT_OK, EXIT_USAGE, Command, emit, folder_of, shown


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> dict[str, Command]:
    correct = commands.add_parser(
        "correct", parents=[common], help="say what an image shows; it overrides the model's prediction"
    )
    correct.add_argument("folder", type=Path)
    correct.add_argument("image", type=Path)
    correct.add_argument("label", nargs="?", help="any label the model predicts, e.g. kitchen or outdoor")
    correct.add_argument("--clear", action="store_true", help="forget the correction: the model speaks again")
    export = commands.add_parser(
        "export", parents=[common], help="labels and groups as CSV (a sorter-train curate manifest) or JSON"
    )
    export.add_argument("folder", type=Path)
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.csv|FILE.json")
    export.add_argument(
        "--clusters", choices=list(RESOLUTIONS), help="fill the group column with each image's cluster"
    )
    rate = commands.add_parser(
        "rate", parents=[common], help="give images 1-5 stars or reject them (by content, as the window does)"
    )
    rate.add_argument("folder", type=Path)
    rate.add_argument("images", type=Path, nargs="+", metavar="image")
    given = rate.add_mutually_exclusive_group(required=True)
    given.add_argument("--stars", type=int, choices=range(MAX_STARS + 1), help="0 clears the rating")
    given.add_argument("--reject", action="store_true", help="rejected: below every star")
    return {"correct": _correct, "export": _export, "rate": _rate}


def _rate(library: Library, args: argparse.Namespace) -> int:
    root = folder_of(args)
    rating = REJECTED if args.reject else args.stars
    rated = library.rate(root, args.images, rating)
    rows = [{"path": str(root / relpath), "rating": value} for relpath, value in rated.items()]
    human = "\n".join(f"{shown(root / relpath)}: {rating_name(value)}" for relpath, value in rated.items())
    emit(args, rows, human)
    return EXIT_OK


def _correct(library: Library, args: argparse.Namespace) -> int:
    if args.clear == (args.label is not None):
        print("sorter: error: give either a LABEL or --clear", file=sys.stderr)
        return EXIT_USAGE
    root = folder_of(args)
    if args.clear:
        prediction = library.clear_correction(root, args.image)
    else:
        prediction = library.correct(root, args.image, args.label)
    emit(args, {**prediction.to_json(), "path": str(root / prediction.path)}, _said(root, prediction))
    return EXIT_OK


def _said(root: Path, prediction: Prediction) -> str:
    """`/photos/a.jpg: scene indoor (corrected), room kitchen (corrected)`; heads that do not apply
    are left out."""
    said = [
        f"{head} {answer.label} " + ("(corrected)" if answer.corrected else f"{answer.confidence:.2f}")
        for head, answer in prediction.answers.items()
        if answer.label is not None
    ]
    return f"{shown(root / prediction.path)}: {', '.join(said) or 'no prediction'}"


def _export(library: Library, args: argparse.Namespace) -> int:
    root = folder_of(args)
    groups: dict[str, str] | None = None
    if args.clusters:
        clustering = library.clusters(root, args.clusters, user_names=True)
        groups = {path: cluster.label for cluster in clustering.clusters for path in cluster.paths}
        groups |= {path: "unsorted" for path in clustering.unsorted}
    destination = args.output.expanduser().resolve()
    written = library.export(root, destination, groups)
    human = f"wrote {written} images to {shown(destination)}"
    emit(args, {"output": str(destination), "images": written}, human)
    return EXIT_OK
