"""The bundled model on maps it was never shown: a town plan or a hiking sheet is a graphic, and a
graphic gets no scene and no room. Drawn here (`training/map_renders.py`: a family of maps that is
not in training), indexed by the real Library with the real ONNX model, beside real photos."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar
from training import graphic_sources, map_renders

MAPS = 12


@pytest.fixture(scope="module")
def said(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str | None]]:
    graphic_sources.qt_app()
    folder = tmp_path_factory.mktemp("maps") / "folder"
    folder.mkdir()
    for i in range(MAPS):
        rng = random.Random(f"test/{i}")
        draw = map_renders.street_map if i % 2 else map_renders.topographic_map
        image = map_renders.annotate(draw(rng, rng.randrange(300, 800), rng.randrange(300, 600)), rng)
        assert image.save(str(folder / f"map_{i:02d}.png"))
    rooms = sorted((datasets / "house_rooms").rglob("*.jpg"))[::400][:4]
    for i, path in enumerate(rooms):
        shutil.copyfile(path, folder / f"photo_{i}.jpg")
    with Library(folder.parent / "data", bundled_model_sidecar()) as library:
        library.index(folder)
        return {
            p.path: {head: answer.label for head, answer in p.answers.items()}
            for p in library.predictions(folder)
        }


def test_drawn_maps_are_graphics_and_get_no_scene(said: dict[str, dict[str, str | None]]) -> None:
    maps = {name: answers for name, answers in said.items() if name.startswith("map_")}
    assert len(maps) == MAPS
    graphics = [name for name, answers in maps.items() if answers["kind"] == "graphic"]
    assert len(graphics) >= MAPS - 1, maps
    assert all(maps[name]["scene"] is None and maps[name]["room"] is None for name in graphics)
    assert not any(answers["scene"] in ("indoor", "outdoor") for answers in maps.values()), maps


def test_photos_beside_them_are_still_photos_with_a_scene(said: dict[str, dict[str, str | None]]) -> None:
    photos = {name: answers for name, answers in said.items() if name.startswith("photo_")}
    assert len(photos) == 4
    assert all(answers["kind"] == "photo" and answers["scene"] == "indoor" for answers in photos.values()), (
        photos
    )
