"""The fine-tuned tail on the app's 224 crop enlarged inside the network (#10), against the same
recipe at 224: would a second, enlarged pass for the room head be worth its cost?

    .venv/bin/python -m tools.enlarged_tail activations --cache CACHE --size 288 --out DIR   (~20 min)
    .venv/bin/python -m tools.enlarged_tail score --cache CACHE [--activations DIR] [--out FILE.npz]

`activations` enlarges each labelled photo's centre crop, as the app makes it at 224 px, to `--size`
(bilinear, as a graph could do it: no second decode or crop in the app) and stores the frozen
trunk's activation ([192, 9, 9] at 288) of it and of its mirror image, with each row's content
hash. `score` trains the installed tail recipe on the centre and mirror views — of those
activations, or without `--activations` of the cache's own at 224, for the fair comparison (the
installed tail also saw two augmented views, which an enlarged cache does not have) — and
prints the Places365-like estimate of `tools.tail_variants insource` (2 epochs, as installed) and
the nested leave-one-source-out figures that `sorter-train select --tail` reports.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path
from tools.backbone_probe import centre_crops, pool
from tools.tail_variants import held_out_runs, places_like_rooms, report_variant
from training.errors import TrainingError
from training.metrics import accuracy_of_most_sure
from training.pretrained import load_pretrained
from training.selection_data import SelectionData, load_selection_data
from training.tail_finetune import TailConfig
from training.trunk import CUT_BLOCK, Trunk

APP_SIZE = 224
VIEWS = ("centre", "flip")
INSTALLED_EPOCHS = 2


def write_activations(data: SelectionData, size: int, out: Path) -> None:
    """`act_centre.npy` and `act_flip.npy` (float16, one row per cache row, zero for unlabelled
    images) and `rows.json` (the size and every row's content hash)."""
    out.mkdir(parents=True, exist_ok=True)
    trunk = Trunk(load_pretrained("lite0", image_size=size), CUT_BLOCK).eval()
    shape = (len(data), *_activation_shape(trunk, size))
    arrays = {
        view: np.lib.format.open_memmap(out / f"act_{view}.npy", "w+", np.float16, shape) for view in VIEWS
    }
    with torch.inference_mode():
        for batch, x in centre_crops(data, APP_SIZE, f"enlarged to {size}"):
            enlarged = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            arrays["centre"][batch] = trunk(enlarged).numpy()
            arrays["flip"][batch] = trunk(enlarged.flip(3)).numpy()
    for array in arrays.values():
        array.flush()
    meta = {"size": size, "content_hash": [str(h) for h in data.content_hash]}
    with atomic_path(out / "rows.json") as tmp:
        tmp.write_text(json.dumps(meta), encoding="utf-8")


def _activation_shape(trunk: torch.nn.Module, size: int) -> tuple[int, ...]:
    with torch.inference_mode():
        return tuple(trunk(torch.zeros(1, 3, size, size)).shape[1:])


def read_activations(folder: Path, data: SelectionData) -> dict[str, NDArray[np.float16]]:
    meta = json.loads((folder / "rows.json").read_text(encoding="utf-8"))
    if meta["content_hash"] != [str(h) for h in data.content_hash]:
        raise TrainingError(f"{folder} was made from another cache's rows")
    return {view: np.load(folder / f"act_{view}.npy") for view in VIEWS}


def score(data: SelectionData, activations: dict[str, NDArray[np.float16]], name: str) -> dict[str, Any]:
    """Prints the Places365-like estimate and the nested held-out figures; returns what it saw."""
    centre = pool(data, "mean", activations["centre"])  # the untouched tail's embedding of them
    config = TailConfig(views=VIEWS)
    found = places_like_rooms(data, replace(config, epochs=INSTALLED_EPOCHS), activations, centre)
    room = data.labels["room"][found["rows"]]
    for recipe in ("lr", "tail"):
        right = found[recipe].argmax(1) == room
        sure = accuracy_of_most_sure(found[recipe].max(1), right, 0.85)
        line = f"{name} {recipe}: rooms, Places365-like {right.mean() * 100:.1f} / {sure * 100:.1f}"
        print(line, flush=True)
    saved = {f"places_like/{key}": value for key, value in found.items()}
    held: dict[str, NDArray[Any]] = {}
    for source, _, _ in held_out_runs(data, config, activations, centre, held):
        print(f"{name}: held out {source}", flush=True)
    report_variant(data, name, held)
    return {**saved, **held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    a = commands.add_parser("activations")
    a.add_argument("--cache", type=Path, required=True)
    a.add_argument("--size", type=int, default=288)
    a.add_argument("--out", type=Path, required=True)
    s = commands.add_parser("score")
    s.add_argument("--cache", type=Path, required=True)
    s.add_argument("--activations", type=Path, help="from `activations` (default: the cache's own, at 224)")
    s.add_argument("--out", type=Path, help="keep every prediction in this .npz")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_selection_data([args.cache])
    if args.command == "activations":
        write_activations(data, args.size, args.out)
        return
    if args.activations is None:
        activations, name = {view: data.activations(view) for view in VIEWS}, f"{APP_SIZE} (the cache)"
    else:
        activations, name = read_activations(args.activations, data), f"enlarged ({args.activations.name})"
    kept = score(data, activations, name)
    if args.out is not None:
        with atomic_path(args.out) as tmp, tmp.open("wb") as fh:
            np.savez(fh, **kept)


if __name__ == "__main__":
    main()
