"""A model that shares the embedder keeps a catalog valid: nothing is embedded again.

The catalog is written by the real previous model, image-sorter-64a39bcc (its ONNX and sidecar as
bundled in commit 902ec1b, read from git), over real JPEG files; then later models open the same
data folder. Their vectors, Annoy and structure files are reused as they are. A model of linear
heads (image-sorter-5b23c1c0, from git) predicts kind/scene/room from the stored vectors (its
heads graph), equal to what its full model says when it decodes the images; the installed model,
whose heads read a fine-tuned tail, decodes the images once more for its answers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.catalog import Catalog
from sorter_app.core.embedder import Embedder
from sorter_app.core.images import load_image
from sorter_app.core.library import Library
from sorter_app.core.model_spec import load_spec
from sorter_app.core.preprocess import to_model_pixels
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from tests.git_models import BEFORE_SETTING_COMMIT, FIRST_HEADS_COMMIT, linear_heads_model, model_from_git
from tests.tiny_model import write_tiny_model

OLD_MODEL_ID = "image-sorter-64a39bcc"
IMAGES = 10


@pytest.fixture(scope="module")
def old_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous bundled model, byte for byte; its sidecar path."""
    sidecar = model_from_git(FIRST_HEADS_COMMIT, tmp_path_factory.mktemp("old-model"))
    assert load_spec(sidecar).model_id == OLD_MODEL_ID
    return sidecar


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """image-sorter-5b23c1c0: linear heads on the same embedding, with its heads-only graph."""
    sidecar = linear_heads_model(tmp_path_factory.mktemp("linear-model"))
    assert load_spec(sidecar).heads_file
    return sidecar


@pytest.fixture
def old_catalog(tmp_path: Path, old_model: Path) -> tuple[Path, Path]:
    """(data folder, photo folder) indexed by the previous model, with Annoy built (min 1 item).

    Stored as the previous version stored them: vectors, predictions and index files keyed by the
    model id (the catalog at /work/cache/sorter-data, written by that version, has the same rows)."""
    photos = tmp_path / "photos"
    for i in range(IMAGES):
        builders.write_jpeg(photos / f"img{i:02d}.jpg", seed=700 + i)
    with Library(tmp_path / "data", old_model, annoy_min_items=1) as library:
        library.__dict__["vector_key"] = OLD_MODEL_ID
        report = library.index(photos)
        assert (report.indexed, report.predicted) == (IMAGES, 0)
    return tmp_path / "data", photos


def _rows(data: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / "catalog.sqlite") as db:
        return list(db.execute(query))


def _index_files(data: Path) -> dict[str, int]:
    return {
        p.name: p.stat().st_mtime_ns for p in (data / "indexes").iterdir() if not p.name.endswith(".lock")
    }


def test_a_model_of_linear_heads_reuses_an_old_catalog_and_predicts_from_its_vectors(
    old_catalog: tuple[Path, Path], linear_model: Path
) -> None:
    data, photos = old_catalog
    assert _rows(data, "SELECT DISTINCT model_id FROM vectors") == [(OLD_MODEL_ID,)]
    vectors_before = _rows(data, "SELECT content_hash, vector FROM vectors ORDER BY content_hash")
    files_before = _index_files(data)
    assert any(name.endswith(".ann") for name in files_before)

    with Library(data, linear_model, annoy_min_items=1) as library:
        assert library.embedder.heads is not None
        report = library.index(photos)
        assert (report.indexed, report.reused, report.predicted) == (0, IMAGES, IMAGES)
        assert not report.rebuilt_index
        assert library.vector_key == OLD_MODEL_ID
        predictions = {p.path: p for p in library.predictions(photos)}
        similar = library.similar(photos, photos / "img03.jpg", 3)

    # Nothing re-embedded or rewritten: same vectors, same index files.
    assert _rows(data, "SELECT content_hash, vector FROM vectors ORDER BY content_hash") == vectors_before
    assert _index_files(data) == files_before
    assert len(similar) == 3
    # The new model's own predictions, as its full graph computes them from the decoded pixels.
    embedder = Embedder.from_sidecar(linear_model)
    spec = embedder.spec
    pixels = np.stack(
        [
            to_model_pixels(
                load_image((photos / name).read_bytes(), spec.preprocess.size).image, spec.preprocess
            )
            for name in sorted(predictions)
        ]
    )
    full = embedder.run(pixels)
    with Catalog(data / "catalog.sqlite") as catalog:
        by_path = catalog.paths_by_hash(catalog.root_id(photos.resolve()) or 0, OLD_MODEL_ID)
        hash_of = {p: h for h, paths in by_path.items() for p in paths}
        for head in ("kind", "scene", "room"):
            found, matrix = catalog.prediction_matrix(spec.model_id, head, list(hash_of.values()))
            row_of = {h: i for i, h in enumerate(found)}
            got = matrix[[row_of[hash_of[name]] for name in sorted(predictions)]]
            assert np.abs(got - full[head]).max() < 1e-5, head
    kinds = {p.answers["kind"].label for p in predictions.values()}
    assert kinds <= {"photo", "graphic", "unknown"} and len(predictions) == IMAGES


def test_a_second_open_does_nothing_and_the_old_model_still_reads_its_own(
    old_catalog: tuple[Path, Path], old_model: Path
) -> None:
    data, photos = old_catalog
    with Library(data, bundled_model_sidecar(), annoy_min_items=1) as library:
        library.index(photos)
        again = library.index(photos)
        assert (again.indexed, again.reused, again.predicted) == (0, IMAGES, 0)
    with Library(data, old_model, annoy_min_items=1) as library:  # going back costs nothing either
        back = library.index(photos)
        assert (back.indexed, back.predicted) == (0, 0)
        assert {p.answers["scene"].label for p in library.predictions(photos)} <= {
            "indoor",
            "outdoor",
            "unknown",
        }


def test_the_installed_model_decodes_for_its_predictions_but_keeps_the_vectors(
    old_catalog: tuple[Path, Path],
) -> None:
    """Its scene and room heads read a fine-tuned tail, not the embedding: its heads graph holds
    only the setting head, and the rest is decoded unless the catalog holds the answers of the
    model it was appended to (which this older catalog does not)."""
    data, photos = old_catalog
    vectors_before = _rows(data, "SELECT content_hash, vector FROM vectors ORDER BY content_hash")
    with Library(data, bundled_model_sidecar(), annoy_min_items=1) as library:
        heads = library.embedder.heads
        assert heads is not None and list(heads.heads) == ["setting"] and library.spec.extra["finetuned"]
        report = library.index(photos)
        assert (report.indexed, report.predicted) == (IMAGES, 0)  # decoded once more, for the heads
        assert library.vector_key == OLD_MODEL_ID
        assert all(p.answers["kind"].label is not None for p in library.predictions(photos))
    assert _rows(data, "SELECT DISTINCT model_id FROM vectors") == [(OLD_MODEL_ID,)]
    # The decoded images' embeddings, written again, are the stored ones bit for bit.
    assert _rows(data, "SELECT content_hash, vector FROM vectors ORDER BY content_hash") == vectors_before


def test_a_catalog_of_the_model_before_the_setting_head_gets_it_without_decoding(tmp_path: Path) -> None:
    """Folders indexed by image-sorter-7eafc9df: the installed model copies its kind, scene and room
    answers (its graph computes them node for node) and predicts the setting from the stored vectors."""
    before = model_from_git(BEFORE_SETTING_COMMIT, tmp_path / "before")
    spec = load_spec(bundled_model_sidecar())
    assert set(spec.answers_from.values()) == {load_spec(before).model_id}
    photos = tmp_path / "photos"
    for i in range(IMAGES):
        builders.write_jpeg(photos / f"img{i:02d}.jpg", seed=800 + i)
    with Library(tmp_path / "data", before) as library:
        library.index(photos)
        said_before = {p.path: p.answers for p in library.predictions(photos)}
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        report = library.index(photos)
        assert (report.indexed, report.reused, report.predicted) == (0, IMAGES, IMAGES)
        said = {p.path: p.answers for p in library.predictions(photos)}
    for path, answers in said.items():
        for head in ("kind", "scene"):
            assert answers[head] == said_before[path][head]
        if answers["setting"].label == "home":
            assert answers["room"] == said_before[path]["room"]
        else:
            assert answers["room"].label is None


def test_another_embedder_embeds_everything_again(old_catalog: tuple[Path, Path], tmp_path: Path) -> None:
    data, photos = old_catalog
    tiny = write_tiny_model(tmp_path / "tiny")
    with Library(data, tiny) as library:
        assert library.vector_key == load_spec(tiny).model_id
        report = library.index(photos)
        assert (report.indexed, report.predicted) == (IMAGES, 0)
    assert sorted(_rows(data, "SELECT DISTINCT model_id FROM vectors")) == [
        (OLD_MODEL_ID,),
        ("tiny-test-model",),
    ]


def test_vectors_stored_under_two_names_of_one_embedding_become_one(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A folder indexed by the previous model and another by the installed one before this change:
    both keep their vectors, under the name the catalog held first."""
    spec = embedder.spec
    vector = np.full(spec.embedding_dim, 1 / np.sqrt(spec.embedding_dim), np.float32)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        with catalog.transaction():
            catalog.upsert_vectors(OLD_MODEL_ID, [("a" * 32, vector), ("b" * 32, vector)])
            catalog.upsert_vectors(spec.model_id, [("b" * 32, vector * 0), ("c" * 32, vector)])
        assert spec.embedding_names.index(OLD_MODEL_ID) < spec.embedding_names.index(spec.model_id)
        assert catalog.vector_key(spec.embedding_names) == OLD_MODEL_ID
        assert catalog.vector_hashes(OLD_MODEL_ID) == {"a" * 32, "b" * 32, "c" * 32}
        assert catalog.vector_hashes(spec.model_id) == set()
        assert np.array_equal(catalog.vectors(OLD_MODEL_ID, ["b" * 32])[0], vector)  # the first kept
        assert catalog.vector_key(spec.embedding_names) == OLD_MODEL_ID
    with Catalog(tmp_path / "fresh.sqlite") as fresh:
        assert fresh.vector_key(spec.embedding_names) == spec.embedding_names[0] == spec.embedding_id
