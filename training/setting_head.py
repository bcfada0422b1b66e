"""The setting head: is an indoor photo a home's, or somewhere else (an office, a shop, a hall)?

The room head knows six home rooms, so it gives one to every indoor photo: stop 32's newcomer saw
lecture halls captioned "entrance hall 96 %", and about half of the kinds of non-home rooms it has
never seen get a home room at the shipped threshold (MODELS.md). This head sits between scene and
room (`only_when`: shown for indoor photos; rooms shown only when it says "home"), so a room is
withheld where the photo is not a home's, and the six-class room answers stay exactly as they are.

It is a class-balanced logistic regression on the frozen embedding (free at index time, and what
generalised best for kind and scene), labelled from the data itself: "home" for every photo with
a room label, "not_a_home" for every other indoor photo (miniplaces' 35 indoor categories, sun8's
auditoriums), each photo as it is and shrunk to 128 px (the `small128` view: most photos that are
not of a home are miniplaces' 128-px ones, and a head shown only sharp homes learns that blur means
"not a home"; the labels also come from the shared datasets' convention that every home photo has
a room label; a manifest's `setting` column, which `sorter export` writes, says it outright where
a home photo's room is unknown). Its operating point is chosen
leave-one-source-out: the lowest gate on the held-out
"not a home" probability at which at most GATE_LOSS of held-out home rooms lose their room,
counting only rooms of kinds the fold was trained on (without places365_rooms no source has an
entrance hall, which it would otherwise count as a loss the installed head, trained on them, does
not make). The gate is folded into the head's bias, so that "not_a_home" wins exactly where its
probability reaches the gate and the head always answers.

`sorter-train setting` writes a run in the label-set format (`label_heads.json` and `.npz`), and
`sorter-train export --run RUN --install` appends it to the installed graph (export_label_model.py):
kind, scene, room and the embedding stay bit for bit, and a catalog gets the new head from the
vectors it holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path, atomic_write_text
from sorter_app.core.model_spec import ModelSpec, load_spec

from .errors import TrainingError
from .export_embedder import SIDECAR_FILE
from .label_heads import LABEL_HEADS_FILE, LABEL_REPORT_FILE
from .labels import SETTINGS
from .linear import LinearModel, fit_logistic
from .models_md import marked_section
from .selection_data import HEAD_LABELS, SelectionData, load_selection_data
from .selection_md import END as SELECTION_END

HEAD = "setting"
HOME, ELSEWHERE = 0, 1
GATE_LOSS = 0.01  # at most this share of held-out home rooms may lose their room to the gate
C = 1.0
VIEW = "centre"  # the embedding the app stores and the head reads
SMALL_VIEW = "small128"  # the same shrunk to 128 px and enlarged back (training/image_views.py)
UNSEEN = "unseen_kinds"  # every second of miniplaces' indoor categories, held out together


def setting_labels(data: SelectionData) -> NDArray[np.int64]:
    """For indoor photos: the manifest's `setting` where it has one (`sorter export` writes it, so a
    home photo whose room was unsure stays a home); else HOME where a photo has a room label and
    ELSEWHERE for any other (the shared datasets' convention). −1 for everything else."""
    room, scene = data.labels["room"], data.labels["scene"]
    indoor = (scene == HEAD_LABELS["scene"].index("indoor")) | (room >= 0)
    said = np.where(
        data.setting == SETTINGS[HOME], HOME, np.where(data.setting == SETTINGS[ELSEWHERE], ELSEWHERE, -1)
    )
    convention = np.where(room >= 0, HOME, ELSEWHERE)
    return np.where(indoor, np.where(said >= 0, said, convention), -1).astype(np.int64)


def _category(path: str) -> str:
    """The folder a photo is in: its category (miniplaces/indoor/office/1.jpg → office)."""
    return PurePosixPath(path.replace("\\", "/")).parent.name


def folds(
    data: SelectionData, labels: NDArray[np.int64]
) -> Iterator[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
    """(name, held-out rows, training rows): each source with setting labels held out, then
    UNSEEN: every second category of the largest "not a home" source, held out as kinds of rooms
    never seen (with every other labelled photo trained on)."""
    labelled = labels >= 0
    for source in sorted(set(data.source[labelled].tolist())):
        held = labelled & (data.source == source)
        yield source, np.flatnonzero(held), np.flatnonzero(labelled & ~held)
    elsewhere = labelled & (labels == ELSEWHERE)
    sources, counts = np.unique(data.source[elsewhere], return_counts=True)
    widest = sources[counts.argmax()]
    category = np.array(
        [_category(p) if s == widest else "" for p, s in zip(data.path, data.source, strict=True)]
    )
    kinds = sorted(set(category[elsewhere & (category != "")].tolist()))
    held = elsewhere & np.isin(category, kinds[1::2])
    yield UNSEEN, np.flatnonzero(held), np.flatnonzero(labelled & ~held)


@dataclass(frozen=True)
class HeldOut:
    """One fold's held-out photos: their "not a home" probability on the photo as it is and shrunk
    to 128 px, and whether each one's room kind was trained on in that fold (always, for photos
    that are not of a home)."""

    rows: NDArray[np.int64]
    p: NDArray[np.float32]
    p_small: NDArray[np.float32]
    seen: NDArray[np.bool_]


def fit_setting(data: SelectionData, labels: NDArray[np.int64], rows: NDArray[np.int64]) -> LinearModel:
    """The head fitted on `rows`, each as it is and shrunk to 128 px: most photos that are not of a
    home come from a 128-px dataset, and without the shrunk copies of the homes the head learns
    that blur means "not a home" (a home photo shrunk to 128 px was called not a home 22–37 % of
    the time)."""
    x = np.concatenate([data.embeddings(VIEW)[rows], data.embeddings(SMALL_VIEW)[rows]])
    return fit_logistic(x, np.concatenate([labels[rows], labels[rows]]), len(SETTINGS), c=C)


def heldout_probabilities(
    data: SelectionData, labels: NDArray[np.int64], log: Callable[[str], None] = print
) -> dict[str, HeldOut]:
    room = data.labels["room"]
    out = {}
    for name, test, train in folds(data, labels):
        model = fit_setting(data, labels, train)
        seen = np.isin(room[test], np.unique(room[train][room[train] >= 0])) | (labels[test] == ELSEWHERE)
        p, p_small = (model.probabilities(data.embeddings(v)[test])[:, ELSEWHERE] for v in (VIEW, SMALL_VIEW))
        out[name] = HeldOut(test, p, p_small, seen)
        log(f"setting: {name} held out, {test.size} photos")
    return out


def choose_gate(held: dict[str, HeldOut], labels: NDArray[np.int64]) -> float:
    """The lowest gate that at most GATE_LOSS of the held-out home rooms (of kinds trained on, as
    they are) reach, pooled over the held-out sources; never under 0.5, where "home" is the more
    likely answer."""
    home = np.concatenate(
        [f.p[(labels[f.rows] == HOME) & f.seen] for name, f in held.items() if name != UNSEEN]
    )
    if home.size == 0:
        raise TrainingError("no held-out home rooms to choose the setting gate on")
    allowed = int(GATE_LOSS * home.size)  # home rooms that may reach the gate
    first_kept = float(np.sort(home)[::-1][allowed])  # the highest that must stay under it
    gate = max(0.5, float(np.nextafter(np.float32(first_kept), np.float32(1))))
    if not gate < 1:
        raise TrainingError("held-out home rooms are called 'not a home' with certainty: no gate keeps them")
    return gate


def figures(held: dict[str, HeldOut], labels: NDArray[np.int64], gate: float) -> dict[str, Any]:
    """Per held-out fold: home rooms that lose their room (all, of kinds trained on, and shrunk to
    128 px), and photos that are not of a home kept out of the rooms."""
    out = {}
    for name, f in held.items():
        home, elsewhere = labels[f.rows] == HOME, labels[f.rows] == ELSEWHERE
        gated, gated_small = f.p >= gate, f.p_small >= gate
        out[name] = {
            "home": int(home.sum()),
            "home_gated": _share(gated[home]),
            "home_gated_of_kinds_trained_on": _share(gated[home & f.seen]),
            "home_gated_small": _share(gated_small[home]),
            "not_a_home": int(elsewhere.sum()),
            "not_a_home_kept_out": _share(gated[elsewhere]),
        }
    return out


def _share(values: NDArray[np.bool_]) -> float | None:
    return float(values.mean()) if values.size else None


def with_gate(model: LinearModel, gate: float) -> LinearModel:
    """The same head with "not_a_home" winning exactly where its probability reaches `gate`: the
    two-class softmax is a sigmoid of the logit difference, so the gate's logit moves into the bias."""
    if not 0 < gate < 1:
        raise ValueError(f"a gate is a probability strictly between 0 and 1, not {gate}")
    bias = model.bias.astype(np.float64).copy()
    bias[ELSEWHERE] -= math.log(gate / (1 - gate))
    return LinearModel(model.weight, bias.astype(np.float32))


def train_setting(
    caches: Sequence[Path], out: Path, models_dir: Path, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Held-out figures, the gate, the head fitted on every source: a label-set run in `out`, for
    the model installed in `models_dir` (whose embedding the caches hold: Lite0's, as every head's)."""
    base = load_spec(models_dir / SIDECAR_FILE)
    data = load_selection_data(list(caches))
    lacking = [str(c.folder) for c in data.caches if not {VIEW, SMALL_VIEW} <= set(c.views)]
    if lacking:
        raise TrainingError(
            f"{', '.join(lacking)}: the setting head needs the views {VIEW} and {SMALL_VIEW} "
            f"(sorter-train features … --views {VIEW},{SMALL_VIEW})"
        )
    labels = setting_labels(data)
    if not {HOME, ELSEWHERE} <= set(labels.tolist()):
        raise TrainingError("the caches need photos with room labels and indoor photos without one")
    held = heldout_probabilities(data, labels, log)
    gate = choose_gate(held, labels)
    per_fold = figures(held, labels, gate)
    train = np.flatnonzero(labels >= 0)
    model = with_gate(fit_setting(data, labels, train), gate)
    report: dict[str, Any] = {
        "data": [str(Path(c).resolve()) for c in caches],
        "embedder": {
            "model_id": base.embedding_names[0],
            "cache_encoder_sha256": data.caches[0].meta.get("encoder_sha256"),
        },
        "recipe": {
            "model": "class-balanced logistic regression",
            "c": C,
            "gate_loss": GATE_LOSS,
            "views": [VIEW, SMALL_VIEW],
        },
        "conditions": {"room": {HEAD: SETTINGS[HOME]}},
        "bundled_head": True,  # a head of the bundled model, not a user's label set
        "sets": {
            HEAD: {
                "labels": list(SETTINGS),
                "unknown_below": 0.0,  # two labels, the gate in the bias: it always answers
                "only_when": {"scene": "indoor"},
                "gate": gate,
                "train_count": int(train.size),
                "heldout": per_fold,
            }
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / LABEL_HEADS_FILE) as tmp, tmp.open("wb") as fh:
        arrays: dict[str, Any] = {
            "names": np.array([HEAD]),
            "set0/weight": model.weight,
            "set0/bias": model.bias,
        }
        np.savez(fh, **arrays)  # the label-set run's layout (label_heads.py)
    atomic_write_text(out / LABEL_REPORT_FILE, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    log(render_setting_report(report))
    return report


def render_setting_report(report: dict[str, Any]) -> str:
    """The held-out figures as MODELS.md's table rows."""
    head = report["sets"][HEAD]
    lines = [
        f'"not a home" gate {head["gate"]:.3f} (at most {report["recipe"]["gate_loss"] * 100:.0f} % of '
        "held-out home rooms of kinds trained on reach it)",
        "",
        "| held out | home rooms | lose their room (of kinds trained on) | shrunk to 128 px: lose their room "
        "| indoor photos not of a home | kept out of the rooms |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in head["heldout"].items():
        lines.append(
            f"| {name} | {f['home']} | {_pct(f['home_gated'])} ({_pct(f['home_gated_of_kinds_trained_on'])}) "
            f"| {_pct(f['home_gated_small'])} | {f['not_a_home']} | {_pct(f['not_a_home_kept_out'])} |"
        )
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


BEGIN = (
    "<!-- begin: written by `sorter-train export --install` of a `sorter-train setting` run; do not edit -->"
)
END = "<!-- end: written by `sorter-train export --install` of a `sorter-train setting` run -->"


def render_setting_md(spec: ModelSpec, report: dict[str, Any], size_bytes: int) -> str:
    """MODELS.md's section on the appended head: the file installed, its gate and held-out figures."""
    head = spec.outputs[HEAD]
    commands = list(dict.fromkeys(str(c["command"]) for c in spec.extra.get("commands", [])))
    lines = [
        BEGIN,
        f"## `{spec.onnx_file}` as installed: the model above with a `{HEAD}` head appended",
        "",
        "| | |",
        "|---|---|",
        f"| file | `{spec.onnx_file}`, {size_bytes / 1e6:.1f} MB |",
        f"| model_id | `{spec.model_id}` (appended to `{spec.extra.get('based_on')}`, whose outputs it "
        "keeps bit for bit) |",
        f"| sha256 | `{spec.sha256}` |",
        f"| `{HEAD}` | softmax over {', '.join(head['labels'])}; shown only when "
        + ", ".join(f"{k} is {v}" for k, v in head.get("only_when", {}).items())
        + f"; a class-balanced logistic regression on the embedding (C = {report['recipe']['c']}) |",
        "| `room` | now shown only when "
        + ", ".join(f"{k} is {v}" for k, v in spec.outputs["room"].get("only_when", {}).items())
        + " |",
        "",
        "Leave-one-source-out (each row: the head fitted without that source, scoring it; "
        f"`{UNSEEN}`: every second of miniplaces' indoor categories held out together, kinds of rooms "
        "the head never saw). " + render_setting_report(report),
        "### Reproduce",
        "",
        "```sh",
        *commands,
        "```",
        END,
    ]
    return "\n".join(lines) + "\n"


def remove_setting_md(path: Path) -> None:
    """Take this head's section out of MODELS.md (`export-heads` installed a model without it), as
    `update_setting_md` put it in: the text around it is as it was before."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if around := marked_section(text, BEGIN, END):
        before, after = around
        atomic_write_text(path, before.rstrip("\n") + "\n" + after)


def update_setting_md(path: Path, spec: ModelSpec, report: dict[str, Any], size_bytes: int) -> None:
    """Replace this head's section of MODELS.md, or put it after the section `export-heads` wrote."""
    section = render_setting_md(spec, report, size_bytes)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Bundled models\n"
    if around := marked_section(text, BEGIN, END):  # replaced with the blank line it had after it
        before, after = around
        text = before + section + "\n" + after
    elif SELECTION_END in text:
        before, rest = text.split(SELECTION_END, 1)
        text = before + SELECTION_END + "\n\n" + section + "\n" + rest.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    atomic_write_text(path, text)
