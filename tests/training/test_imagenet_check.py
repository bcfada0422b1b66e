"""The espresso check must pass on the real photo and fail loudly on anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from sorter_app.core.model_spec import Preprocess
from training.cli import main
from training.efficientnet_lite import EfficientNetLite
from training.errors import TrainingError
from training.imagenet_check import check_espresso, imagenet_categories


def test_imagenet_categories_are_available_offline() -> None:
    categories = imagenet_categories()
    assert len(categories) == 1000
    assert "espresso" in categories


def test_coffee_photo_is_an_espresso(
    lite0: EfficientNetLite, coffee_photo: Path, preprocess: Preprocess
) -> None:
    top = check_espresso(lite0, coffee_photo, preprocess)
    assert top.label == "espresso"
    assert top.probability > 0.5


def test_flat_colour_image_fails_with_a_clear_reason(
    lite0: EfficientNetLite, flat_colour_png: Path, preprocess: Preprocess
) -> None:
    with pytest.raises(
        TrainingError, match=r"sanity check failed: flat\.png should be classified 'espresso'"
    ):
        check_espresso(lite0, flat_colour_png, preprocess)


def test_missing_photo_is_reported(lite0: EfficientNetLite, tmp_path: Path, preprocess: Preprocess) -> None:
    with pytest.raises(TrainingError, match="not found"):
        check_espresso(lite0, tmp_path / "coffee.png", preprocess)


def test_cli_refuses_to_export_without_the_check_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models"
    assert main(["export-embedder", "--datasets", str(tmp_path / "nowhere"), "--out", str(out)]) == 1
    assert "--no-sanity-check" in capsys.readouterr().err
    assert not out.exists()
