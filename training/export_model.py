"""`sorter-train export`: one ONNX graph (embedding + scene + room) and the sidecar the app reads.

The graph is the run's backbone and heads together, so the app gets predictions in the same pass
that embeds (no second model, no second read of the pixels). Before anything is written: every
output of onnxruntime must match torch (< 1e-4, as a batch and image by image), and with a frozen
backbone the embedding must match the embedder-only export, so catalogs indexed with the old
model keep valid vectors. The sidecar's `outputs` tell the app which outputs are probabilities,
their labels, and the thresholds below which it says "unknown" (chosen by `evaluate` on the
validation split); `extra` records the figures, the training config and the curated data's hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_write_bytes
from sorter_app.core.model_spec import ModelSpec

from .backbone import OnnxBackbone
from .efficientnet_lite import HEAD_CHANNELS, LiteEmbedder
from .errors import TrainingError
from .export_embedder import (
    INPUT_NAME,
    LITE0_PREPROCESS,
    ONNX_FILE,
    SIDECAR_FILE,
    lite0_model_spec,
    verification_batch,
    write_sidecar,
)
from .heads import SorterModel
from .labels import ROOMS, SCENES
from .models_md import SideRuns, update_models_md
from .onnx_export import export_onnx, onnx_session
from .pretrained import load_lite0
from .run_files import EVALUATION_FILE, load_run, read_json
from .run_log import command_entry, read_commands

OUTPUT_NAMES = ("embedding", "scene", "room")
PARITY_TOLERANCE = 1e-4
CREATED_BY = "sorter-train export"


@dataclass(frozen=True)
class ModelExport:
    onnx_path: Path
    sidecar_path: Path
    spec: ModelSpec
    parity_max_abs_diff: float
    installed: bool


def outputs_max_diff(
    model: torch.nn.Module, session: ort.InferenceSession, batch: NDArray[np.float32]
) -> float:
    """Largest |torch − onnxruntime| over every output, for the batch and for each image alone."""
    with torch.inference_mode():
        expected = [t.numpy() for t in model.eval()(torch.from_numpy(batch))]
    diffs = []
    runs = [(slice(0, batch.shape[0]), session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch}))]
    runs += [
        (slice(i, i + 1), session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch[i : i + 1]}))
        for i in range(batch.shape[0])
    ]
    for rows, got in runs:
        diffs += [float(np.max(np.abs(np.asarray(g) - e[rows]))) for g, e in zip(got, expected, strict=True)]
    return max(diffs)


def sidecar_outputs(thresholds: dict[str, float]) -> dict[str, Any]:
    return {
        "embedding": {"shape": ["batch", HEAD_CHANNELS], "l2_normalised": True},
        "scene": {"kind": "probabilities", "labels": list(SCENES), "unknown_below": thresholds["scene"]},
        "room": {
            "kind": "probabilities",
            "labels": list(ROOMS),
            "unknown_below": thresholds["room"],
            "only_when": {"scene": "indoor"},
        },
    }


def metrics_summary(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The figures worth carrying in the sidecar: overall test figures, per-source accuracy, probes."""
    out: dict[str, Any] = {"thresholds": evaluation["thresholds"], "app_view": evaluation["app_view"]}
    for head in ("scene", "room"):
        overall = {k: v for k, v in evaluation[head]["test"]["overall"].items() if k != "confusion"}
        section = {
            "test": overall,
            "test_confusion": evaluation[head]["test"]["overall"]["confusion"],
            "test_per_source_accuracy": {
                s: f["accuracy"] for s, f in evaluation[head]["test"]["per_source"].items()
            },
        }
        if "test_degraded" in evaluation[head]:
            section["degraded_probe_accuracy"] = evaluation[head]["test_degraded"]["overall"]["accuracy"]
            section["degraded_probe_per_source_accuracy"] = {
                s: f["accuracy"] for s, f in evaluation[head]["test_degraded"]["per_source"].items()
            }
        out[head] = section
    return out


def export_model(
    run_dir: Path,
    *,
    install: bool = False,
    models_dir: Path,
    datasets_dir: Path,
    holdout_runs: Sequence[Path] = (),
    compare_runs: Sequence[Path] = (),
    command: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> ModelExport:
    run = load_run(run_dir)
    if not (run_dir / EVALUATION_FILE).is_file():
        raise TrainingError(
            f"{run_dir} has no {EVALUATION_FILE}: run `sorter-train evaluate --run {run_dir}` first"
        )
    evaluation = read_json(run_dir / EVALUATION_FILE)
    if install and run.config.holdout_sources:
        raise TrainingError("this run held sources out of training; install a run trained on every source")
    thresholds = {head: float(evaluation["thresholds"][head]["threshold"]) for head in ("scene", "room")}
    model = SorterModel(run.backbone, run.heads).eval()
    pre = LITE0_PREPROCESS
    data = export_onnx(
        model, input_shape=(3, pre.size, pre.size), input_name=INPUT_NAME, output_name=OUTPUT_NAMES
    )
    session = onnx_session(data)
    batch = verification_batch(datasets_dir, pre)
    parity = outputs_max_diff(model, session, batch)
    log(f"onnxruntime vs torch: max abs diff {parity:.2e} over {batch.shape[0]} images and 3 outputs")
    if not parity < PARITY_TOLERANCE:
        raise TrainingError(f"onnxruntime and torch disagree: max abs diff {parity:.3g} ≥ {PARITY_TOLERANCE}")
    extra: dict[str, Any] = {
        "created_by": CREATED_BY,
        "parity_max_abs_diff": parity,
        "parity_images": int(batch.shape[0]),
        "finetuned": run.finetuned,
        "metrics": metrics_summary(evaluation),
        "train_config": run.config.to_json(),
        "curated_manifest_sha256": evaluation["manifest_sha256"],
        "training_summary": run.summary,
        "commands": read_commands(run_dir) + ([command_entry(command)] if command is not None else []),
    }
    if not run.finetuned:
        extra["embedding_from"] = embedder_identity(session, batch, log)
    side = SideRuns(
        holdout={str(p): read_json(p / EVALUATION_FILE) for p in holdout_runs},
        compare={str(p): read_json(p / EVALUATION_FILE) for p in compare_runs},
    )
    if side.holdout:
        extra["holdout_runs"] = {run: e["holdout"] for run, e in side.holdout.items()}
    spec = lite0_model_spec(
        hashlib.sha256(data).hexdigest(),
        id_prefix="image-sorter",
        preprocess=pre,
        outputs=sidecar_outputs(thresholds),
        extra=extra,
        heads_source="training/heads.py",
    )
    out_dir = run_dir / "export"
    _write(out_dir, data, spec)
    log(f"wrote {out_dir / ONNX_FILE} ({len(data) / 1e6:.1f} MB, {spec.model_id}) and {SIDECAR_FILE}")
    if install:
        _write(models_dir, data, spec)
        update_models_md(models_dir / "MODELS.md", spec, evaluation, side, len(data))
        log(f"installed into {models_dir} and updated MODELS.md")
    return ModelExport(out_dir / ONNX_FILE, out_dir / SIDECAR_FILE, spec, parity, install)


def _write(folder: Path, data: bytes, spec: ModelSpec) -> None:
    """The ONNX file first, then the sidecar that names its hash, each atomically."""
    atomic_write_bytes(folder / ONNX_FILE, data)
    write_sidecar(folder / SIDECAR_FILE, spec)


def embedder_identity(
    session: ort.InferenceSession, batch: NDArray[np.float32], log: Callable[[str], None]
) -> dict[str, Any]:
    """With a frozen backbone, the `embedding` output must be the embedder-only model's, so
    vectors already in users' catalogs stay comparable with new ones."""
    embedder = OnnxBackbone(LiteEmbedder(load_lite0()))
    reference = np.asarray(embedder.embed_normalised(batch))
    ours = np.asarray(session.run(["embedding"], {INPUT_NAME: batch})[0])
    diff = float(np.max(np.abs(ours - reference)))
    log(f"embedding vs the embedder-only model: max abs diff {diff:.2e}")
    if not diff < 1e-5:
        raise TrainingError(f"the frozen backbone's embedding differs from the embedder's by {diff:.3g}")
    sha = hashlib.sha256(embedder.onnx_bytes).hexdigest()
    return {"model_id": f"efficientnet-lite0-imagenet-{sha[:8]}", "sha256": sha, "max_abs_diff": diff}
