"""The user's corrections override the model, follow the sidecar's conditions and the file's content.

Images are flat colours the tiny model answers predictably (see tests/tiny_model.py): red is an
indoor kitchen, dark red indoor with no confident room, blue outdoor, grey an unsure scene.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sorter_app.core.catalog import SCHEMA_VERSION, Catalog, FileRow
from sorter_app.core.corrections import correct, correction_labels
from sorter_app.core.errors import SorterError
from sorter_app.core.library import Library
from sorter_app.core.model_spec import ModelSpec, Preprocess, load_spec
from sorter_app.core.predictions import (
    HeadAnswer,
    Prediction,
    folder_prediction_columns,
    prediction_heads,
    resolve,
)
from sorter_app.core.user_store import USER_SCHEMA_VERSION
from tests.tiny_model import ROOMS, SCENES, write_tiny_model


@pytest.fixture
def library(colour_lib: Library) -> Library:
    return colour_lib


@pytest.fixture
def photos(colour_photos: Path) -> Path:
    return colour_photos


def _said(prediction: Prediction) -> dict[str, tuple[str | None, bool]]:
    return {head: (a.label, a.corrected) for head, a in prediction.answers.items()}


def _stored(library: Library, photos: Path, name: str) -> dict[str, str]:
    row = library.catalog.file_row(library.catalog.root_id(photos, create=False) or -1, name)
    assert row is not None and row.content_hash is not None
    return library.catalog.corrections([row.content_hash]).get(row.content_hash, {})


def test_a_room_brings_the_scene_it_needs(library: Library, photos: Path) -> None:
    prediction = library.correct(photos, photos / "blue.png", "kitchen")
    assert prediction.answers == {
        "scene": HeadAnswer("indoor", 1.0, corrected=True),
        "room": HeadAnswer("kitchen", 1.0, corrected=True),
    }
    assert (
        prediction.model_answer("scene").label == "outdoor" and prediction.model_answer("room").label is None
    )
    assert _stored(library, photos, "blue.png") == {"scene": "indoor", "room": "kitchen"}
    blue = next(p for p in library.predictions(photos) if p.path == "blue.png")
    assert blue.to_json() | {"scene_confidence": 1.0, "room_confidence": 1.0} == {
        "path": "blue.png",
        **{"scene": "indoor", "scene_confidence": 1.0, "scene_corrected": True},
        **{"room": "kitchen", "room_confidence": 1.0, "room_corrected": True},
    }


def test_outdoor_drops_a_room_correction_so_indoor_cannot_bring_it_back(
    library: Library, photos: Path
) -> None:
    red = photos / "red.png"
    assert _said(library.correct(photos, red, "bathroom"))["room"] == ("bathroom", True)
    outdoor = library.correct(photos, red, "outdoor")
    assert _said(outdoor) == {"scene": ("outdoor", True), "room": (None, False)}
    assert outdoor.answers["room"] == HeadAnswer(None, None)
    assert _stored(library, photos, "red.png") == {"scene": "outdoor"}
    indoor = library.correct(photos, red, "indoor")
    assert _said(indoor) == {"scene": ("indoor", True), "room": ("kitchen", False)}  # the model's room


def test_a_scene_alone_leaves_the_room_to_the_model(library: Library, photos: Path) -> None:
    before = next(p for p in library.predictions(photos) if p.path == "grey.png")
    assert _said(before) == {"scene": ("unknown", False), "room": (None, False)}
    after = library.correct(photos, photos / "grey.png", "indoor")
    assert _said(after) == {"scene": ("indoor", True), "room": ("unknown", False)}
    assert _stored(library, photos, "grey.png") == {"scene": "indoor"}


def test_clearing_lets_the_model_speak_again(library: Library, photos: Path) -> None:
    library.correct(photos, photos / "blue.png", "kitchen")
    cleared = library.clear_correction(photos, photos / "blue.png")
    assert _said(cleared) == {"scene": ("outdoor", False), "room": (None, False)}
    assert not cleared.corrected and _stored(library, photos, "blue.png") == {}


def test_an_unknown_label_is_refused_with_the_choices(library: Library, photos: Path) -> None:
    with pytest.raises(
        SorterError, match="unknown label 'garage'; choose one of indoor, outdoor, bathroom, "
    ):
        library.correct(photos, photos / "red.png", "garage")
    assert _stored(library, photos, "red.png") == {}


def test_only_indexed_usable_images_can_be_corrected(library: Library, photos: Path, tmp_path: Path) -> None:
    (photos / "empty.png").write_bytes(b"")
    library.index(photos)
    with pytest.raises(SorterError, match=r"empty\.png was skipped when indexing: "):
        library.correct(photos, photos / "empty.png", "indoor")
    Image.new("RGB", (300, 240), (255, 0, 0)).save(photos / "new.png")
    with pytest.raises(SorterError, match=r"new\.png is not indexed"):
        library.correct(photos, photos / "new.png", "indoor")
    with pytest.raises(SorterError, match="is not inside"):
        library.correct(photos, tmp_path / "elsewhere.png", "indoor")


def test_a_correction_follows_the_content_to_moves_and_copies(
    library: Library, photos: Path, tmp_path: Path
) -> None:
    library.correct(photos, photos / "blue.png", "kitchen")
    (photos / "kept").mkdir()
    (photos / "blue.png").rename(photos / "kept" / "sky.png")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(photos / "kept" / "sky.png", other / "copy.png")
    assert library.index(photos).indexed == 0 and library.index(other).indexed == 0
    moved = next(p for p in library.predictions(photos) if p.path == "kept/sky.png")
    copied = library.predictions(other)[0]
    assert _said(moved) == _said(copied) == {"scene": ("indoor", True), "room": ("kitchen", True)}


def test_menu_labels_come_from_the_sidecar_scene_first(tmp_path: Path) -> None:
    spec = load_spec(write_tiny_model(tmp_path / "models"))
    assert list(spec.probability_heads) == ["room", "scene"]  # the sidecar's sorted keys
    assert correction_labels(spec) == SCENES + ROOMS


def _spec(outputs: dict[str, Any]) -> ModelSpec:
    pre = Preprocess(size=224, mean=(0.5,) * 3, std=(0.5,) * 3)
    return ModelSpec("made-up", "m.onnx", "0" * 64, "image", pre, "embedding", 3, outputs=outputs)


def test_the_rules_follow_only_when_for_any_heads(tmp_path: Path) -> None:
    """A three-level chain with names the code has never seen, listed in no helpful order."""
    spec = _spec(
        {
            "model": {"kind": "probabilities", "labels": ["fiesta", "focus"], "only_when": {"make": "ford"}},
            "vehicle": {"kind": "probabilities", "labels": ["car", "bike"]},
            "make": {"kind": "probabilities", "labels": ["ford", "fiat"], "only_when": {"vehicle": "car"}},
        }
    )
    assert correction_labels(spec) == ["car", "bike", "ford", "fiat", "fiesta", "focus"]
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert correct(catalog, spec, "h", "focus") == {"model": "focus", "make": "ford", "vehicle": "car"}
        assert correct(catalog, spec, "h", "fiat") == {"make": "fiat", "vehicle": "car"}  # no ford, no focus
        assert catalog.corrections(["h"]) == {"h": {"vehicle": "car", "make": "fiat"}}
        correct(catalog, spec, "h", "focus")
        assert correct(catalog, spec, "h", "bike") == {"vehicle": "bike"}  # make and model both go
        assert catalog.corrections(["h"]) == {"h": {"vehicle": "bike"}}
        correct(catalog, spec, "h", "ford")
        assert catalog.corrections(["h"]) == {"h": {"vehicle": "car", "make": "ford"}}  # the bike stays gone


def test_a_room_corrected_before_a_head_came_between_keeps_its_room(tmp_path: Path) -> None:
    """ "kitchen" stored {scene: indoor, room: kitchen} before a model put "setting" between scene and
    room; under that model, whose setting head says not_a_home, the user's kitchen still stands,
    and so does the home it implies (a review's find: the room vanished)."""
    spec = _spec(
        {
            "scene": {"kind": "probabilities", "labels": ["indoor", "outdoor"]},
            "setting": {
                "kind": "probabilities",
                "labels": ["home", "not_a_home"],
                "only_when": {"scene": "indoor"},
            },
            "room": {
                "kind": "probabilities",
                "labels": ["kitchen", "bedroom"],
                "only_when": {"setting": "home"},
            },
        }
    )
    heads = prediction_heads(spec)
    said = {
        "scene": np.array([0.9, 0.1], np.float32),
        "setting": np.array([0.2, 0.8], np.float32),
        "room": np.array([0.3, 0.7], np.float32),
    }
    before = resolve(said, heads, {"scene": "indoor", "room": "kitchen"})
    assert before["room"] == HeadAnswer("kitchen", 1.0, corrected=True)
    assert before["setting"] == HeadAnswer("home", 1.0, corrected=True)
    # The user's own word on the setting wins over what a room implies (correct() keeps them apart).
    assert resolve(said, heads, {"scene": "indoor", "setting": "not_a_home"})["room"].label is None
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.set_correction("h", "scene", "indoor")
        catalog.set_correction("h", "room", "kitchen")
        with catalog.transaction():
            catalog.upsert_predictions(spec.model_id, [("h", head, p) for head, p in said.items()])
        columns = folder_prediction_columns(catalog, spec, ["h"])
    assert columns.answers(0)["room"] == HeadAnswer("kitchen", 1.0, corrected=True)
    assert columns.best_labels == ["kitchen"]


def test_corrections_are_read_in_batches_of_any_size(tmp_path: Path) -> None:
    hashes = [f"{i:032x}" for i in range(1200)]
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        for h in hashes[::2]:
            catalog.set_correction(h, "scene", "indoor")
        catalog.set_correction(hashes[0], "room", "kitchen")
        found = catalog.corrections(hashes)
    assert set(found) == set(hashes[::2])
    assert found[hashes[0]] == {"scene": "indoor", "room": "kitchen"}
    assert found[hashes[2]] == {"scene": "indoor"}


# The schema as version 1 of the app wrote it, copied verbatim: what an existing user's catalog holds.
_SCHEMA_V1 = """
CREATE TABLE roots (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    model_id TEXT,
    indexed_at REAL
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    relpath TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT,
    error TEXT,
    UNIQUE (root_id, relpath)
);
CREATE INDEX files_by_hash ON files (content_hash);
CREATE TABLE images (
    content_hash TEXT PRIMARY KEY,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    frames INTEGER NOT NULL,
    layout BLOB NOT NULL
);
CREATE TABLE vectors (
    content_hash TEXT NOT NULL,
    model_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (content_hash, model_id)
);
CREATE TABLE predictions (
    content_hash TEXT NOT NULL,
    model_id TEXT NOT NULL,
    head TEXT NOT NULL,
    probabilities BLOB NOT NULL,
    PRIMARY KEY (content_hash, model_id, head)
);
INSERT INTO roots (id, path, model_id, indexed_at) VALUES (1, '/photos', 'old-model', 1700000000.0);
INSERT INTO files (root_id, relpath, size, mtime_ns, content_hash) VALUES (1, 'a.jpg', 10, 5, 'abc');
PRAGMA user_version = 1;
"""


def test_a_version_1_catalog_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_V1)
    db.close()
    with Catalog(path) as catalog:
        assert catalog.file_rows(1) == {"a.jpg": FileRow("a.jpg", 10, 5, "abc", None)}
        assert catalog.root_info(1) == ("old-model", 1700000000.0)
        catalog.set_correction("abc", "room", "kitchen")
    with Catalog(path) as catalog:  # opening an upgraded catalog again changes nothing
        assert catalog.corrections(["abc"]) == {"abc": {"room": "kitchen"}}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (5,)
    db.close()


def test_corrections_of_a_version_2_catalog_move_to_the_users_own_file(tmp_path: Path) -> None:
    """The user's words leave the rebuildable catalog: losing catalog.sqlite must not lose them."""
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        _SCHEMA_V1.replace("PRAGMA user_version = 1;", "")
        + "CREATE TABLE corrections (content_hash TEXT NOT NULL, head TEXT NOT NULL, label TEXT NOT NULL,"
        " corrected_at REAL NOT NULL, PRIMARY KEY (content_hash, head));"
        "INSERT INTO corrections VALUES ('abc', 'room', 'kitchen', 1.0);"
        "PRAGMA user_version = 2;"
    )
    db.close()
    with Catalog(path) as catalog:
        assert catalog.corrections(["abc"]) == {"abc": {"room": "kitchen"}}
    path.unlink()  # the cache is gone; the user's words are not
    with Catalog(path) as catalog:
        assert catalog.corrections(["abc"]) == {"abc": {"room": "kitchen"}}


def test_a_catalog_from_a_newer_app_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.executescript(f"{_SCHEMA_V1}PRAGMA user_version = {SCHEMA_VERSION + 1};")
    db.close()
    with pytest.raises(RuntimeError, match="written by a newer Image Sorter"):
        Catalog(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'corrections'").fetchall() == []
    db.close()


def test_a_user_file_from_a_newer_app_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "user.sqlite")
    db.execute(f"PRAGMA user_version = {USER_SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="written by a newer Image Sorter"):
        Catalog(tmp_path / "catalog.sqlite")
