"""The fine-tuned tail, scored leave-one-source-out, with its epoch count chosen on other sources.

For each photo source S the tail is trained without S and scored on all of S after every epoch.
The number of epochs that ships is the one with the best mean held-out score over all folds
(`best_epochs`); the figure reported for S uses the epoch count that the *other* folds would have
chosen (`nested_epochs`), so that no source's score is picked with that source's own answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .selection import HeldOut, fold_figures
from .selection_data import HEAD_LABELS, SelectionData
from .tail_finetune import TAIL_HEADS, TailConfig, TunedHeads, predict_tail, start_embedding, train_tail


def _score(curves: dict[str, list[dict[str, float]]], epoch: int, skip: str | None = None) -> float:
    """Mean held-out accuracy over every (fold, head) pair at `epoch`."""
    values = [
        accuracy for source, curve in curves.items() if source != skip for accuracy in curve[epoch].values()
    ]
    return float(np.mean(values)) if values else float("nan")


def best_epochs(curves: dict[str, list[dict[str, float]]], skip: str | None = None) -> int:
    epochs = len(next(iter(curves.values())))
    return int(np.argmax([_score(curves, e, skip) for e in range(epochs)]))


def photo_folds(data: SelectionData) -> Iterator[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
    """(held-out source, its labelled photos, every other source's) for each photo source, in name
    order: the folds every tail variant is trained and scored on."""
    photo = data.labelled_photos
    for source in sorted(set(data.source[photo].tolist())):
        yield (
            source,
            np.flatnonzero(photo & (data.source == source)),
            np.flatnonzero(photo & (data.source != source)),
        )


def tail_leave_one_source_out(
    data: SelectionData,
    config: TailConfig,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, HeldOut], dict[str, Any]]:
    """Held-out predictions per head (at each fold's nested epoch count) and the selection record."""
    activations = {view: data.activations(view) for view in config.views}
    centre = start_embedding(data, config, activations)
    scored = config.views[0]  # the centre view, at the size this tail reads
    curves: dict[str, list[dict[str, float]]] = {}
    probs_by_epoch: dict[str, list[dict[str, NDArray[np.float32]]]] = {}
    folds: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] = {}  # source → (test, train)
    for source, test, train in photo_folds(data):
        folds[source] = test, train
        probs_by_epoch[source] = []

        def evaluate(
            model: TunedHeads, epoch: int, test: NDArray[np.int64] = test, source: str = source
        ) -> dict[str, Any]:
            probs = predict_tail(model, activations[scored][test])
            probs_by_epoch[source].append(probs)
            scores = {}
            for head in TAIL_HEADS:
                y = data.labels[head][test]
                has = y >= 0
                if has.any():
                    scores[head] = float((probs[head][has].argmax(1) == y[has]).mean())
            return {"held_out": source, **scores}

        log(f"tail: holding out {source} ({test.size} images), training on {train.size}")
        run = train_tail(data, train, config, activations, centre, evaluate=evaluate, log=log)
        curves[source] = [{h: e[h] for h in TAIL_HEADS if h in e} for e in run.history]
    chosen = best_epochs(curves)
    held: dict[str, HeldOut] = {}
    record: dict[str, Any] = {
        "config": config.to_json(),
        "curves": curves,
        "epochs": chosen,
        "nested_epochs": {},
    }
    for head in TAIL_HEADS:
        rows, probs, figures = [], [], {}
        for source, (test, train) in folds.items():
            nested = best_epochs(curves, skip=source)
            record["nested_epochs"][source] = nested
            y = data.labels[head][test]
            has = y >= 0
            if not has.any():
                continue
            p = probs_by_epoch[source][nested][head][has]
            rows.append(test[has])
            probs.append(p)
            trained = np.unique(data.labels[head][train])
            trained = trained[trained >= 0]
            figures[source] = {**fold_figures(p, y[has], trained, len(HEAD_LABELS[head])), "epochs": nested}
        held[head] = HeldOut(np.concatenate(rows), np.concatenate(probs), figures)
    return held, record
