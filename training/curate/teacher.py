"""Check every given label against a teacher's probabilities; drop the ones it is unsure of.

For each labelled head (scene, room) the teacher's probability p of the *given* label decides,
with the confidence band (lo, hi), by default (0.1, 0.9):

- p ≥ hi: the label is confirmed;
- lo < p < hi: the label is dropped (set to unknown) — the teacher cannot vouch for it;
- p ≤ lo: the teacher contradicts it: the label becomes the teacher's own answer (a pseudo-label)
  when that answer has p ≥ hi, else it is dropped.

A scene relabelled to outdoor clears the room. An image that had labels and lost all of them is
dropped from the dataset; labels that were never given are not invented. The teacher is any
exported model whose sidecar lists outputs of kind "probabilities" named `scene` and/or `room`
(labels from `training.labels`), or probabilities given per row in the input manifest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sorter_app.core.model_spec import ModelSpec

from ..errors import TrainingError
from .inputs import HEADS, Item

DEFAULT_BAND = (0.1, 0.9)
Probabilities = dict[str, dict[str, float]]  # head → label → probability


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "confirmed", "low confidence", "relabelled", "contradicted"
    label: str  # the label the image keeps for this head, '' when dropped
    probability: float  # the teacher's probability of the given label


def judge(given: str, probs: Mapping[str, float], band: tuple[float, float] = DEFAULT_BAND) -> Verdict:
    lo, hi = band
    p = float(probs.get(given, 0.0))
    if p >= hi:
        return Verdict("confirmed", given, p)
    if p > lo:
        return Verdict("low confidence", "", p)
    best = max(probs, key=lambda label: probs[label])
    if probs[best] >= hi:
        return Verdict("relabelled", best, p)
    return Verdict("contradicted", "", p)


def teacher_heads(spec: ModelSpec) -> dict[str, list[str]]:
    """The `scene`/`room` probability outputs of a model, with labels checked against ours."""
    heads: dict[str, list[str]] = {}
    for name, output in spec.outputs.items():
        if not isinstance(output, dict) or output.get("kind") != "probabilities" or name not in HEADS:
            continue
        labels = [str(label) for label in output.get("labels", [])]
        unknown = sorted(set(labels) - set(HEADS[name]))
        if not labels or unknown:
            raise TrainingError(
                f"teacher {spec.model_id}: output {name!r} has labels outside ours: {unknown}"
            )
        heads[name] = labels
    if not heads:
        raise TrainingError(
            f"teacher {spec.model_id} has no 'scene' or 'room' output of kind \"probabilities\""
        )
    return heads


@dataclass
class TeacherOutcome:
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # head → outcome → labels
    dropped: dict[int, str] = field(default_factory=dict)  # item index → reason
    relabelled: list[dict[str, Any]] = field(default_factory=list)


def apply_teacher(
    items: Sequence[Item],
    indices: Sequence[int],
    probabilities: Callable[[int], Probabilities],
    band: tuple[float, float] = DEFAULT_BAND,
) -> TeacherOutcome:
    """Judge the labels of `items[i]` for i in `indices`, changing them in place."""
    outcome = TeacherOutcome({head: Counter() for head in HEADS})
    for i in indices:
        item = items[i]
        probs = probabilities(i)
        had_labels = bool(item.scene or item.room)
        notes = []
        for head in HEADS:
            given = item.label(head)
            if not given:
                continue
            if head == "room" and item.scene == "outdoor":
                item.room = ""
                outcome.counts[head]["cleared: scene relabelled outdoor"] += 1
                continue
            if head not in probs:
                outcome.counts[head]["no teacher opinion"] += 1
                continue
            verdict = judge(given, probs[head], band)
            outcome.counts[head][verdict.outcome] += 1
            item.set_label(head, verdict.label)
            if verdict.outcome == "relabelled":
                outcome.relabelled.append(
                    {
                        "path": item.path,
                        "head": head,
                        "from": given,
                        "to": verdict.label,
                        "p": verdict.probability,
                    }
                )
            elif verdict.outcome != "confirmed":
                notes.append(f"{head} {given} p={verdict.probability:.2f} ({verdict.outcome})")
        if had_labels and not (item.scene or item.room):
            outcome.dropped[i] = "teacher: " + "; ".join(notes)
    return outcome


def check_band(band: Sequence[float]) -> tuple[float, float]:
    lo, hi = (float(b) for b in band)
    if not 0.0 <= lo < hi <= 1.0:
        raise TrainingError(f"confidence band must satisfy 0 ≤ LO < HI ≤ 1, got {lo} {hi}")
    return lo, hi
