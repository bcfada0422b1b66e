"""What the app exports is a labelled source `sorter-train curate` takes as it is.

A real folder is indexed with the bundled model, one image is corrected to "kitchen", and the CSV
export is read by curate's own manifest reader and then curated into shards.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from training.curate.inputs import read_manifest
from training.curate.pipeline import CurateConfig, curate
from training.curate.progress import quiet
from training.labels import ROOMS, SCENES

IMAGES = 12


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the exported CSV, the corrected image); the CSV lives outside the photo folder."""
    tmp = tmp_path_factory.mktemp("export")
    photos = tmp / "photos"
    for i in range(IMAGES):
        builders.write_jpeg(photos / f"img{i:02d}.jpg", seed=300 + i)
    corrected = photos.resolve() / "img03.jpg"
    with Library(tmp / "data", bundled_model_sidecar()) as library:
        assert library.index(photos).indexed == IMAGES
        library.correct(photos, corrected, "kitchen")
        assert library.export(photos, tmp / "out" / "labels.csv") == IMAGES
    return tmp / "out" / "labels.csv", corrected


def test_the_manifest_reader_takes_the_export_and_the_correction(export: tuple[Path, Path]) -> None:
    manifest, corrected = export
    items = {item.path: item for item in read_manifest(manifest)}
    assert len(items) == IMAGES and {Path(path).parent for path in items} == {corrected.parent}
    item = items[str(corrected)]
    assert (item.scene, item.room, item.kind, item.source) == (
        "indoor",
        "kitchen",
        "photo",
        "image-sorter:photos",
    )
    assert item.file == corrected
    with manifest.open(newline="") as fh:
        label_sources = {row["path"]: row["label_source"] for row in csv.DictReader(fh)}
    assert label_sources[str(corrected)] == "corrected"
    assert set(label_sources.values()) <= {"corrected", "predicted", ""}


def test_curate_turns_the_export_into_shards_with_the_exported_labels(
    export: tuple[Path, Path], tmp_path: Path
) -> None:
    manifest, corrected = export
    given = {item.path: item for item in read_manifest(manifest)}
    result = curate(CurateConfig(out=tmp_path, manifests=(manifest,), shard_size=4, threads=2), log=quiet)
    # The bundled model's kind head may call some of these synthetic patterns graphics: the export
    # says so (kind "graphic"), and curate drops them as labelled non-photos.
    photos = {path: item for path, item in given.items() if item.kind == "photo"}
    assert str(corrected) in photos and len(photos) >= IMAGES // 2
    assert result["counts"]["input"] == IMAGES and result["counts"]["kept"] == len(photos)
    labels = {}
    for shard in result["shards"]:
        with np.load(tmp_path / shard["file"], allow_pickle=False) as arrays:
            for path, scene, room in zip(arrays["path"], arrays["scene"], arrays["room"], strict=True):
                labels[str(path)] = (SCENES[scene] if scene >= 0 else "", ROOMS[room] if room >= 0 else "")
    assert labels[str(corrected)] == ("indoor", "kitchen")
    assert labels == {path: (item.scene, item.room) for path, item in photos.items()}
