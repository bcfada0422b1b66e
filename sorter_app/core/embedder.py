"""The bundled ONNX model, run with onnxruntime on whatever CPU cores the machine has."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from .errors import ModelError
from .hashing import file_sha256
from .heads_graph import HeadsGraph
from .model_spec import ModelSpec, load_spec
from .preprocess import normalise_batch


class Embedder:
    """Turns batches of uint8 pixels into L2-normalised embeddings (and any other model outputs)."""

    def __init__(
        self, spec: ModelSpec, onnx_path: Path, *, threads: int | None = None, heads: HeadsGraph | None = None
    ) -> None:
        self.spec = spec
        self.heads = heads  # the heads alone, to predict from stored vectors (heads_graph.py)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle model threads must not spin: decode threads need those cores between batches
        # (measured: 165 → 185 images/s on 320-px photos, 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(f"cannot load model {onnx_path.name}: {exc}") from exc
        self._output_names = [o.name for o in self._session.get_outputs()]
        if spec.embedding_output not in self._output_names:
            raise ModelError(f"model {onnx_path.name} has no output {spec.embedding_output!r}")

    @classmethod
    def from_sidecar(cls, sidecar: Path, *, threads: int | None = None, verify: bool = True) -> Embedder:
        """Load the model a sidecar describes, refusing a file whose checksum does not match."""
        spec = load_spec(sidecar)
        onnx_path = sidecar.parent / spec.onnx_file
        if not onnx_path.is_file():
            raise ModelError(f"model file missing: {onnx_path}")
        if verify and file_sha256(onnx_path) != spec.sha256:
            raise ModelError(
                f"model file {onnx_path} does not match its sidecar's sha256 (corrupt or replaced)"
            )
        return cls(spec, onnx_path, threads=threads, heads=HeadsGraph.of(spec, sidecar.parent))

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    def run(self, pixels: NDArray[np.uint8]) -> dict[str, NDArray[np.float32]]:
        """All model outputs for a (B, H, W, 3) uint8 batch."""
        batch = normalise_batch(pixels, self.spec.preprocess)
        results = self._session.run(self._output_names, {self.spec.input_name: batch})
        return {
            name: np.asarray(value, dtype=np.float32)
            for name, value in zip(self._output_names, results, strict=True)
        }

    def embed(self, pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
        return self.run(pixels)[self.spec.embedding_output]
