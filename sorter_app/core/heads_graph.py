"""A model's predictions from the vectors a catalog already holds, without decoding an image.

A model that shares its embedder with the one that indexed a folder (`ModelSpec.embedding_names`)
reuses every stored vector; what it lacks is its own predictions. Its heads read only the
embedding, so `sorter-train` writes them beside the full graph as a second, tiny ONNX graph
(embedding → probabilities; `training/heads_graph.py` cuts it out of the full graph, node for
node, so both give the same numbers). Running it over stored vectors costs microseconds per image
where decoding and embedding costs tens of milliseconds: installing a model with new heads (the
user's own label sets, say) over a 1M-photo catalog takes seconds, not hours.

Why an ONNX graph rather than the heads' weights in numpy: any head the full graph holds (linear,
MLP, whatever a later recipe appends after the embedding) runs the same way, by the same runtime
that runs the full model, with nothing about the heads' form written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from .catalog import Catalog
from .errors import ModelError
from .hashing import file_sha256
from .model_spec import ModelSpec

# Vectors read and run per step: ~20 MB of vectors, bounded memory at any catalog size.
CHUNK = 4096


class HeadsGraph:
    """The heads-only graph of a model: (n, dim) embeddings → each probability head's (n, labels)."""

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        self.spec = spec
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a few matrix products: threads cost more than they give
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(f"cannot load the heads of model {spec.model_id}: {exc}") from exc
        inputs = self._session.get_inputs()
        outputs = {o.name for o in self._session.get_outputs()}
        missing = [head for head in spec.own_heads if head not in outputs]
        if len(inputs) != 1 or missing:
            raise ModelError(f"{path.name} is not the heads graph of {spec.model_id} (lacks {missing})")
        self._input = inputs[0].name
        self.heads = spec.own_heads

    @classmethod
    def of(cls, spec: ModelSpec, sidecar_dir: Path) -> HeadsGraph | None:
        """The model's heads graph, checked against its sidecar; None when it has none."""
        path = checked_heads_file(spec, sidecar_dir)
        return None if path is None else cls(spec, path)

    def run(self, vectors: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
        results = self._session.run(self.heads, {self._input: np.ascontiguousarray(vectors, np.float32)})
        return {head: np.asarray(r, dtype=np.float32) for head, r in zip(self.heads, results, strict=True)}


def checked_heads_file(spec: ModelSpec, sidecar_dir: Path) -> Path | None:
    """The heads file the sidecar names, there and with the sha256 the sidecar gives; None when it
    names none. Settings checks a chosen model with it, so a model missing its heads is refused
    when chosen, not only when the next folder loads it."""
    if not spec.heads_file or not spec.own_heads:
        return None
    path = sidecar_dir / spec.heads_file
    if not path.is_file():
        raise ModelError(f"model heads file missing: {path}")
    if file_sha256(path) != spec.heads_sha256:
        raise ModelError(f"model heads file {path} does not match its sidecar's sha256")
    return path


def predict_stored(
    catalog: Catalog,
    graph: HeadsGraph,
    vector_key: str,
    hashes: list[str],
    *,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Store the model's predictions for `hashes` from their stored vectors, a chunk per commit;
    returns how many were done (fewer when cancelled: the next run does the rest)."""
    done = 0
    for start in range(0, len(hashes), CHUNK):
        if cancelled():
            break
        chunk = hashes[start : start + CHUNK]
        outputs = graph.run(catalog.vectors(vector_key, chunk))
        rows = [(h, head, outputs[head][i]) for i, h in enumerate(chunk) for head in graph.heads]
        with catalog.transaction():
            catalog.upsert_predictions(graph.spec.model_id, rows)
        done += len(chunk)
    return done
