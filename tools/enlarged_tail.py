"""The fine-tuned tail on the app's 224 crop enlarged inside the network (#10), against the same
recipe at 224, with the Places365-like estimate `sorter-train select` cannot give.

    sorter-train features --manifest … --out CACHE --enlarge 288        (the enlarged views, ~4 min)
    .venv/bin/python -m tools.enlarged_tail score --cache CACHE [--enlarge 288] [--selection DIR]
                                                  [--out FILE.npz]

`score` trains the installed tail recipe on the centre and mirror views — enlarged to `--enlarge`
(the cache's `up288_centre` and `up288_flip`, training/enlarged_views.py), or without it at 224,
for the fair comparison (the installed 224 tail also saw two augmented views, which the enlarged
views do not have) — and prints the Places365-like estimate of `tools.tail_variants insource`
(for the epoch count `select` chose for that recipe in `--selection`, else 2) and the nested
leave-one-source-out figures that `sorter-train select --tail-enlarge` reports.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar
from tools.tail_variants import held_out_runs, places_like_rooms, report_variant
from training.metrics import accuracy_of_most_sure
from training.selection_data import SelectionData, load_selection_data
from training.selection_run import SELECTION_FILE, selection_tails
from training.tail_finetune import TailConfig, start_embedding

DEFAULT_EPOCHS = 2  # what `select --tail` chose for the 224 tail


def score(data: SelectionData, config: TailConfig, name: str, epochs: int) -> dict[str, Any]:
    """Prints the Places365-like estimate and the nested held-out figures; returns what it saw."""
    activations = {view: data.activations(view) for view in config.views}
    centre = start_embedding(data, config, activations)  # what the heads' regressions start from
    found = places_like_rooms(data, replace(config, epochs=epochs), activations, centre)
    room = data.labels["room"][found["rows"]]
    shipped = load_spec(bundled_model_sidecar()).outputs["room"]["unknown_below"]
    for recipe in ("lr", "tail"):
        right = found[recipe].argmax(1) == room
        sure = accuracy_of_most_sure(found[recipe].max(1), right, 0.85)
        kept = found[recipe].max(1) >= shipped
        print(
            f"{name} {recipe}: rooms, Places365-like {right.mean() * 100:.1f} / {sure * 100:.1f}; at the "
            f"installed room threshold ({shipped:.3f}) {kept.mean() * 100:.1f} % answered, "
            f"{right[kept].mean() * 100:.1f} % right",
            flush=True,
        )
    saved = {f"places_like/{key}": value for key, value in found.items()}
    held: dict[str, NDArray[Any]] = {}
    for source, _, _ in held_out_runs(data, config, activations, centre, held):
        print(f"{name}: held out {source}", flush=True)
    report_variant(data, name, held)
    return {**saved, **held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("score")
    s.add_argument("--cache", type=Path, required=True)
    s.add_argument("--enlarge", type=int, help="the views enlarged to this size (default: the cache's 224)")
    s.add_argument(
        "--selection", type=Path, help="a `select` folder that scored this recipe: its epoch count"
    )
    s.add_argument("--out", type=Path, help="keep every prediction in this .npz")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_selection_data([args.cache])
    if args.enlarge:
        config, name = TailConfig.enlarged(args.enlarge), f"enlarged to {args.enlarge}"
    else:
        config, name = TailConfig(views=("centre", "flip")), "224 (the cache)"
    epochs = DEFAULT_EPOCHS
    if args.selection is not None:
        record = json.loads((args.selection / SELECTION_FILE).read_text(encoding="utf-8"))
        epochs = int(selection_tails(record)[config.recipe]["epochs"])
    kept = score(data, config, name, epochs)
    if args.out is not None:
        with atomic_path(args.out) as tmp, tmp.open("wb") as fh:
            np.savez(fh, **kept)


if __name__ == "__main__":
    main()
