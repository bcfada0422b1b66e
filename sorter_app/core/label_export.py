"""The label sets of a folder as a file: a CSV manifest (one column per set, beside the model's
scene and room when it makes them) or JSON for scripts.

Per set NAME four columns: `set:NAME` — the user's label, else the model's confident one, '' when
unknown (the column a trainer learns from); `set:NAME:source` — "labelled", "predicted" or '';
`set:NAME:predicted` and `set:NAME:confidence` — the model's best guess, even where unsure, so a
curator sees where the model and the user part. With a model that predicts scenes the rows start
with export.py's columns (path, source, scene, room, kind, …), so the file stays a manifest
`sorter-train curate` reads; otherwise with path, source and kind.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .export import KIND, export_renderer, folder_export
from .label_model import TooFewLabelsError
from .labelling import Answer, Labelling
from .predictions import UNKNOWN, Prediction, folder_predictions, prediction_heads


def set_columns(name: str) -> list[str]:
    return [f"set:{name}", f"set:{name}:source", f"set:{name}:predicted", f"set:{name}:confidence"]


def label_rows(
    root: Path,
    model_id: str,
    heads: Sequence[str],
    predictions: Sequence[Prediction],
    answers: Mapping[str, Mapping[str, Answer]],
) -> list[dict[str, Any]]:
    """One row per image of `predictions` (relpaths under `root`); `answers` maps a set's name to
    {relpath: Answer}. Without `heads` (a model that only embeds) the rows carry no scene columns."""
    if heads:
        rows = folder_export(root, model_id, heads, predictions, {}).images
    else:
        source = f"image-sorter:{root.name}"
        rows = [{"path": str(root / p.path), "source": source, "kind": KIND} for p in predictions]
    for row, prediction in zip(rows, predictions, strict=True):
        for name, by_path in answers.items():
            answer = by_path[prediction.path]
            source = "labelled" if answer.labelled else "" if answer.label == UNKNOWN else "predicted"
            values = ["" if answer.label == UNKNOWN else answer.label, source, answer.guess]
            row.update(zip(set_columns(name), [*values, round(answer.confidence, 4)], strict=True))
    return rows


def render(destination: Path, folder: Path, model_id: str, rows: list[dict[str, Any]]) -> str:
    """CSV or JSON by the destination's extension."""
    if destination.suffix.lower() == ".csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, list(rows[0]) if rows else ["path", "source", "kind"])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return out.getvalue()
    exported_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = {"folder": str(folder), "model_id": model_id, "exported_at": exported_at, "images": rows}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def export_labels(
    labelling: Labelling, folder: Path, destination: Path, set_names: Sequence[str] = ()
) -> int:
    """Write every usable image under `folder` with its answer in each set (all sets when none are
    named); returns the rows written. A set that cannot be trained yet still exports its labels."""
    export_renderer(destination)  # a wrong file name fails before any work
    library = labelling.library
    scope = labelling.scope(folder)
    usable = labelling.usable(scope)
    heads = list(prediction_heads(library.spec)) if library.spec.probability_heads else []
    if heads:
        predictions = folder_predictions(library.catalog, library.spec, usable)
    else:
        predictions = sorted(
            (Prediction(p, {}) for paths in usable.values() for p in paths), key=lambda p: p.path
        )
    names = [labelling.store.get(n).name for n in set_names] or [s.name for s in labelling.store.sets()]
    answers = {name: {a.path: a for a in _answers(labelling, folder, name, usable)} for name in names}
    rows = label_rows(scope.root, library.spec.model_id, heads, predictions, answers)
    atomic_write_text(destination, render(destination, scope.folder, library.spec.model_id, rows))
    return len(rows)


def _answers(labelling: Labelling, folder: Path, name: str, usable: Mapping[str, list[str]]) -> list[Answer]:
    try:
        return labelling.answers(folder, name)
    except TooFewLabelsError:  # nothing to train on yet: the user's labels alone
        labels = labelling.store.image_labels(labelling.store.get(name), list(usable))
        return [
            Answer(p, labels[h], 1.0, True, labels[h]) if h in labels else Answer(p, UNKNOWN, 0.0, False, "")
            for h, paths in usable.items()
            for p in paths
        ]
