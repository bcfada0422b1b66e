"""Training's view of preprocessing, built only from the sidecar's `Preprocess`.

The app re-implements the same steps in numpy (`sorter_app.core.preprocess`) because it must not
import torch; a test holds the two to identical tensors. Images are decoded by the app's own
loader so EXIF orientation, draft-mode JPEG decoding and mode conversion cannot drift either.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torchvision import transforms

from sorter_app.core.images import load_image
from sorter_app.core.model_spec import Preprocess

_INTERPOLATION = {
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "nearest": transforms.InterpolationMode.NEAREST,
}


def eval_transform(pre: Preprocess) -> transforms.Compose:
    """PIL RGB image → float32 (3, size, size) tensor, exactly as the app feeds the model."""
    if pre.resize != "shorter_side" or pre.crop != "center" or pre.layout != "NCHW":
        raise ValueError(f"unsupported preprocessing {pre.resize}/{pre.crop}/{pre.layout}")
    try:
        interpolation = _INTERPOLATION[pre.resample]
    except KeyError:
        raise ValueError(f"unsupported resample {pre.resample!r}") from None
    return transforms.Compose(
        [
            transforms.Resize(pre.size, interpolation=interpolation),
            transforms.CenterCrop(pre.size),
            transforms.ToTensor(),
            transforms.Normalize(mean=list(pre.mean), std=list(pre.std)),
        ]
    )


def load_for_eval(path: Path, pre: Preprocess) -> Image.Image:
    """Decode as the app does, including the draft-mode shortcut sized for `pre.size`."""
    return load_image(path.read_bytes(), min_side=pre.size).image
