"""`sorter labels export` writes a manifest `sorter-train curate` reads as it is: the set columns ride
beside the scene and room columns curate knows."""

from __future__ import annotations

from pathlib import Path

from sorter_app.core.embedder import Embedder
from sorter_app.core.label_export import export_labels
from sorter_app.core.labelling import Labelling
from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from training.curate.inputs import read_manifest


def test_curate_reads_the_label_export(tmp_path: Path, embedder: Embedder) -> None:
    photos = tmp_path / "photos"
    for i in range(6):
        builders.write_jpeg(photos / f"img{i}.jpg", seed=40 + i)
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.__dict__["embedder"] = embedder
        library.index(photos)
        labelling = Labelling(library)
        labelling.store.create("keep", ["yes", "no"])
        labelling.label("keep", "yes", [photos / "img0.jpg", photos / "img1.jpg"])
        labelling.label("keep", "no", [photos / "img2.jpg", photos / "img3.jpg"])
        assert export_labels(labelling, photos, tmp_path / "out" / "labels.csv") == 6
    items = read_manifest(tmp_path / "out" / "labels.csv")
    assert sorted(Path(item.path).name for item in items) == [f"img{i}.jpg" for i in range(6)]
    assert {item.kind for item in items} == {"photo"}
