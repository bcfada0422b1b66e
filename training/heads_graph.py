"""The heads-only graph an exported model carries beside its full graph (the app's heads_graph.py).

Cut out of the full graph node for node (onnx's extractor: every node between the embedding output
and the head outputs, with their weights), so it cannot disagree with the full graph on what the
heads are; checked on real model input anyway. A model whose heads do not read the embedding alone
(a fine-tuned tail) gets none: the app then decodes what it must predict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_write_bytes
from sorter_app.core.model_spec import ModelSpec, load_spec

from .errors import TrainingError
from .onnx_export import onnx_session

HEADS_SUFFIX = "-heads.onnx"
# onnxruntime may fuse MatMul+Add differently in the two graphs: the last bits can differ.
HEADS_TOLERANCE = 1e-5


def heads_file_name(onnx_file: str) -> str:
    return onnx_file.removesuffix(".onnx") + HEADS_SUFFIX


def heads_only_graph(full: bytes, embedding_output: str, heads: list[str]) -> bytes | None:
    """embedding → heads, extracted from the full graph; None if a head needs more than the embedding."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "full.onnx", Path(tmp) / "heads.onnx"
        source.write_bytes(full)
        try:
            onnx.utils.extract_model(str(source), str(target), [embedding_output], heads, check_model=True)
        except (onnx.checker.ValidationError, ValueError, KeyError):
            return None
        model = onnx.load(str(target))
    if any(i.name != embedding_output for i in model.graph.input):
        return None  # a head reads the image (or a trunk activation), not only the embedding
    data: bytes = model.SerializeToString()
    return data


def heads_parity(full: bytes, heads: bytes, spec: ModelSpec, batch: NDArray[np.float32]) -> float:
    """Largest |heads graph on the full graph's embedding − the full graph's heads| over `batch`."""
    names = [spec.embedding_output, *spec.own_heads]
    outputs = onnx_session(full).run(names, {spec.input_name: batch})
    got = onnx_session(heads).run(spec.own_heads, {spec.embedding_output: outputs[0]})
    return max(float(np.max(np.abs(np.asarray(g) - e))) for g, e in zip(got, outputs[1:], strict=True))


def add_heads_graph(
    folder: Path,
    spec: ModelSpec,
    full: bytes,
    batch: NDArray[np.float32],
    log: Callable[[str], None] = print,
) -> ModelSpec:
    """Write the heads-only graph of `full` into `folder`; the spec that names it (unchanged when
    the heads cannot run from the embedding alone). Heads whose answers are copied from another
    model (`ModelSpec.answers_from`) are not in it."""
    heads = spec.own_heads
    data = heads_only_graph(full, spec.embedding_output, heads) if heads else None
    if data is None:
        # A heads graph left by the model this one replaces would answer with the old heads.
        (folder / heads_file_name(spec.onnx_file)).unlink(missing_ok=True)
        log("no heads graph: the heads do not read the embedding alone")
        return dataclasses.replace(spec, heads_file="", heads_sha256="")
    diff = heads_parity(full, data, spec, batch)
    if not diff <= HEADS_TOLERANCE:
        raise TrainingError(f"the heads graph disagrees with the full graph: max abs diff {diff:.3g}")
    name = heads_file_name(spec.onnx_file)
    atomic_write_bytes(folder / name, data)
    log(f"wrote {folder / name} ({len(data) / 1e3:.0f} kB; heads vs full graph: max abs diff {diff:.1e})")
    return dataclasses.replace(spec, heads_file=name, heads_sha256=hashlib.sha256(data).hexdigest())


def install_heads_graph(
    models_dir: Path,
    datasets_dir: Path,
    command: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> ModelSpec:
    """Give an installed model (exported before heads graphs existed) its heads graph; the full
    graph, and so the model id, stay as they are."""
    from .export_embedder import SIDECAR_FILE, verification_batch, write_sidecar
    from .run_log import command_entry

    spec = load_spec(models_dir / SIDECAR_FILE)
    full = (models_dir / spec.onnx_file).read_bytes()
    if hashlib.sha256(full).hexdigest() != spec.sha256:
        raise TrainingError(f"{spec.onnx_file} does not match its sidecar's sha256")
    updated = add_heads_graph(models_dir, spec, full, verification_batch(datasets_dir, spec.preprocess), log)
    if command is not None:
        commands = [*updated.extra.get("commands", []), command_entry(command)]
        updated = dataclasses.replace(updated, extra={**updated.extra, "commands": commands})
    write_sidecar(models_dir / SIDECAR_FILE, updated)
    return updated
