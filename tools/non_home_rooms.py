"""Rooms that are not a home's, measured, not installed (#10; stop 32's newcomer saw lecture halls
captioned "entrance hall 96 %"). Would a seventh room class, "not a home room", keep offices,
shops, classrooms and halls out of the six home rooms, and at what cost to the rooms?

    .venv/bin/python -m tools.non_home_rooms run --cache CACHE --out other.npz   (~12 min)
    .venv/bin/python -m tools.non_home_rooms report --cache CACHE --out other.npz --ensembles ens.npz
    .venv/bin/python -m tools.non_home_rooms gate --cache CACHE --ensembles ens.npz --setting-run RUN \
        --setting-cache SETTING_CACHE

CACHE is `tools.room_ensembles`' (centre and mirror views, and their enlargement to 288), and
ens.npz its `run`'s output, which holds the installed six-class recipe's held-out room answers.

`run` trains the installed room recipe (the tail on the 288 enlargement, 2 epochs) with a seventh
class: every indoor photo without a room label (miniplaces' 35 indoor categories, sun8's
auditoriums), once per held-out room source and on the Places365-like split (as
`tools.room_ensembles`), and once with half of miniplaces' indoor categories held out, as kinds of
rooms it has never seen; and the six-class recipe on that last split, for comparison. `report`
gives the six rooms' accuracy (answering everything / on the 85 % most sure) as the app would
see them: the six probabilities renormalised, an answer whose "not a home room" probability is at
least g shown as unknown; and the share of the unseen kinds of rooms given a home room.

`gate` measures what was installed instead (stop 35): the six-class answers left alone, withheld
where the setting head (training/setting_head.py, refitted without each fold's held-out photos,
at the gate the `sorter-train setting` run RUN chose) says "not_a_home".
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from tools.room_ensembles import PLACES_LIKE, room_answers, room_folds, save
from training.heldout_thresholds import MIN_COVERAGE
from training.label_heads import LABEL_REPORT_FILE
from training.labels import SCENES
from training.metrics import accuracy_of_most_sure
from training.selection_data import HEAD_LABELS, SelectionData, load_selection_data
from training.setting_head import ELSEWHERE, HEAD, VIEW, fit_setting, setting_labels, with_gate
from training.tail_finetune import TailConfig, start_embedding

CONFIG = TailConfig.enlarged(288, epochs=2)  # the installed room recipe
UNSEEN = "miniplaces_unseen"  # half of miniplaces' indoor categories, held out
GATES = (0.5, 0.7)


def unseen_split(data: SelectionData) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(test, train): miniplaces' indoor photos of every second category by name, and every other
    labelled photo."""
    category = np.array([p.split("/")[2] if p.startswith("miniplaces/indoor/") else "" for p in data.path])
    held = np.isin(category, sorted(set(category[category != ""].tolist()))[1::2])
    return np.flatnonzero(held), np.flatnonzero(data.labelled_photos & ~held)


@contextmanager
def seventh_room(data: SelectionData) -> Iterator[None]:
    """Within: the room labels have a seventh class for indoor photos without a room label."""
    rooms, labels = HEAD_LABELS["room"], data.labels["room"]
    other = (data.labels["scene"] == SCENES.index("indoor")) & (labels < 0)
    HEAD_LABELS["room"] = (*rooms, "not_a_home_room")
    data.labels["room"] = np.where(other, len(rooms), labels)
    try:
        yield
    finally:
        HEAD_LABELS["room"], data.labels["room"] = rooms, labels


def run(data: SelectionData, out: Path) -> None:
    room = data.labels["room"]
    act = {view: data.activations(view) for view in CONFIG.views}
    centre = start_embedding(data, CONFIG, act)  # of every labelled photo: a seventh class adds none
    first = CONFIG.views[:1]  # the centre crop the app answers

    def answers(train: NDArray[np.int64], rows: NDArray[np.int64]) -> NDArray[np.float32]:
        return room_answers(data, CONFIG, act, centre, train, rows, first)["centre"]

    unseen, unseen_train = unseen_split(data)
    saved: dict[str, NDArray[Any]] = {
        f"{UNSEEN}/rows": unseen,
        f"{UNSEEN}/six": answers(unseen_train, unseen),
    }
    folds = [*room_folds(data), (UNSEEN, unseen, unseen_train)]
    with seventh_room(data):
        for source, test, train in folds:
            rows = test if source == UNSEEN else test[room[test] >= 0]
            saved[f"{source}/rows"] = rows
            saved[f"{source}/seven"] = answers(train, rows)
            save(out, saved)
            print(f"{source} done", flush=True)


def shown(seven: NDArray[np.float32], gate: float) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(the six rooms' probabilities renormalised, the confidence the app would judge: scaled by
    the home probability where "not a home room" reaches `gate`, so that it falls below any
    threshold a room answer needs)."""
    six = seven[:, :-1] / seven[:, :-1].sum(axis=1, keepdims=True)
    other = seven[:, -1]
    return six, np.where(other >= gate, six.max(axis=1) * (1 - other), six.max(axis=1))


def report(data: SelectionData, out: Path, ensembles: Path) -> None:
    with np.load(out) as npz, np.load(ensembles) as ens:
        saved = {key: npz[key] for key in npz.files}
        installed = {key: ens[key] for key in ens.files if key.endswith(("/rows", "/t288/centre"))}
    room = data.labels["room"]
    sources = [s for s, _, _ in room_folds(data)]
    print(f"{'rooms: all / 85 % most sure':34s} " + " ".join(f"{s:>16s}" for s in sources))
    rows: dict[str, list[tuple[NDArray[np.float32], NDArray[np.float32]]]] = {"six classes (installed)": []}
    for source in sources:
        assert np.array_equal(installed[f"{source}/rows"], saved[f"{source}/rows"])
        six = installed[f"{source}/t288/centre"]
        rows["six classes (installed)"].append((six, six.max(axis=1)))
        for gate in GATES:
            rows.setdefault(f"seven, unknown at not-a-home ≥ {gate}", []).append(
                shown(saved[f"{source}/seven"], gate)
            )
    cut: dict[str, float] = {}
    for name, answers in rows.items():
        cells = []
        for source, (probs, confidence) in zip(sources, answers, strict=True):
            right = probs.argmax(axis=1) == room[saved[f"{source}/rows"]]
            most_sure = accuracy_of_most_sure(confidence, right, MIN_COVERAGE)
            cells.append(f"{right.mean() * 100:5.1f} / {most_sure * 100:5.1f}")
        # the threshold `select`'s rule would reach at best: every held-out room source keeps 85 %
        cut[name] = min(
            float(np.quantile(c, 1 - MIN_COVERAGE))
            for s, (_, c) in zip(sources, answers, strict=True)
            if s != PLACES_LIKE
        )
        print(f"{name:34s} " + " ".join(f"{c:>16s}" for c in cells))
    unseen = {"six classes (installed)": saved[f"{UNSEEN}/six"].max(axis=1)}
    for gate in GATES:
        unseen[f"seven, unknown at not-a-home ≥ {gate}"] = shown(saved[f"{UNSEEN}/seven"], gate)[1]
    print(
        f"\nminiplaces' unseen indoor categories ({len(saved[f'{UNSEEN}/rows'])} photos) given a home room:"
    )
    for name, confidence in unseen.items():
        print(f"  {name:34s} {(confidence >= cut[name]).mean() * 100:5.1f} % (threshold {cut[name]:.3f})")


def gate(data: SelectionData, ensembles: Path, setting_run: Path, setting_cache: Path) -> None:
    """The installed six-class room answers (ens.npz) with the setting head's gate, as installed
    (training/setting_head.py: its recipe and gate rule, refitted without each fold's held-out
    rows): accuracy answering everything, on the 85 % most sure, and the photos gated. The head's
    views come from `setting_cache`, a cache of the same manifest (its rows line up with CACHE's)."""
    views = load_selection_data([setting_cache])
    if not np.array_equal(views.content_hash, data.content_hash):
        raise SystemExit(f"{setting_cache} does not hold the same photos in the same order as the cache")
    room = data.labels["room"]
    labels = setting_labels(data)
    chosen = json.loads((setting_run / LABEL_REPORT_FILE).read_text())["sets"][HEAD]["gate"]
    embedding = views.embeddings(VIEW)
    with np.load(ensembles) as ens:
        installed = {key: ens[key] for key in ens.files if key.endswith(("/rows", "/t288/centre"))}
    print(f"{'room answer':34s} " + " ".join(f"{s:>26s}" for s, _, _ in room_folds(data)))
    plain, gated = [], []
    for source, _, train in room_folds(data):
        rows, six = installed[f"{source}/rows"], installed[f"{source}/t288/centre"]
        right = six.argmax(axis=1) == room[rows]
        fit = train[labels[train] >= 0]
        head = with_gate(fit_setting(views, labels, fit), chosen)
        withheld = head.probabilities(embedding[rows])[:, ELSEWHERE] >= 0.5
        confidence = np.where(withheld, 0.0, six.max(axis=1))  # withheld: first among the unknown
        most_sure = accuracy_of_most_sure(six.max(axis=1), right, MIN_COVERAGE)
        plain.append(f"{right.mean() * 100:5.1f} / {most_sure * 100:5.1f}")
        gated.append(
            f"{accuracy_of_most_sure(confidence, right, MIN_COVERAGE) * 100:5.1f}, "
            f"{withheld.sum()} of {rows.size} withheld"
        )
    print(f"{'six classes (installed)':34s} " + " ".join(f"{c:>26s}" for c in plain))
    print(f"{'with the setting gate (85 % most sure)':34s} " + " ".join(f"{c:>26s}" for c in gated))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "report", "gate"))
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="run's output (run, report)")
    parser.add_argument("--ensembles", type=Path, help="tools.room_ensembles' output (report, gate)")
    parser.add_argument("--setting-run", type=Path, help="a `sorter-train setting` run: its gate (gate)")
    parser.add_argument("--setting-cache", type=Path, help="the setting run's cache (gate)")
    args = parser.parse_args()
    needed = {
        "run": ("out",),
        "report": ("out", "ensembles"),
        "gate": ("ensembles", "setting_run", "setting_cache"),
    }
    missing = [f"--{name.replace('_', '-')}" for name in needed[args.command] if getattr(args, name) is None]
    if missing:
        parser.error(f"{args.command} needs {', '.join(missing)}")
    torch.set_num_threads(2)
    data = load_selection_data([args.cache])
    if args.command == "run":
        run(data, args.out)
    elif args.command == "gate":
        gate(data, args.ensembles, args.setting_run, args.setting_cache)
    else:
        report(data, args.out, args.ensembles)


if __name__ == "__main__":
    main()
