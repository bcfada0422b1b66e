"""`sorter-train select`: run the recipes leave-one-source-out and keep everything they predicted.

OUT/selection.json holds, per recipe and head, each held-out source's figures (accuracy answering
everything, balanced accuracy, accuracy on the classes training had); OUT/heldout.npz holds every
out-of-source probability (`<recipe>/<head>/rows|probs`, rows as content hashes), from which
`sorter-train fit` chooses the "unknown" thresholds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sorter_app.core.atomic import atomic_path, atomic_write_text

from .selection import HeldOut, embedding_recipes, run_recipes
from .selection_data import SelectionData, load_selection_data
from .tail_finetune import TailConfig
from .tail_selection import tail_leave_one_source_out

SELECTION_FILE = "selection.json"
HELDOUT_FILE = "heldout.npz"
TAIL = "tail"


def run_selection(
    caches: Sequence[Path],
    out: Path,
    *,
    recipes: Sequence[str] | None,
    heads: tuple[str, ...],
    tails: Sequence[TailConfig] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    started = time.perf_counter()
    data = load_selection_data(caches)
    log(
        f"{len(data)} distinct usable images; sources with labels: "
        + "; ".join(f"{h}: {len(data.sources_with(h))}" for h in heads)
    )
    chosen = [r for r in embedding_recipes() if recipes is None or r.name in recipes]
    record: dict[str, Any] = {
        "caches": [str(c) for c in caches],
        "images": len(data),
        "recipes": {},
        "figures": {},
    }
    results: dict[str, dict[str, HeldOut]] = {}
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every recipe: a long run stopped half-way keeps what it finished
        record["seconds"] = round(time.perf_counter() - started, 1)
        record["figures"] = {
            name: {h: held.folds for h, held in by_head.items()} for name, by_head in results.items()
        }
        save_heldout(out / HELDOUT_FILE, data, results)
        atomic_write_text(out / SELECTION_FILE, json.dumps(record, indent=1) + "\n")

    for recipe in chosen:
        results.update(run_recipes(data, [recipe], heads, log))
        if recipe.name in results:
            record["recipes"][recipe.name] = recipe.description
            save()
    for tail in tails:
        held, tail_record = tail_leave_one_source_out(data, tail, log)
        results[tail.recipe] = held
        record["recipes"][tail.recipe] = tail_description(tail)
        record.setdefault("tails", {})[tail.recipe] = tail_record
        save()
    log(f"wrote {out / SELECTION_FILE} and {out / HELDOUT_FILE} ({record['seconds']:.0f} s)")
    return record


def tail_description(config: TailConfig) -> str:
    views = ", ".join(config.views)
    seen = (
        f"the 224 px crop enlarged to {config.enlarge} px in the network ({views})"
        if config.enlarge
        else views
    )
    return (
        f"copy of the last block + head conv fine-tuned on cached trunk activations of {seen}, heads "
        "warm-started from lr, epochs chosen on the other held-out sources"
    )


def selection_tails(record: dict[str, Any]) -> dict[str, Any]:
    """recipe → the tail's record (config, curves, epochs) in a selection.json, written before
    there could be two (`tail`) or after (`tails`)."""
    return {**({TAIL: record["tail"]} if "tail" in record else {}), **record.get("tails", {})}


def save_heldout(path: Path, data: SelectionData, results: dict[str, dict[str, HeldOut]]) -> None:
    arrays: dict[str, Any] = {}
    for name, by_head in results.items():
        for head, held in by_head.items():
            arrays[f"{name}/{head}/rows"] = data.content_hash[held.rows]
            arrays[f"{name}/{head}/probs"] = held.probs
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)


def load_heldout(path: Path, data: SelectionData, recipe: str) -> dict[str, HeldOut]:
    """The recipe's out-of-source predictions, mapped back onto `data`'s rows by content hash."""
    where = {h: i for i, h in enumerate(data.content_hash.tolist())}
    out = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            name, head, what = key.split("/")
            if name != recipe or what != "rows":
                continue
            hashes = npz[key]
            keep = np.array([h in where for h in hashes.tolist()])
            rows = np.array([where[h] for h in hashes[keep].tolist()], dtype=np.int64)
            out[head] = HeldOut(rows, npz[f"{name}/{head}/probs"][keep])
    return out
