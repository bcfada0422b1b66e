"""The Browse grid's order and filters, on predictions resolved by the real model sidecar's rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sorter_app.core.browse import SORT_KEYS, BrowseItem, filter_items, filter_labels, section_of, sort_items
from sorter_app.core.model_spec import ModelSpec, load_spec
from sorter_app.core.predictions import Prediction, prediction_heads, resolve
from sorter_app.paths import bundled_model_sidecar


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(bundled_model_sidecar())


def _predict(
    spec: ModelSpec, path: str, scene: tuple[str, float], room: tuple[str, float] | None = None
) -> Prediction:
    """What the model would say given these top probabilities (the rest spread evenly); a photo,
    99 % sure, for a model that also says what an image is, and of a home where it has a room."""
    heads = prediction_heads(spec)
    kind = {"kind": ("photo", 0.99)} if "kind" in heads else {}
    setting = {"setting": ("home", 0.99)} if room and "setting" in heads else {}
    wanted = kind | {"scene": scene} | setting | ({"room": room} if room else {})
    probabilities = {}
    for head, (label, p) in wanted.items():
        labels = heads[head]["labels"]
        row = np.full(len(labels), (1 - p) / (len(labels) - 1), dtype=np.float32)
        row[labels.index(label)] = p
        probabilities[head] = row
    return Prediction(path, resolve(probabilities, heads))


def _unsure(spec: ModelSpec, head: str) -> float:
    """A top probability the head's shipped threshold calls "unknown": midway between a tie and it."""
    below = float(spec.outputs[head]["unknown_below"])
    assert below > 0.5, "a two-class head with this threshold never says unknown"
    return (0.5 + below) / 2


def _item(path: str, prediction: Prediction | None = None, *, mtime: int = 0) -> BrowseItem:
    return BrowseItem(path, 1000, mtime, prediction)


@pytest.fixture(scope="module")
def items(spec: ModelSpec) -> dict[str, BrowseItem]:
    """One image per case a filter must tell apart, keyed by what it is."""
    cases = {
        "kitchen 0.9": _predict(spec, "k1.jpg", ("indoor", 0.97), ("kitchen", 0.9)),
        "kitchen 0.7": _predict(spec, "k2.jpg", ("indoor", 0.80), ("kitchen", 0.7)),
        "indoor, room unsure": _predict(spec, "i.jpg", ("indoor", 0.99), ("bedroom", 0.3)),
        "outdoor": _predict(spec, "o.jpg", ("outdoor", 0.85)),
        "scene unsure": _predict(spec, "u.jpg", ("outdoor", _unsure(spec, "scene"))),
        "no prediction": None,
    }
    return {name: _item(f"{name}.jpg", prediction) for name, prediction in cases.items()}


def test_the_predictions_are_what_the_cases_say(items: dict[str, BrowseItem]) -> None:
    best = {name: (i.prediction.best_label if i.prediction else None) for name, i in items.items()}
    assert best == {
        "kitchen 0.9": "kitchen",
        "kitchen 0.7": "kitchen",
        "indoor, room unsure": "home",
        "outdoor": "outdoor",
        "scene unsure": None,
        "no prediction": None,
    }
    outdoor = items["outdoor"].prediction
    assert outdoor is not None and outdoor.answers["room"].label is None  # room does not apply outdoors


# --- sorting --------------------------------------------------------------------------------------


def _names(items: list[BrowseItem]) -> list[str]:
    return [i.relpath for i in items]


def test_name_sort_is_natural_and_ignores_case() -> None:
    names = ["img10.jpg", "IMG2.jpg", "img1.jpg", "b/img3.jpg", "A.jpg", "img", "img01.jpg", "a.jpg"]
    assert _names(sort_items([_item(n) for n in names], "name")) == [
        "A.jpg",
        "a.jpg",
        "b/img3.jpg",
        "img",
        "img01.jpg",
        "img1.jpg",
        "IMG2.jpg",
        "img10.jpg",
    ]


def test_date_sort_is_oldest_first_then_by_name() -> None:
    items = [
        _item("c10.jpg", mtime=5),
        _item("c9.jpg", mtime=5),
        _item("new.jpg", mtime=9),
        _item("old.jpg", mtime=1),
    ]
    assert _names(sort_items(items, "date")) == ["old.jpg", "c9.jpg", "c10.jpg", "new.jpg"]


def test_cluster_sort_groups_by_name_and_puts_the_groupless_last() -> None:
    groups = {"b.jpg": "cluster 10", "s/a.jpg": "cluster 2", "c.jpg": "cluster 10", "z.jpg": "Beach"}
    items = [_item(p) for p in ("x.jpg", "b.jpg", "s/a.jpg", "c.jpg", "a.jpg", "z.jpg")]
    ordered = sort_items(items, "cluster", groups=groups)
    assert [(groups.get(i.relpath), i.relpath) for i in ordered] == [
        ("Beach", "z.jpg"),
        ("cluster 2", "s/a.jpg"),
        ("cluster 10", "b.jpg"),
        ("cluster 10", "c.jpg"),
        (None, "a.jpg"),
        (None, "x.jpg"),
    ]
    assert [section_of(i, "cluster", groups=groups) for i in ordered[-3:]] == [
        "cluster 10",
        "in no cluster",
        "in no cluster",
    ]


def test_prediction_sort_is_label_then_surest_first_and_the_unsure_last(items: dict[str, BrowseItem]) -> None:
    ordered = sort_items(reversed(list(items.values())), "prediction")
    assert _names(ordered) == [
        "indoor, room unsure.jpg",
        "kitchen 0.9.jpg",
        "kitchen 0.7.jpg",
        "outdoor.jpg",
        "no prediction.jpg",  # no confident label: by name
        "scene unsure.jpg",
    ]


def test_every_sort_key_sorts_and_others_are_refused(items: dict[str, BrowseItem]) -> None:
    for key in SORT_KEYS:
        assert sorted(_names(sort_items(items.values(), key))) == sorted(i.relpath for i in items.values())
    with pytest.raises(ValueError, match="size"):
        sort_items(items.values(), "size")


# --- filtering ------------------------------------------------------------------------------------


def _passing(items: dict[str, BrowseItem], label: str | None, min_confidence: float) -> list[str]:
    by_path = {i.relpath: name for name, i in items.items()}
    return [by_path[i.relpath] for i in filter_items(items.values(), label, min_confidence)]


def test_no_label_keeps_everything_at_zero_confidence(items: dict[str, BrowseItem]) -> None:
    assert _passing(items, None, 0.0) == list(items)


def test_no_label_with_a_threshold_looks_at_the_best_answer(items: dict[str, BrowseItem]) -> None:
    assert _passing(items, None, 0.8) == ["kitchen 0.9", "indoor, room unsure", "outdoor"]


@pytest.mark.parametrize(
    ("label", "min_confidence", "expected"),
    [
        ("indoor", 0.0, ["kitchen 0.9", "kitchen 0.7", "indoor, room unsure"]),
        ("indoor", 0.9, ["kitchen 0.9", "indoor, room unsure"]),
        ("kitchen", 0.0, ["kitchen 0.9", "kitchen 0.7"]),
        ("kitchen", 0.8, ["kitchen 0.9"]),
        ("outdoor", 0.0, ["outdoor"]),  # not the unsure scene, whose top guess was outdoor
        ("outdoor", 0.9, []),
        ("bedroom", 0.0, []),  # below the room head's threshold: said as unknown
    ],
)
def test_a_label_matches_confident_answers(
    items: dict[str, BrowseItem], label: str, min_confidence: float, expected: list[str]
) -> None:
    assert _passing(items, label, min_confidence) == expected


@pytest.mark.parametrize("min_confidence", [0.0, 0.99])
def test_unknown_finds_what_the_model_was_unsure_of(
    items: dict[str, BrowseItem], min_confidence: float
) -> None:
    assert _passing(items, "unknown", min_confidence) == ["indoor, room unsure", "scene unsure"]


# --- the filter's choices -------------------------------------------------------------------------


def test_filter_labels_of_the_bundled_model(spec: ModelSpec) -> None:
    heads = spec.probability_heads
    # The sidecar's sorted keys: the order must be fixed here.
    assert list(heads) == ["kind", "room", "scene", "setting"]
    kinds, scenes, settings, rooms = (heads[h]["labels"] for h in ("kind", "scene", "setting", "room"))
    assert filter_labels(spec) == [*kinds, *scenes, *settings, *rooms, "unknown"]
    assert filter_labels(spec)[:4] == ["photo", "graphic", "indoor", "outdoor"]


def test_a_model_without_predictions_offers_no_filter(spec: ModelSpec) -> None:
    embedding_only = dataclasses.replace(
        spec, outputs={spec.embedding_output: spec.outputs[spec.embedding_output]}
    )
    assert filter_labels(embedding_only) == []
