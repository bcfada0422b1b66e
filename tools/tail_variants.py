"""Variants of the fine-tuned tail, scored leave-one-source-out as `sorter-train select --tail` scores
the installed recipe, and an in-source estimate of rooms on Places365-like photos (#10).

    .venv/bin/python -m tools.tail_variants run --cache CACHE --out DIR NAME...   (one .npz per variant)
    .venv/bin/python -m tools.tail_variants report --cache CACHE --out DIR
    .venv/bin/python -m tools.tail_variants insource --cache CACHE --selection SELECT_DIR

`run` trains each variant once per held-out photo source and keeps every epoch's held-out
probabilities, plus those of the tail with its weights averaged over epochs 1–8, 2–8 and 4–8.
`report` gives, per variant, the nested figures (each fold at the epoch count the other folds
choose, as `select` reports them), the weight averages, and each mixed half and half with `lr`
(epoch 0). A variant that changes the cut needs a cache built at that cut (`CUT_BLOCK` in
`training/trunk.py`), and this module run from a checkout with that cut.

`insource` is *not* for choosing anything: it holds out 100 images per room of places365_rooms,
trains `lr` and the installed tail recipe on everything else, and reports accuracy answering
everything, at the shipped room threshold and on the 85 % most sure. It estimates what Places365
validation photos get; on the same rooms #10 measured `lr` at 82 % and 89 %.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar
from training.linear import fit_logistic
from training.metrics import accuracy_of_most_sure
from training.selection_data import HEAD_LABELS, SelectionData, load_selection_data
from training.selection_run import SELECTION_FILE, selection_tails
from training.tail_finetune import (
    TAIL_HEADS,
    TailConfig,
    TailRun,
    TunedHeads,
    predict_tail,
    train_tail,
    tuned_arrays,
    tuned_heads_from,
)
from training.tail_selection import best_epochs, photo_folds

VARIANTS = {
    "installed": TailConfig(),
    "seed1": TailConfig(seed=1),
    "lr3e-4": TailConfig(lr=3e-4),
    "sp1e-3": TailConfig(l2_sp=1e-3),
}
AVERAGED_FROM = (1, 2, 4)


def held_out_runs(
    data: SelectionData,
    config: TailConfig,
    activations: dict[str, NDArray[np.float16]],
    centre: NDArray[np.float32],
    saved: dict[str, NDArray[Any]],
) -> Iterator[tuple[str, NDArray[np.int64], TailRun]]:
    """For each held-out photo source, the tail trained on the others; every epoch's held-out
    probabilities go into `saved` as `<source>/<head>/e<epoch>`, and the rows as `<source>/rows`
    (what `report_variant` reads)."""
    for source, test, train in photo_folds(data):

        def evaluate(
            model: TunedHeads, epoch: int, test: NDArray[np.int64] = test, source: str = source
        ) -> dict[str, Any]:
            for head, probs in predict_tail(model, activations[config.views[0]][test]).items():
                saved[f"{source}/{head}/e{epoch}"] = probs
            return {}

        trained = train_tail(data, train, config, activations, centre, evaluate=evaluate, log=lambda _: None)
        saved[f"{source}/rows"] = test
        yield source, test, trained


def run(data: SelectionData, name: str, out: Path) -> None:
    config = VARIANTS[name]
    activations = {view: data.activations(view) for view in config.views}
    centre = data.embeddings("centre")
    saved: dict[str, NDArray[Any]] = {}
    for source, test, trained in held_out_runs(data, config, activations, centre, saved):
        for start in AVERAGED_FROM:
            states = trained.states[start:]
            average = {k: torch.stack([s[k].float() for s in states]).mean(0) for k in states[-1]}
            for head, probs in predict_tail(
                tuned_heads_from(tuned_arrays(average)), activations["centre"][test]
            ).items():
                saved[f"{source}/{head}/avg{start}"] = probs
        # After every fold (each is tens of minutes), so that an interrupted run keeps what it did.
        with atomic_path(out / f"{name}.npz") as tmp, tmp.open("wb") as fh:
            np.savez(fh, **saved)  # type: ignore[arg-type]
        print(f"{name}: held out {source}, saved", flush=True)


def _accuracy(probs: NDArray[np.float32], y: NDArray[np.int64]) -> float | None:
    has = y >= 0
    return float((probs[has].argmax(1) == y[has]).mean()) if has.any() else None


def _line(label: str, by_source: dict[str, dict[str, float | None]]) -> str:
    cells = []
    for head in TAIL_HEADS:
        values = [(s, v[head]) for s, v in sorted(by_source.items()) if v[head] is not None]
        mean = np.mean([v for _, v in values if v is not None])
        cells.append(
            f"{head}: "
            + " ".join(f"{s[:8]} {v * 100:.1f}" for s, v in values if v is not None)
            + f" | mean {mean * 100:.1f}"
        )
    return f"  {label:14s} " + " || ".join(cells)


def report(data: SelectionData, out: Path) -> None:
    for path in sorted(out.glob("*.npz")):
        with np.load(path) as npz:
            report_variant(data, path.stem, {k: npz[k] for k in npz.files})


Scores = dict[str, dict[str, float | None]]  # held-out source → head → accuracy


def report_variant(data: SelectionData, name: str, arrays: dict[str, NDArray[Any]]) -> None:
    sources = sorted({k.split("/")[0] for k in arrays})
    epochs = sorted({int(k.rsplit("/e", 1)[1]) for k in arrays if "/e" in k})

    def scores(tag: str, plus_lr: bool = False) -> Scores:
        """Accuracy of the probabilities saved as `tag` (+ epoch 0's, i.e. `lr`'s, if asked)."""
        out: Scores = {}
        for s in sources:
            y = {h: data.labels[h][arrays[f"{s}/rows"]] for h in TAIL_HEADS}
            probs = {
                h: arrays[f"{s}/{h}/{tag}"] + (arrays[f"{s}/{h}/e0"] if plus_lr else 0) for h in TAIL_HEADS
            }
            out[s] = {h: _accuracy(probs[h], y[h]) for h in TAIL_HEADS}
        return out

    curves = {e: scores(f"e{e}") for e in epochs}

    by_source = {
        s: [{h: v for h, v in curves[e][s].items() if v is not None} for e in epochs] for s in sources
    }
    nested = {s: epochs[best_epochs(by_source, skip=s)] for s in sources}  # as `select` reports them
    folds = len(list(photo_folds(data)))
    partial = f" (an interrupted run: {len(sources)} of {folds} folds)" if len(sources) < folds else ""
    print(f"{name}: nested epochs {nested}{partial}")
    print(_line("nested", {s: curves[nested[s]][s] for s in sources}))
    print(_line("epoch 0 = lr", curves[0]))
    for start in AVERAGED_FROM:
        if f"{sources[0]}/scene/avg{start}" not in arrays:  # a run that kept no weight averages
            continue
        print(_line(f"avg {start}-{epochs[-1]}", scores(f"avg{start}")))
        print(_line(f"avg {start}+lr", scores(f"avg{start}", plus_lr=True)))


def places_like_split(data: SelectionData) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(test, train): 100 photos per room of places365_rooms (seed 0), and every other labelled photo."""
    rng = np.random.default_rng(0)
    room = data.labels["room"]
    places = np.flatnonzero((data.source == "places365_rooms") & (room >= 0))
    test = np.concatenate(
        [
            rng.choice(places[room[places] == c], size=100, replace=False)
            for c in range(len(HEAD_LABELS["room"]))
        ]
    )
    return test, np.setdiff1d(np.flatnonzero(data.labelled_photos), test)


def places_like_rooms(
    data: SelectionData,
    config: TailConfig,
    activations: dict[str, NDArray[np.float16]],
    centre: NDArray[np.float32],
) -> dict[str, NDArray[Any]]:
    """The Places365-like split's test rows ("rows") and their room probabilities by `lr` on the
    `centre` embedding ("lr") and by the tail recipe `config` on `activations` ("tail"), both
    trained on every other labelled photo."""
    room = data.labels["room"]
    test, train = places_like_split(data)
    fitted = train[room[train] >= 0]
    lr = fit_logistic(centre[fitted], room[fitted], len(HEAD_LABELS["room"]))
    trained = train_tail(data, train, config, activations, centre, log=lambda _: None)
    model = tuned_heads_from(tuned_arrays(trained.states[-1]))
    return {
        "rows": test,
        "lr": lr.probabilities(centre[test]),
        "tail": predict_tail(model, activations[config.views[0]][test])["room"],
    }


def insource(data: SelectionData, epochs: int) -> None:
    shipped = float(load_spec(bundled_model_sidecar()).outputs["room"]["unknown_below"])
    config = replace(VARIANTS["installed"], epochs=epochs)  # as the installed tail was fitted
    activations = {view: data.activations(view) for view in config.views}
    found = places_like_rooms(data, config, activations, data.embeddings("centre"))
    y = data.labels["room"][found["rows"]]
    for name in ("lr", "tail"):
        probs = found[name]
        pred, sure = probs.argmax(1), probs.max(1)
        kept = sure >= shipped
        per = " ".join(
            f"{label} {np.mean(pred[y == c] == c) * 100:.0f}" for c, label in enumerate(HEAD_LABELS["room"])
        )
        print(
            f"{name}: all {np.mean(pred == y) * 100:.1f} %; at {shipped:.3f}: "
            f"coverage {kept.mean() * 100:.1f} %, right {np.mean(pred[kept] == y[kept]) * 100:.1f} %; "
            f"85 % most sure: {accuracy_of_most_sure(sure, pred == y, 0.85) * 100:.1f} % | {per}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "report", "insource"))
    parser.add_argument("names", nargs="*", help=f"for run: any of {', '.join(VARIANTS)}")
    parser.add_argument("--cache", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--selection",
        type=Path,
        help="for insource: the `select --tail` folder whose epoch count the installed tail was fitted with",
    )
    args = parser.parse_intermixed_args()  # names before or after the options
    data = load_selection_data(args.cache)
    if args.command == "insource":
        if args.selection is None:
            parser.error("insource needs --selection (e.g. /work/tmp/model/sel_all)")
        record = json.loads((args.selection / SELECTION_FILE).read_text(encoding="utf-8"))
        insource(data, int(selection_tails(record)["tail"]["epochs"]))
        return
    if args.out is None:
        parser.error("--out is needed")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        unknown = [n for n in args.names if n not in VARIANTS]
        if unknown or not args.names:
            parser.error(f"name one or more variants of {', '.join(VARIANTS)}")
        for name in args.names:
            run(data, name, args.out)
    else:
        report(data, args.out)


if __name__ == "__main__":
    main()
