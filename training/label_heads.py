"""Heads for the user's own label sets, trained on the frozen embedder's curated embeddings.

`sorter labels export` writes a manifest with a `set:NAME` column per label set; `curate` carries
those labels into its shards (`label_sets`). Here each set gets its own head — multi-task on one
shared, frozen embedding, so adding a set never changes another set's answers, the bundled heads,
or any stored vector: a plain class-balanced logistic regression, the recipe that generalised best
for the bundled heads (MODELS.md) and the one the app itself trains in seconds (issue #11). The
"unknown" threshold is chosen on the validation split; the figures are the test split's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path, atomic_write_text

from .errors import TrainingError
from .linear import LinearModel, fit_logistic
from .metrics import accuracy_at_k, choose_threshold, classification_report
from .shards import CuratedData

LABEL_HEADS_FILE = "label_heads.npz"
LABEL_REPORT_FILE = "label_heads.json"
# The bundled model's outputs: a label set may not take their names.
RESERVED_NAMES = frozenset({"embedding", "kind", "scene", "setting", "room"})
# Kept answers should be this accurate on the validation split; at most MAX_UNKNOWN of them unknown.
DEFAULT_TARGET = 0.9
MAX_UNKNOWN = 0.15


def has_label_sets(data_dir: Path) -> bool:
    return bool(CuratedData(data_dir, verify=False).label_sets())


def _rows(
    embedding: NDArray[np.float32], labels: NDArray[np.int64], column: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    given = labels[:, column] >= 0
    return embedding[given], labels[given, column]


def set_report(
    probs: NDArray[np.float32], labels: NDArray[np.int64], names: list[str], threshold: float
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, acc@1, acc@3, confusion (rows: truth, columns: predicted)."""
    report = classification_report(probs, labels, names, threshold)
    report["accuracy_at_1"] = report["accuracy"]
    report["accuracy_at_3"] = accuracy_at_k(probs, labels, min(3, len(names)))
    return report


def unknown_threshold(probs: NDArray[np.float32], labels: NDArray[np.int64], target: float) -> float:
    """The lowest confidence at which validation answers reach `target`, but never so high that
    more than MAX_UNKNOWN of them would be "unknown"; 0 (always answer) without validation rows."""
    if labels.size == 0:
        return 0.0
    confidence = probs.max(axis=1)
    choice = choose_threshold(confidence, probs.argmax(axis=1) == labels, target)
    return float(min(choice.threshold if choice.reached else 1.0, np.quantile(confidence, MAX_UNKNOWN)))


def train_label_heads(
    data_dir: Path,
    out: Path,
    *,
    c: float = 1.0,
    target: float = DEFAULT_TARGET,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit one head per label set of the curated data in `data_dir`; write them and their figures
    into the run folder `out`; returns the report written."""
    data = CuratedData(data_dir)
    sets = data.label_sets()
    if not sets:
        raise TrainingError(f"{data_dir} carries no label sets (curate a `sorter labels export` manifest)")
    clash = sorted(RESERVED_NAMES & set(sets))
    if clash:
        raise TrainingError(f"label set name(s) {clash} are the bundled model's outputs; rename the set")
    splits = {
        split: (data.load(split).embedding, data.set_labels(split))
        for split in ("train", "val", "test")
        if data.split_shards(split)
    }
    if "train" not in splits:
        raise TrainingError(f"no train split in {data_dir}")
    arrays: dict[str, Any] = {}  # np.savez keyword arrays
    per_set: dict[str, Any] = {}
    report: dict[str, Any] = {
        "data": str(data_dir.resolve()),
        "manifest_sha256": data.manifest_sha256,
        "embedder": data.manifest.get("embedder"),
        "recipe": {"model": "class-balanced logistic regression", "c": c, "target": target},
        "sets": per_set,
    }
    for column, (name, labels) in enumerate(sets.items()):
        x, y = _rows(*splits["train"], column)
        if len(np.unique(y)) < 2:
            raise TrainingError(f"label set {name!r}: the train split holds fewer than two of its labels")
        model = fit_logistic(x, y, len(labels), c=c)
        held = {s: _rows(*splits[s], column) for s in ("val", "test") if s in splits}
        vx, vy = held.get("val", (x[:0], y[:0]))
        threshold = unknown_threshold(model.probabilities(vx), vy, target)
        figures = {
            s: set_report(model.probabilities(hx), hy, labels, threshold)
            for s, (hx, hy) in held.items()
            if hy.size
        }
        per_set[name] = {
            "labels": labels,
            "unknown_below": threshold,
            "train_count": int(y.size),
            **figures,
        }
        arrays[f"set{column}/weight"], arrays[f"set{column}/bias"] = model.weight, model.bias
        test = figures.get("test")
        if test is not None:
            log(
                f"{name}: {len(labels)} labels, {y.size} train; test {test['count']}: accuracy "
                f"{test['accuracy']:.3f}, balanced {test['balanced_accuracy']:.3f}, "
                f"acc@3 {test['accuracy_at_3']:.3f}; unknown below {threshold:.3f}"
            )
        else:
            log(f"{name}: {len(labels)} labels, {y.size} train; no test images (figures need more labels)")
    out.mkdir(parents=True, exist_ok=True)
    arrays["names"] = np.array(list(sets), dtype=str)
    with atomic_path(out / LABEL_HEADS_FILE) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    atomic_write_text(out / LABEL_REPORT_FILE, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return report


def is_label_run(run_dir: Path) -> bool:
    return (run_dir / LABEL_REPORT_FILE).is_file()


def load_label_heads(run_dir: Path) -> tuple[dict[str, Any], dict[str, LinearModel]]:
    """(the report, one linear head per set name) of a label-set run."""
    try:
        report = json.loads((run_dir / LABEL_REPORT_FILE).read_text(encoding="utf-8"))
        with np.load(run_dir / LABEL_HEADS_FILE, allow_pickle=False) as npz:
            names = [str(n) for n in npz["names"]]
            heads = {
                name: LinearModel(npz[f"set{i}/weight"], npz[f"set{i}/bias"]) for i, name in enumerate(names)
            }
    except (OSError, KeyError, ValueError) as exc:
        raise TrainingError(f"{run_dir} is not a complete label-set run: {exc}") from exc
    return report, heads


def render_label_report(report: dict[str, Any]) -> str:
    """The per-set figures as text: what `sorter-train evaluate` prints for a label-set run."""
    lines = []
    for name, figures in report["sets"].items():
        labels, threshold = ", ".join(figures["labels"]), figures["unknown_below"]
        lines.append(f"label set {name}: {labels} (unknown below {threshold:.3f})")
        for split in ("val", "test"):
            f = figures.get(split)
            if not f or not f["count"]:
                continue
            lines.append(
                f"  {split} ({f['count']}): accuracy {f['accuracy']:.3f}  "
                f"balanced {f['balanced_accuracy']:.3f}  acc@1 {f['accuracy_at_1']:.3f}  "
                f"acc@3 {f['accuracy_at_3']:.3f}  "
                f"answered {f['coverage']:.3f} at {f['accuracy_of_kept']:.3f}"
            )
        if figures.get("test", {}).get("count"):
            lines.append("  test confusion (rows: truth, columns: predicted):")
            width = max(len(label) for label in figures["labels"])
            for label, row in zip(figures["labels"], figures["test"]["confusion"], strict=True):
                lines.append(f"    {label:<{width}}  " + " ".join(f"{v:5d}" for v in row))
    return "\n".join(lines) + "\n"
