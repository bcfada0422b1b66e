"""Torch module → self-contained ONNX bytes, and the check that onnxruntime agrees with torch.

We use the TorchScript exporter (`dynamo=False`): for a static CNN it emits a plain
Conv/Clip/Add graph that onnxruntime fuses well, it needs no onnxscript at export time, and its
output is byte-stable across runs (see resources/models/MODELS.md), so the committed model can be
reproduced and checked by hash.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from .errors import TrainingError

OPSET = 17
BATCH_AXIS = "batch"


def export_onnx(
    module: torch.nn.Module,
    *,
    input_shape: tuple[int, int, int],
    input_name: str,
    output_name: str | Sequence[str],
    opset: int = OPSET,
) -> bytes:
    """Export with a dynamic batch axis; returns the bytes of one .onnx file with weights inside.

    `output_name` names the module's output, or each of its outputs when it returns a tuple.

    The export goes to a private temporary folder so that we can prove no external-data file was
    written next to it (the app ships and hashes exactly one file).
    """
    module = module.eval()
    output_names = [output_name] if isinstance(output_name, str) else list(output_name)
    dummy = torch.zeros((1, *input_shape), dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="sorter-export-") as tmp:
        target = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            # The legacy exporter announces itself (and an internal helper) with DeprecationWarnings;
            # choosing it is deliberate, and pytest turns our modules' DeprecationWarnings into errors.
            for message in ("You are using the legacy TorchScript-based", "The feature will be removed"):
                warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
            torch.onnx.export(
                module,
                (dummy,),
                str(target),
                dynamo=False,
                external_data=False,
                input_names=[input_name],
                output_names=output_names,
                opset_version=opset,
                dynamic_axes={name: {0: BATCH_AXIS} for name in [input_name, *output_names]},
            )
        written = sorted(p.name for p in Path(tmp).iterdir())
        if written != [target.name]:
            raise TrainingError(f"ONNX export wrote external data files {written}; expected one file")
        data = target.read_bytes()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def onnx_session(model: Path | bytes) -> ort.InferenceSession:
    """A CPU session with onnxruntime's default optimisations, i.e. what the app will run."""
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def run_onnx(
    session: ort.InferenceSession, input_name: str, batch: NDArray[np.float32]
) -> NDArray[np.float32]:
    outputs = session.run(None, {input_name: batch})
    return np.asarray(outputs[0], dtype=np.float32)


def torch_vs_onnx_max_diff(
    module: torch.nn.Module, session: ort.InferenceSession, input_name: str, batch: NDArray[np.float32]
) -> float:
    """Largest |torch − onnxruntime| over the batch, and over each image run alone (batch of 1)."""
    with torch.inference_mode():
        expected = module.eval()(torch.from_numpy(batch)).numpy()
    diffs = [float(np.max(np.abs(run_onnx(session, input_name, batch) - expected)))]
    for index in range(batch.shape[0]):
        single = run_onnx(session, input_name, batch[index : index + 1])
        diffs.append(float(np.max(np.abs(single[0] - expected[index]))))
    return max(diffs)
