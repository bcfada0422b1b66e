"""A one-photo ImageNet check that catches wrong weights, wrong padding or wrong preprocessing.

Every such mistake still yields a 1280-d vector and a model that "works", so we ask the classifier
head — which the embedder's features feed — to name a photo whose answer we know: scikit-image's
`coffee.png` is an espresso. The photo goes through the same transform as the sidecar describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.models import ResNet50_Weights

from sorter_app.core.model_spec import Preprocess

from .efficientnet_lite import EfficientNetLite
from .errors import TrainingError
from .transforms import eval_transform, load_for_eval

ESPRESSO_PHOTO = Path("sample_photos") / "scikit-image" / "coffee.png"
ESPRESSO = "espresso"


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names, in index order; shipped inside torchvision (no download)."""
    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def top_predictions(model: EfficientNetLite, photo: Path, pre: Preprocess, k: int = 5) -> list[Prediction]:
    categories = imagenet_categories()
    tensor = eval_transform(pre)(load_for_eval(photo, pre))
    with torch.inference_mode():
        probs = model.eval()(tensor.unsqueeze(0)).softmax(dim=1)[0]
    values, indices = probs.topk(k)
    return [Prediction(categories[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]


def check_espresso(model: EfficientNetLite, photo: Path, pre: Preprocess) -> Prediction:
    """Top-1 must be "espresso"; returns it (with its probability) or raises TrainingError."""
    if not photo.is_file():
        raise TrainingError(f"sanity-check photo not found: {photo}")
    top = top_predictions(model, photo, pre)
    if top[0].label != ESPRESSO:
        ranked = ", ".join(f"{p.label} {p.probability:.1%}" for p in top)
        raise TrainingError(
            f"ImageNet sanity check failed: {photo.name} should be classified {ESPRESSO!r}, "
            f"got {ranked}. The weights, the architecture or the preprocessing is wrong."
        )
    return top[0]
