"""The sidecar's word on heads copied from another model (`answers_from`): read back as written,
and a malformed sidecar refused with a ModelError, never a crash while indexing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sorter_app.core.errors import ModelError
from sorter_app.core.model_spec import ModelSpec, load_spec
from sorter_app.paths import bundled_model_sidecar


def _bundled() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bundled_model_sidecar().read_text(encoding="utf-8"))
    return data


def test_answers_from_round_trips_and_names_what_a_heads_graph_must_hold() -> None:
    data = _bundled()
    data["answers_from"] = {"scene": "image-sorter-base", "room": "image-sorter-base", "not_a_head": "x"}
    spec = ModelSpec.from_json(data)
    assert ModelSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    assert spec.own_heads == ["kind", "setting"]
    assert spec.copied_answers == {"scene": ("image-sorter-base", 2), "room": ("image-sorter-base", 6)}
    older = {key: value for key, value in _bundled().items() if key != "answers_from"}
    assert ModelSpec.from_json(older).answers_from == {}  # sidecars written before it


@pytest.mark.parametrize("answers_from", ["scene", 3, None, ["scene"]])
def test_a_malformed_answers_from_is_refused(answers_from: object) -> None:
    data = {**_bundled(), "answers_from": answers_from}
    with pytest.raises(ModelError):
        ModelSpec.from_json(data)


@pytest.mark.parametrize("labels", [6, "kitchen", None, [1, 2]])
def test_a_head_without_a_list_of_labels_is_refused(labels: object, tmp_path: Path) -> None:
    data = _bundled()
    data["outputs"]["room"]["labels"] = labels
    (tmp_path / "model.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="labels"):
        load_spec(tmp_path / "model.json")


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw[:100] + b"\xa0" + raw[101:],  # a bit flipped into invalid UTF-8
        lambda raw: b"[" + raw + b"]",  # JSON, but not an object
        lambda raw: raw.replace(b'"outputs": {', b'"outputs": {"broken": 3, ', 1),  # an output not an object
    ],
)
def test_a_damaged_sidecar_is_a_model_error(damage: Any, tmp_path: Path) -> None:
    raw = json.dumps(_bundled()).encode()
    (tmp_path / "model.json").write_bytes(damage(raw))
    with pytest.raises(ModelError):
        load_spec(tmp_path / "model.json")
