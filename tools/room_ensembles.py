"""Cheap room ensembles, measured (#10): would averaging what the installed graph already has, or a
little more, lift rooms held out? Not used to choose anything unless it does.

    .venv/bin/python -m tools.room_ensembles run --cache CACHE --out ens.npz   (~20 min beside other work)
    .venv/bin/python -m tools.room_ensembles report --cache CACHE --out ens.npz

CACHE is a feature cache with the centre and mirror views and their enlargement to 288
(`sorter-train features --views centre,flip`, then the same with `--enlarge 288`). `run` trains,
with the installed tail recipe at the installed 2 epochs, the room tail on the enlarged views
(seeds 0 and 1) and on the 224 views (the latter on centre and mirror only: a proxy for the
installed 224 tail, which also saw two augmented views; its room figures are the same), once per
held-out room source and once on the Places365-like split (`tools.tail_variants`), and keeps each
one's room probabilities on the held-out centre and mirror views. `report` prints accuracy
answering everything / on the 85 % most sure, per held-out source, for each average:
the 224 tail's answer (free: the graph computes it), a second seed (a second tail), the mirror
image (a second trunk pass at 288).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path
from tools.tail_variants import places_like_split
from training.metrics import accuracy_of_most_sure
from training.selection_data import SelectionData, load_selection_data
from training.tail_finetune import (
    TailConfig,
    predict_tail,
    start_embedding,
    train_tail,
    tuned_arrays,
    tuned_heads_from,
)
from training.tail_selection import photo_folds

EPOCHS = 2  # what `select` chose for both room tails
CONFIGS = {
    "t288": TailConfig.enlarged(288, epochs=EPOCHS),
    "t288s1": TailConfig.enlarged(288, epochs=EPOCHS, seed=1),
    "t224": TailConfig(views=("centre", "flip"), epochs=EPOCHS),
}
COMBOS = {
    "tail on 288 (the installed recipe)": ["t288/centre"],
    "+ the 224 tail (free)": ["t288/centre", "t224/centre"],
    "+ a second seed": ["t288/centre", "t288s1/centre"],
    "+ the mirror image": ["t288/centre", "t288/flip"],
    "+ second seed + 224 tail": ["t288/centre", "t288s1/centre", "t224/centre"],
    "288 and 224, each with its mirror": ["t288/centre", "t288/flip", "t224/centre", "t224/flip"],
    "tail on 224 alone": ["t224/centre"],
}
PLACES_LIKE = "places_like"


def room_folds(data: SelectionData) -> list[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
    """(held-out source, test rows, train rows) for each photo source with room labels, then the
    Places365-like split."""
    room = data.labels["room"]
    folds = [(s, test, train) for s, test, train in photo_folds(data) if (room[test] >= 0).any()]
    return [*folds, (PLACES_LIKE, *places_like_split(data))]


def room_answers(
    data: SelectionData,
    config: TailConfig,
    activations: dict[str, NDArray[np.float16]],
    centre: NDArray[np.float32],
    train: NDArray[np.int64],
    rows: NDArray[np.int64],
    views: tuple[str, ...] | None = None,
) -> dict[str, NDArray[np.float32]]:
    """The room tail `config` trained on `train` (its `epochs`), and its room probabilities for
    `rows` on each of `views` (default: the config's), by view name ("centre", "flip")."""
    trained = train_tail(data, train, config, activations, centre, log=lambda _: None)
    model = tuned_heads_from(tuned_arrays(trained.states[-1]))
    return {
        view.rpartition("_")[2]: predict_tail(model, activations[view][rows])["room"]
        for view in views or config.views
    }


def save(out: Path, saved: dict[str, NDArray[Any]]) -> None:
    """All answers so far, replacing the file whole: a run interrupted after a fold keeps them."""
    with atomic_path(out) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **saved)  # type: ignore[arg-type]


def run(data: SelectionData, out: Path) -> None:
    room = data.labels["room"]
    saved: dict[str, NDArray[Any]] = {}
    for name, config in CONFIGS.items():
        activations = {view: data.activations(view) for view in config.views}
        centre = start_embedding(data, config, activations)
        for source, test, train in room_folds(data):
            rows = test[room[test] >= 0]
            saved[f"{source}/rows"] = rows
            for view, probs in room_answers(data, config, activations, centre, train, rows).items():
                saved[f"{source}/{name}/{view}"] = probs
            save(out, saved)
            print(f"{name}: {source} done", flush=True)


def report(data: SelectionData, out: Path) -> None:
    with np.load(out) as npz:
        saved = {key: npz[key] for key in npz.files}
    room = data.labels["room"]
    sources = [s for s, _, _ in room_folds(data)]
    print(
        f"{'rooms: all / 85 % most sure':36s} " + " ".join(f"{s:>16s}" for s in sources) + "   held-out mean"
    )
    for name, keys in COMBOS.items():
        cells, held = [], []
        for source in sources:
            probs = np.mean([saved[f"{source}/{key}"] for key in keys], axis=0)
            right = probs.argmax(1) == room[saved[f"{source}/rows"]]
            scores = (float(right.mean()), accuracy_of_most_sure(probs.max(1), right, 0.85))
            cells.append(f"{scores[0] * 100:5.1f} / {scores[1] * 100:5.1f}")
            if source != PLACES_LIKE:
                held.append(scores)
        mean = np.mean(held, axis=0) * 100
        print(f"{name:36s} " + " ".join(f"{c:>16s}" for c in cells) + f"   {mean[0]:.1f} / {mean[1]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "report"))
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_selection_data([args.cache])
    (run if args.command == "run" else report)(data, args.out)


if __name__ == "__main__":
    main()
