"""`sorter labels export` writes a manifest `sorter-train curate` reads as it is: the set columns ride
beside the scene and room columns curate knows, and become the items' label-set labels."""

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
        # The bundled model's kind head may call these synthetic patterns graphics: curate must read
        # whatever it said (graphic → non_photo).
        said = {p.path: p.answers["kind"].label for p in library.predictions(photos)}
    items = read_manifest(tmp_path / "out" / "labels.csv")
    assert sorted(Path(item.path).name for item in items) == [f"img{i}.jpg" for i in range(6)]
    expected = {name: "non_photo" if kind == "graphic" else "photo" for name, kind in said.items()}
    assert {Path(item.path).name: item.kind for item in items} == expected
    # The label set rides along: what a person labelled, never the in-app model's guesses.
    sets = {Path(item.path).name: item.sets for item in items}
    assert sets == {
        "img0.jpg": {"keep": "yes"},
        "img1.jpg": {"keep": "yes"},
        "img2.jpg": {"keep": "no"},
        "img3.jpg": {"keep": "no"},
        "img4.jpg": {},
        "img5.jpg": {},
    }
