"""A folder's grouping and labels as a file: CSV that `sorter-train curate` reads as a labelled
source, or JSON for scripts.

One row per image. Each head gets a label column (the user's correction where there is one, else
the model's confident answer, '' for unknown or not applicable: the column curate trains on), plus
`<head>_predicted` and `<head>_confidence` with the model's own answer, so a curator can see where
the user and the model disagree. Columns come from the model's heads; with the shipped model they
include the path, source, scene, room and kind that curate requires. A model with a `kind` head
(photo / graphic / artwork) fills the kind column with its answer ('' when unsure, which curate
reads as a photo); a model without one can only have indexed photos, so the column says "photo".
`rating` is the user's: 1–5 stars, −1 rejected, 0 none.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SorterError
from .predictions import UNKNOWN, HeadAnswer, Prediction

KIND_HEAD = "kind"
KIND = "photo"  # the kind column for a model without a kind head: it can only have indexed photos


@dataclass(frozen=True)
class FolderExport:
    folder: str
    model_id: str
    exported_at: str  # ISO 8601, UTC
    heads: tuple[str, ...]  # in dependency order, e.g. ("scene", "room")
    images: list[dict[str, Any]]  # one row per image, keys `export_columns(heads)`


def export_columns(heads: Sequence[str]) -> list[str]:
    predicted = [f"{head}_{what}" for head in heads for what in ("predicted", "confidence")]
    labels = [head for head in heads if head != KIND_HEAD]
    return ["path", "source", *labels, KIND_HEAD, "group", "rating", "label_source", *predicted]


def folder_export(
    folder: Path,
    model_id: str,
    heads: Sequence[str],
    predictions: Iterable[Prediction],
    groups: Mapping[str, str],
    ratings: Mapping[str, int] | None = None,
) -> FolderExport:
    """`groups` maps relative path → group name (the grouping the user sees); others get ''.
    `ratings` maps relative path → the user's rating (1–5 stars, −1 rejected); others get 0."""
    source = f"image-sorter:{folder.name}"
    rated = ratings or {}
    images = [
        _row(folder, source, heads, p, groups.get(p.path, ""), rated.get(p.path, 0)) for p in predictions
    ]
    exported_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return FolderExport(str(folder), model_id, exported_at, tuple(heads), images)


def _row(
    folder: Path, source: str, heads: Sequence[str], prediction: Prediction, group: str, rating: int
) -> dict[str, Any]:
    labels = {head: _confident(prediction.answers[head]) for head in heads}
    if prediction.corrected:
        label_source = "corrected"
    elif any(labels.values()):
        label_source = "predicted"
    else:
        label_source = ""
    row: dict[str, Any] = {"path": str(folder / prediction.path), "source": source}
    row |= {head: label for head, label in labels.items() if head != KIND_HEAD}  # export_columns' order
    row |= {KIND_HEAD: labels.get(KIND_HEAD, KIND), "group": group, "rating": rating}
    row["label_source"] = label_source
    for head in heads:
        said = prediction.model_answer(head)
        row[f"{head}_predicted"] = said.label
        row[f"{head}_confidence"] = None if said.confidence is None else round(said.confidence, 4)
    return row


def _confident(answer: HeadAnswer) -> str:
    return "" if answer.label in (None, UNKNOWN) else str(answer.label)


def to_csv(export: FolderExport) -> str:
    """Empty cells for what JSON says with null: curate reads '' as "no label"."""
    out = io.StringIO()
    writer = csv.DictWriter(out, export_columns(export.heads))
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in export.images)
    return out.getvalue()


def to_json(export: FolderExport) -> str:
    data = {
        "folder": export.folder,
        "model_id": export.model_id,
        "exported_at": export.exported_at,
        "images": export.images,
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


_FORMATS: dict[str, Callable[[FolderExport], str]] = {".csv": to_csv, ".json": to_json}


def export_renderer(destination: Path) -> Callable[[FolderExport], str]:
    """The writer the file name asks for; asked before any work, so a wrong name fails at once."""
    try:
        return _FORMATS[destination.suffix.lower()]
    except KeyError:
        names = " or ".join(_FORMATS)
        raise SorterError(f"cannot export to {destination.name}: the name must end in {names}") from None
