"""`sorter index`, `similar`, `status`: building the index and searching it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..core.indexer import IndexReport
from ..core.library import Library
from ..core.predictions import Prediction
from .output import (
    EXIT_CANCELLED,
    EXIT_OK,
    Command,
    ctrl_c_cancels,
    emit,
    folder_of,
    progress_printer,
    shown,
)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> dict[str, Command]:
    commands.add_parser("index", parents=[common], help="index (or update) a folder of images").add_argument(
        "folder", type=Path
    )
    similar = commands.add_parser("similar", parents=[common], help="the images most like one image")
    similar.add_argument("folder", type=Path)
    similar.add_argument("image", type=Path)
    similar.add_argument("-k", type=int, default=24, help="how many neighbours (default 24)")
    commands.add_parser("status", parents=[common], help="what is indexed, with which model").add_argument(
        "folder", type=Path
    )
    commands.add_parser(
        "predict",
        parents=[common],
        help="what each image is (photo or graphic), indoor/outdoor, home or not, and room type "
        "('unknown' when unsure)",
    ).add_argument("folder", type=Path)
    return {"index": _index, "similar": _similar, "status": _status, "predict": _predict}


def _predict(library: Library, args: argparse.Namespace) -> int:
    root = folder_of(args)
    predictions = library.predictions(root)
    data = [{**p.to_json(), "path": str(root / p.path)} for p in predictions]
    emit(args, data, "\n".join(_prediction_line(root, p) for p in predictions))
    return EXIT_OK


def _prediction_line(root: Path, prediction: Prediction) -> str:
    """`kitchen.jpg  indoor 0.97  kitchen 0.88`; heads that do not apply are left out."""
    said = [
        f"{answer.label} {answer.confidence:.2f}"
        for answer in prediction.answers.values()
        if answer.label is not None and answer.confidence is not None
    ]
    return "  ".join([shown(root / prediction.path), *said])


def _index(library: Library, args: argparse.Namespace) -> int:
    with ctrl_c_cancels() as cancelled:
        report = library.index(args.folder, progress=progress_printer("indexing"), cancelled=cancelled)
    emit(args, index_json(report), _index_text(report))
    return EXIT_CANCELLED if report.cancelled else EXIT_OK


def index_json(report: IndexReport) -> dict[str, Any]:
    root = Path(report.folder)
    return {
        "folder": report.folder,
        "indexed": report.indexed,
        "reused": report.reused,
        "predicted": report.predicted,
        "removed": report.removed,
        "skipped": [{"path": str(root / p.relpath), "reason": p.reason} for p in report.skipped],
        "seconds": round(report.seconds, 3),
        "images_per_second": round(report.images_per_second, 2),
        "cancelled": report.cancelled,
    }


def _index_text(report: IndexReport) -> str:
    lines = [
        f"{shown(report.folder)}: {report.indexed} indexed, {report.reused} reused, "
        f"{report.removed} removed, {len(report.skipped)} skipped in {report.seconds:.1f} s "
        f"({report.images_per_second:.1f} images/s)"
    ]
    if report.predicted:
        lines.append(f"  {report.predicted} predicted by this model from their stored vectors")
    if report.cancelled:
        lines.append("cancelled: what was finished is kept; run again to continue")
    lines += [f"  skipped {shown(p.relpath)}: {shown(p.reason)}" for p in report.skipped]
    return "\n".join(lines)


def _similar(library: Library, args: argparse.Namespace) -> int:
    root = folder_of(args)
    neighbours = library.similar(root, args.image, args.k)
    data = [{"path": str(root / n.relpath), "similarity": round(n.similarity, 4)} for n in neighbours]
    emit(args, data, "\n".join(f"{n.similarity:.3f}  {shown(root / n.relpath)}" for n in neighbours))
    return EXIT_OK


def _status(library: Library, args: argparse.Namespace) -> int:
    status = library.status(args.folder)
    when = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(status.indexed_at)) if status.indexed_at else "never"
    )
    human = (
        f"{shown(status.folder)}\n"
        f"  model {status.model_id} (last indexed {when} with {status.indexed_with})\n"
        f"  {status.files} files: {status.usable} usable ({status.distinct} distinct), "
        f"{status.errors} skipped\n"
        f"  search: {status.search}" + (f" ({status.annoy_items} items)" if status.annoy_items else "")
    )
    emit(args, dict(status.__dict__), human)
    return EXIT_OK
