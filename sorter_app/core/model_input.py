"""What indexing needs from one file's pixels, computed where the file is decoded.

`prepare_model_input` runs in a decode worker (decode_pool.py) and sends back only the model's
crop (150 KB) and what the catalog records about the image — never the decoded image itself. It
imports no model runtime, so workers stay small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .errors import ImageError
from .images import load_image_file
from .layout import layout_signature
from .model_spec import Preprocess
from .preprocess import to_model_pixels


@dataclass(frozen=True)
class ModelInput:
    pixels: NDArray[np.uint8]  # (size, size, 3), see preprocess.to_model_pixels
    width: int
    height: int
    format: str
    frames: int
    layout: bytes  # see layout.py


def prepare_model_input(path: str, pre: Preprocess) -> ModelInput | str:
    """The model's input and the image's facts for the file at `path`, or the reason it has none."""
    try:
        loaded = load_image_file(path, min_side=pre.size)
        pixels = to_model_pixels(loaded.image, pre)
        layout = layout_signature(loaded.image)
    except ImageError as exc:
        return str(exc)
    except MemoryError:
        return "not enough memory to prepare this image"
    except Exception as exc:
        return f"cannot prepare image: {exc}"
    return ModelInput(pixels, loaded.width, loaded.height, loaded.format, loaded.frames, layout)
