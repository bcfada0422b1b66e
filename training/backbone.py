"""The backbone as the app runs it: an ONNX export of `LiteEmbedder`, executed by onnxruntime.

Re-embedding thousands of pixels (degraded views, probes, a fine-tuned backbone's evaluation) with
torch on 2 CPU cores runs at ~10 images/s; the same network in onnxruntime does ~200/s. The graph
is exported in memory from whatever weights the run has, so frozen and fine-tuned runs are
embedded alike, and for the frozen backbone it is byte-identical to the bundled embedder.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from sorter_app.core.model_spec import Preprocess
from sorter_app.core.preprocess import normalise_batch

from .efficientnet_lite import LiteEmbedder
from .errors import TrainingError
from .export_embedder import INPUT_NAME, LITE0_PREPROCESS, OUTPUT_NAME
from .onnx_export import export_onnx

EMBEDDINGS_AGREE = 1e-4  # shards' stored embeddings vs this backbone, max abs difference


class OnnxBackbone:
    """uint8 model pixels → L2-normalised embeddings, through onnxruntime."""

    def __init__(self, embedder: LiteEmbedder, pre: Preprocess = LITE0_PREPROCESS) -> None:
        self.pre = pre
        self.onnx_bytes = export_onnx(
            embedder.cpu().eval(),
            input_shape=(3, pre.size, pre.size),
            input_name=INPUT_NAME,
            output_name=OUTPUT_NAME,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self._session = ort.InferenceSession(
            self.onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed_normalised(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Embeddings of an already normalised [B, 3, S, S] batch."""
        return np.asarray(self._session.run(None, {INPUT_NAME: batch})[0], dtype=np.float32)

    def embed(
        self,
        pixels: NDArray[np.uint8],
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
    ) -> NDArray[np.float32]:
        chunks = []
        for start in range(0, pixels.shape[0], batch_size):
            batch = normalise_batch(pixels[start : start + batch_size], self.pre)
            chunks.append(self.embed_normalised(batch))
            if progress is not None:
                progress(min(start + batch_size, pixels.shape[0]), pixels.shape[0])
        if not chunks:
            return np.empty((0, 0), dtype=np.float32)
        return np.concatenate(chunks)


def check_stored_embeddings(
    backbone: OnnxBackbone, pixels: NDArray[np.uint8], stored: NDArray[np.float32]
) -> float:
    """Refuse shards embedded by another model: heads trained on them would not fit this backbone."""
    diff = float(np.max(np.abs(backbone.embed(pixels) - stored)))
    if not diff < EMBEDDINGS_AGREE:
        raise TrainingError(
            f"the shards' embeddings differ from this backbone's by up to {diff:.3g}: "
            "curated with another model? Re-run `sorter-train curate`."
        )
    return diff
