"""`sorter-train export-embedder`: the bundled ImageNet embedder, checked before it is written.

Order matters: classify a known photo (wrong weights or preprocessing fail here), export, compare
onnxruntime with torch on real photos, and only then replace the ONNX file and its sidecar, each
atomically. The sidecar records what the app needs (input, preprocessing, output) and where the
weights came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.typing import NDArray
from PIL import Image

from sorter_app.core.atomic import atomic_write_bytes
from sorter_app.core.images import load_image
from sorter_app.core.model_spec import ModelSpec, Preprocess
from sorter_app.core.preprocess import normalise_batch, to_model_pixels

from .efficientnet_lite import HEAD_CHANNELS, LiteEmbedder
from .errors import TrainingError
from .imagenet_check import ESPRESSO_PHOTO, Prediction, check_espresso
from .onnx_export import OPSET, export_onnx, onnx_session, torch_vs_onnx_max_diff
from .pretrained import PretrainedWeights, lite0_weights, load_lite0

ONNX_FILE = "image-sorter.onnx"
SIDECAR_FILE = "image-sorter.json"
INPUT_NAME = "image"
OUTPUT_NAME = "embedding"
ARCHITECTURE = "training/efficientnet_lite.py"
CREATED_BY = "sorter-train export-embedder"
PARITY_TOLERANCE = 1e-4

# The TF-Lite builder normalises with MEAN_RGB=127, STDDEV_RGB=128 (on 0-255 pixels): the weights
# were trained that way, and it gives more confident, correct ImageNet answers than ImageNet mean/std.
LITE0_PREPROCESS = Preprocess(
    size=224,
    mean=(127 / 255, 127 / 255, 127 / 255),
    std=(128 / 255, 128 / 255, 128 / 255),
    resize="shorter_side",
    crop="center",
    resample="bilinear",
    layout="NCHW",
)

_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    sidecar_path: Path
    spec: ModelSpec
    parity_max_abs_diff: float
    parity_images: int
    espresso: Prediction | None


def export_embedder(
    out_dir: Path,
    datasets_dir: Path,
    *,
    sanity_check: bool = True,
    log: Callable[[str], None] = print,
) -> ExportResult:
    pre = LITE0_PREPROCESS
    espresso_photo = datasets_dir / ESPRESSO_PHOTO
    if sanity_check and not espresso_photo.is_file():
        raise TrainingError(
            f"sanity-check photo not found: {espresso_photo} (pass --datasets DIR, set $SORTER_DATASETS, "
            "or skip the check with --no-sanity-check)"
        )
    weights = lite0_weights()
    net = load_lite0(weights)
    log(f"loaded {weights.path.name} from {weights.package} {weights.package_version}")

    espresso = None
    if sanity_check:
        espresso = check_espresso(net, espresso_photo, pre)
        log(f"sanity check: {espresso_photo.name} → {espresso.label} ({espresso.probability:.1%})")
    else:
        log("sanity check skipped (--no-sanity-check)")

    embedder = LiteEmbedder(net).eval()
    data = export_onnx(
        embedder, input_shape=(3, pre.size, pre.size), input_name=INPUT_NAME, output_name=OUTPUT_NAME
    )
    batch = verification_batch(datasets_dir, pre)
    parity = torch_vs_onnx_max_diff(embedder, onnx_session(data), INPUT_NAME, batch)
    log(f"onnxruntime vs torch: max abs diff {parity:.2e} over {batch.shape[0]} images")
    if not parity < PARITY_TOLERANCE:
        raise TrainingError(f"onnxruntime and torch disagree: max abs diff {parity:.3g} ≥ {PARITY_TOLERANCE}")

    sha256 = hashlib.sha256(data).hexdigest()
    spec = embedder_spec(sha256, weights, parity, int(batch.shape[0]), espresso)
    onnx_path, sidecar_path = out_dir / ONNX_FILE, out_dir / SIDECAR_FILE
    atomic_write_bytes(onnx_path, data)
    write_sidecar(sidecar_path, spec)
    log(f"wrote {onnx_path} ({len(data) / 1e6:.1f} MB, sha256 {sha256[:12]}…) and {sidecar_path.name}")
    return ExportResult(onnx_path, sidecar_path, spec, parity, int(batch.shape[0]), espresso)


def embedder_spec(
    sha256: str, weights: PretrainedWeights, parity: float, parity_images: int, espresso: Prediction | None
) -> ModelSpec:
    check = None
    if espresso is not None:
        check = {
            "photo": ESPRESSO_PHOTO.as_posix(),
            "top1": espresso.label,
            "probability": espresso.probability,
        }
    return lite0_model_spec(
        sha256,
        id_prefix="efficientnet-lite0-imagenet",
        preprocess=LITE0_PREPROCESS,
        outputs={OUTPUT_NAME: {"shape": ["batch", HEAD_CHANNELS], "l2_normalised": True}},
        weights=weights,
        extra={
            "parity_max_abs_diff": parity,
            "parity_images": parity_images,
            "created_by": CREATED_BY,
            "imagenet_sanity_check": check,
        },
    )


def lite0_model_spec(
    sha256: str,
    *,
    id_prefix: str,
    preprocess: Preprocess,
    outputs: dict[str, dict[str, Any]],
    extra: dict[str, Any],
    weights: PretrainedWeights | None = None,
    heads_source: str | None = None,
) -> ModelSpec:
    """The sidecar of an ONNX graph on the Lite0 embedder (the embedder alone, or it with heads).

    Its id ends in its own hash, so two different graphs never share an id; the embedding output,
    its width, the input name and the weights' provenance are the same for every such graph, and
    so are the versions that made it (recorded in `extra` beside what the caller adds).
    """
    weights = weights or lite0_weights()
    source = {**weights.provenance(), "architecture": ARCHITECTURE}
    if heads_source is not None:
        source["heads"] = heads_source
    versions = {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__}
    return ModelSpec(
        model_id=f"{id_prefix}-{sha256[:8]}",
        onnx_file=ONNX_FILE,
        sha256=sha256,
        input_name=INPUT_NAME,
        preprocess=preprocess,
        embedding_output=OUTPUT_NAME,
        embedding_dim=HEAD_CHANNELS,
        outputs=outputs,
        source=source,
        extra={**versions, "opset": OPSET, **extra},
    )


def write_sidecar(path: Path, spec: ModelSpec) -> None:
    text = json.dumps(spec.to_json(), indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def verification_batch(datasets_dir: Path, pre: Preprocess) -> NDArray[np.float32]:
    """Real sample photos when the datasets are present, plus built images that always are.

    Pixels go through the app's own preprocessing, so parity covers the path the app runs.
    """
    images = [load_image(path.read_bytes(), min_side=pre.size).image for path in sample_photos(datasets_dir)]
    images.extend(built_images())
    pixels = np.stack([to_model_pixels(img, pre) for img in images])
    return normalise_batch(pixels, pre)


def sample_photos(datasets_dir: Path) -> list[Path]:
    folder = datasets_dir / "sample_photos"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in _PHOTO_SUFFIXES)


def built_images(seed: int = 0) -> list[Image.Image]:
    """Noise, a gradient and a flat colour: cover saturated activations and near-constant inputs."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 300, dtype=np.float64)
    gradient = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 255 - ramp[None, :]), axis=-1)
    return [
        Image.fromarray(noise, "RGB"),
        Image.fromarray(gradient.astype(np.uint8), "RGB"),
        Image.new("RGB", (256, 256), (200, 40, 40)),
    ]
