"""Outliers: in a time-lapse of near-identical frames, the unrelated pictures come first."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.library import Library
from sorter_app.core.neighbours import FolderVectors
from sorter_app.core.outliers import Outlier, find_outliers
from sorter_app.paths import bundled_model_sidecar
from tests import builders

FRAMES = 25
STRAYS = ("stray-a.jpg", "stray-b.jpg")


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Outlier]]:
    tmp = tmp_path_factory.mktemp("outliers")
    folder = tmp / "timelapse"
    for frame in range(FRAMES):
        builders.write_frame(folder / f"frame{frame:02d}.jpg", seed=7, frame=frame)
    shutil.copyfile(folder / "frame00.jpg", folder / "frame00 copy.jpg")  # same content, two paths
    builders.write_jpeg(folder / STRAYS[0], seed=40)
    builders.write_jpeg(folder / STRAYS[1], seed=41)
    with Library(tmp / "data", bundled_model_sidecar()) as library:
        library.index(folder)
        yield library.outliers(folder)


def test_the_unrelated_pictures_rank_first(ranked: list[Outlier]) -> None:
    print("\n" + "\n".join(f"{o.score:.4f}  {o.path}" for o in ranked[:4]))
    assert {o.path for o in ranked[:2]} == set(STRAYS)
    assert ranked[1].score > 2 * ranked[2].score  # not a near tie with the oddest frame


def test_scores_are_sorted_most_unusual_first(ranked: list[Outlier]) -> None:
    scores = [o.score for o in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 2.0 for s in scores)  # 1 − a mean cosine


def test_every_path_appears_once(ranked: list[Outlier]) -> None:
    paths = [o.path for o in ranked]
    expected = [f"frame{i:02d}.jpg" for i in range(FRAMES)] + ["frame00 copy.jpg", *STRAYS]
    assert sorted(paths) == sorted(expected)


def test_byte_copies_share_one_score(ranked: list[Outlier]) -> None:
    score = {o.path: o.score for o in ranked}
    assert score["frame00.jpg"] == score["frame00 copy.jpg"]


def test_copies_of_one_image_are_listed_and_none_stands_out() -> None:
    one = FolderVectors(["h"], np.full((1, 4), 0.5, dtype=np.float32), [["a.jpg", "a copy.jpg"]])
    assert find_outliers(one) == [Outlier("a copy.jpg", 0.0), Outlier("a.jpg", 0.0)]


def test_an_empty_folder_has_no_outliers(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.index(tmp_path / "photos")
        assert library.outliers(tmp_path / "photos") == []
