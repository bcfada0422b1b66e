"""`sorter export` writes the kind head's answer (photo / graphic / artwork) in the kind column, and
curate must read such a file as a labelled source: graphic and artwork are what it calls non_photo."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.curate.inputs import read_manifest
from training.errors import TrainingError


def _manifest(tmp_path: Path, kinds: list[str]) -> Path:
    path = tmp_path / "labels.csv"
    rows = ["path,source,scene,room,kind"] + [f"img{i}.png,mine,,,{kind}" for i, kind in enumerate(kinds)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_graphic_and_artwork_are_non_photos_and_blank_is_a_photo(tmp_path: Path) -> None:
    items = read_manifest(_manifest(tmp_path, ["graphic", "artwork", "photo", "", "non_photo"]))
    assert [item.kind for item in items] == ["non_photo", "non_photo", "photo", "photo", "non_photo"]


def test_other_kinds_are_still_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="unknown kind 'sketch'"):
        read_manifest(_manifest(tmp_path, ["sketch"]))
