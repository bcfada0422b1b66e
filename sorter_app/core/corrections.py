"""What the user says an image shows, overriding the model: the rules of a correction, in one place.

A correction names one label of any head ("kitchen", "outdoor"). Which other heads it settles and
which earlier corrections it rules out follow from the sidecar's `only_when` conditions, never from
names written here: "kitchen" is a room, rooms apply only when the scene is indoor, so the scene
becomes indoor too; "outdoor" leaves no room for a room, so a stored room correction goes.
Corrections are stored by content hash alone, so they follow moved files and outlive the model.
"""

from __future__ import annotations

from collections.abc import Mapping

from .catalog import Catalog
from .errors import SorterError
from .model_spec import ModelSpec
from .predictions import HeadSpec, prediction_heads, with_what_they_imply


def correction_labels(spec: ModelSpec) -> list[str]:
    """Every label a user may pick, heads others depend on first (scene before room), each head's
    labels in the sidecar's order: what a right-click menu offers."""
    return [str(label) for head in prediction_heads(spec).values() for label in head["labels"]]


def correct(catalog: Catalog, spec: ModelSpec, content_hash: str, label: str) -> dict[str, str]:
    """Store `label`, and what it implies, as the user's word on the image; returns its corrections.

    Corrections that no longer apply are removed before the new ones are written, so that even a
    crash in between can never leave an old room to resurface under a later "indoor".
    """
    heads = prediction_heads(spec)
    wanted = _implied_by(label, heads, spec)
    current = catalog.corrections([content_hash]).get(content_hash, {})
    kept = _still_applying({**current, **wanted}, heads)
    catalog.clear_corrections(content_hash, [head for head in current if head not in kept])
    for head, value in wanted.items():
        catalog.set_correction(content_hash, head, value)
    return kept


def _implied_by(label: str, heads: Mapping[str, HeadSpec], spec: ModelSpec) -> dict[str, str]:
    """{head: label} for the picked label and every condition it stands on ("kitchen" → indoor)."""
    head = next((name for name, head in heads.items() if label in head["labels"]), None)
    if head is None:
        raise SorterError(f"unknown label {label!r}; choose one of {', '.join(correction_labels(spec))}")
    return with_what_they_imply({head: label}, heads)


def _still_applying(labels: Mapping[str, str], heads: Mapping[str, HeadSpec]) -> dict[str, str]:
    """`labels` without those whose head's conditions they contradict, or rest on a dropped head."""
    kept = dict(labels)
    dropped: set[str] = set()
    while stale := [
        name
        for name in kept
        if any(
            other in dropped or kept.get(other, want) != want
            for other, want in heads.get(name, {}).get("only_when", {}).items()
        )
    ]:
        for name in stale:
            del kept[name]
        dropped.update(stale)
    return kept
