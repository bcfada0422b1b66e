"""`sorter-train fit`: the recipe that won on held-out sources, fitted on every source, with its thresholds.

Thresholds come from the recipe's out-of-source predictions (`heldout_thresholds.py`), never from
the final model's own training data; the figures written beside the heads are those held-out
figures, side by side with the plain logistic regression's, so the run folder says exactly what
`export-heads` will claim in the sidecar and MODELS.md.

RUN_DIR/heads.npz: `<head>/weight` [classes, 1280] and `<head>/bias` for linear heads on the
embedding, and `tail/<name>` (the fine-tuned tail's state) when the recipe is `tail`.
RUN_DIR/fit.json: recipe, thresholds, held-out figures (per source, pooled, app view), baseline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sorter_app.core.atomic import atomic_path, atomic_write_text

from .errors import TrainingError
from .heldout_thresholds import app_view, choose_thresholds, per_source_at
from .linear import LinearModel
from .selection import HeldOut, Recipe, average_views, embedding_recipes
from .selection_data import HEAD_LABELS, HEADS, SelectionData, load_selection_data
from .selection_run import HELDOUT_FILE, SELECTION_FILE, load_heldout, selection_tails
from .tail_finetune import (
    TAIL_HEADS,
    TailConfig,
    predict_tail,
    start_embedding,
    train_tail,
    tuned_arrays,
    tuned_heads_from,
    tuned_tails,
)

HEADS_FILE = "heads.npz"
FIT_FILE = "fit.json"
BASELINE = "lr"


def merged_selection(selections: Sequence[Path]) -> dict[str, Any]:
    """Several `select` runs (e.g. one per group of recipes) read as one record."""
    merged: dict[str, Any] = {"recipes": {}, "figures": {}, "paths": [str(p) for p in selections]}
    for folder in selections:
        record = json.loads((folder / SELECTION_FILE).read_text(encoding="utf-8"))
        merged["recipes"].update(record["recipes"])
        for name, heads in record["figures"].items():
            merged["figures"].setdefault(name, {}).update(heads)
        merged.setdefault("tails", {}).update(selection_tails(record))
    return merged


def merged_heldout(selections: Sequence[Path], data: SelectionData, recipe: str) -> dict[str, HeldOut]:
    held: dict[str, HeldOut] = {}
    for folder in selections:
        held.update(load_heldout(folder / HELDOUT_FILE, data, recipe))
    return held


def fit_selected(
    selections: Sequence[Path],
    caches: Sequence[Path],
    out: Path,
    *,
    recipe: str,
    room_recipe: str | None = None,
    kind_recipe: str = BASELINE,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit `recipe` for scene, `room_recipe` (default: `recipe`) for room and `kind_recipe` for
    kind on every source; write the run."""
    record = merged_selection(selections)
    data = load_selection_data(caches)
    recipes = {"kind": kind_recipe, "scene": recipe, "room": room_recipe or recipe}
    if kind_recipe in record.get("tails", {}):
        raise TrainingError(f"{kind_recipe} answers scene and room only; kind needs an embedding recipe")
    held = {}
    for head, name in recipes.items():
        found = merged_heldout(selections, data, name)
        if head in found:
            held[head] = found[head]
    baseline = merged_heldout(selections, data, BASELINE)
    missing = [h for h in HEADS if h not in held or h not in baseline]
    if missing:
        raise TrainingError(f"no held-out predictions of {recipe} (or lr) for {', '.join(missing)}")
    thresholds = choose_thresholds(data, held)
    for t in thresholds.values():
        log(
            f"{t.head}: unknown below {t.unknown_below:.3f} → held-out coverage {t.coverage:.3f}, "
            f"accuracy of kept {t.accuracy_of_kept:.3f} (all: {t.accuracy_all:.3f}; target {t.target})"
        )
    base_thresholds = choose_thresholds(data, baseline)
    values = {h: t.unknown_below for h, t in thresholds.items()}
    arrays = _fit_heads(data, recipes, record, log)
    figures = {
        "recipe": recipe,
        "room_recipe": recipes["room"],
        "kind_recipe": kind_recipe,
        "thresholds": {h: t.to_json() for h, t in thresholds.items()},
        "per_source": {h: per_source_at(data, h, held[h], values[h]) for h in HEADS},
        "app_view": app_view(data, with_graphics(data, held, arrays, recipes), values),
        "baseline": {
            "recipe": BASELINE,
            "thresholds": {h: t.to_json() for h, t in base_thresholds.items()},
            "per_source": {
                h: per_source_at(data, h, baseline[h], base_thresholds[h].unknown_below) for h in HEADS
            },
        },
        "selection": {"paths": record["paths"], "recipes": record["recipes"], "figures": record["figures"]},
        "caches": [str(c) for c in caches],
        "images": len(data),
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / HEADS_FILE) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    atomic_write_text(out / FIT_FILE, json.dumps(figures, indent=1) + "\n")
    log(f"wrote {out / HEADS_FILE} and {out / FIT_FILE}")
    return figures


def with_graphics(
    data: SelectionData, held: dict[str, HeldOut], arrays: dict[str, Any], recipes: dict[str, str]
) -> dict[str, HeldOut]:
    """`held`, plus the final scene and room heads' answers on the graphics (which no scene or room
    head is ever trained on): what the app would show for a graphic the kind head calls a photo."""
    graphic = data.labels["kind"] == HEAD_LABELS["kind"].index("graphic")
    out = dict(held)
    # What the app shows: the room of a tail that answers indoor photos only, where there is one.
    tails = {head: (p, t.enlarge) for p, t in sorted(tuned_tails(arrays).items()) for head in t.heads}
    for head in ("scene", "room"):
        rows = np.flatnonzero(graphic & (data.labels[head] < 0))
        if head in tails:
            prefix, size = tails[head]
            view = TailConfig.enlarged(size).views[0] if size else "centre"
            probs = predict_tail(tuned_heads_from(arrays, prefix), data.activations(view, rows))[head]
        else:
            linear = LinearModel(arrays[f"{head}/weight"], arrays[f"{head}/bias"])
            views = embedding_recipe(recipes[head]).logistic.test_views
            probs = average_views(linear, [data.embeddings(v)[rows] for v in views])
        out[head] = HeldOut(
            np.concatenate([held[head].rows, rows]), np.concatenate([held[head].probs, probs])
        )
    return out


def embedding_recipe(name: str) -> Recipe:
    recipes = {r.name: r for r in embedding_recipes()}
    return recipes[name] if name in recipes else recipes[BASELINE]


def _fit_heads(
    data: SelectionData, recipes: dict[str, str], record: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    """Linear heads for the heads whose recipe reads the embedding; a fine-tuned tail for each tail
    recipe chosen (one for scene and room, or one on 224 px views for scene and one on enlarged
    views for room), saved under its prefix with the heads it answers."""
    arrays: dict[str, Any] = {}
    tails = record.get("tails", {})
    for head, name in recipes.items():
        if name in tails:
            continue
        rows = np.flatnonzero(data.labels[head] >= 0)
        log(f"fitting {head} ({name}) on {rows.size} images from {len(data.sources_with(head))} sources")
        model = embedding_recipe(name).fit_model(data, rows, head)
        arrays[f"{head}/weight"], arrays[f"{head}/bias"] = model.weight, model.bias
    configs = {
        name: TailConfig.from_json({**tails[name]["config"], "epochs": int(tails[name]["epochs"])})
        for name in sorted({n for n in recipes.values() if n in tails})
    }
    # Rooms are shown only for what the scene head calls indoor: a room tail on enlarged views
    # then runs only for those photos, and the scene's 224 tail keeps its room head for the rest.
    gated = {
        name
        for name, config in configs.items()
        if config.enlarge and recipes["room"] == name and not configs.get(recipes["scene"], config).enlarge
    }
    for name, config in configs.items():
        answers = tuple(h for h in TAIL_HEADS if recipes[h] == name or (h == "room" and recipes[h] in gated))
        rows = np.flatnonzero(data.labelled_photos)
        activations = {view: data.activations(view) for view in config.views}
        log(f"fitting {name} for {' and '.join(answers)} ({config.epochs} epochs)")
        run = train_tail(data, rows, config, activations, start_embedding(data, config, activations), log=log)
        arrays.update(tuned_arrays(run.states[-1], config.prefix, answers, config.enlarge, name in gated))
    return arrays
