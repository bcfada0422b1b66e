"""`sorter-train export`: one ONNX graph the app loads, parity with torch, the sidecar, --install."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import training.export_model as export_module
from sorter_app.core.embedder import Embedder
from sorter_app.core.model_spec import load_spec
from sorter_app.core.preprocess import normalise_batch
from training.cli import main
from training.errors import TrainingError
from training.export_embedder import LITE0_PREPROCESS, ExportResult
from training.export_model import export_model, outputs_max_diff
from training.heads import SorterModel
from training.labels import ROOMS, SCENES
from training.models_md import BEGIN, END, SideRuns, render_section
from training.onnx_export import onnx_session
from training.run_files import load_run
from training.train import train

from .curated_shards import built_image, shared_curated, shared_run, tiny_config

NO_DATASETS = Path("/nonexistent-datasets")  # parity on built images only: fast and always there


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def installed(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    (models / "MODELS.md").write_text("# Bundled models\n\nHand-written notes that must survive.\n")
    export_model(run_dir, install=True, models_dir=models, datasets_dir=NO_DATASETS, log=print)
    return models


def _pixels() -> np.ndarray:
    return np.stack([built_image(s, r, 4000 + i, 0.0) for i, (s, r) in enumerate([(0, 1), (1, -1), (0, 4)])])


def test_the_app_loads_the_export_and_gets_embedding_scene_and_room(
    installed: Path, exported: ExportResult
) -> None:
    ours = Embedder.from_sidecar(installed / "image-sorter.json", threads=2)
    embedder_only = Embedder.from_sidecar(exported.sidecar_path, threads=2)
    pixels = _pixels()
    out = ours.run(pixels)
    assert set(out) == {"embedding", "scene", "room"}
    assert out["scene"].shape == (3, 2) and out["room"].shape == (3, 6)
    for head in ("scene", "room"):
        assert np.allclose(out[head].sum(axis=1), 1.0, atol=1e-5)
        assert (out[head] >= 0).all()
    assert np.max(np.abs(out["embedding"] - embedder_only.embed(pixels))) <= 1e-5
    assert np.allclose(np.linalg.norm(out["embedding"], axis=1), 1.0, atol=1e-5)
    assert out["scene"][1].argmax() == SCENES.index("outdoor")  # the sky picture


def test_sidecar_declares_the_outputs_the_app_reads(installed: Path, run_dir: Path) -> None:
    spec = load_spec(installed / "image-sorter.json")
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    t_scene, t_room = (evaluation["thresholds"][h]["threshold"] for h in ("scene", "room"))
    assert spec.outputs == {
        "embedding": {"shape": ["batch", 1280], "l2_normalised": True},
        "scene": {"kind": "probabilities", "labels": list(SCENES), "unknown_below": t_scene},
        "room": {
            "kind": "probabilities",
            "labels": list(ROOMS),
            "unknown_below": t_room,
            "only_when": {"scene": "indoor"},
        },
    }
    data = (installed / "image-sorter.onnx").read_bytes()
    assert spec.sha256 == hashlib.sha256(data).hexdigest()
    assert spec.model_id == f"image-sorter-{spec.sha256[:8]}"
    assert spec.preprocess == LITE0_PREPROCESS
    assert (spec.input_name, spec.embedding_output, spec.embedding_dim) == ("image", "embedding", 1280)
    curated = Path(json.loads((run_dir / "config.json").read_text())["data"])
    manifest_sha = hashlib.sha256((curated / "manifest.json").read_bytes()).hexdigest()
    assert spec.extra["curated_manifest_sha256"] == manifest_sha
    assert spec.extra["train_config"] == json.loads((run_dir / "config.json").read_text())
    assert (
        spec.extra["metrics"]["scene"]["test"]["accuracy"]
        == evaluation["scene"]["test"]["overall"]["accuracy"]
    )
    assert spec.extra["embedding_from"]["model_id"].startswith("efficientnet-lite0-imagenet-")
    assert spec.extra["parity_max_abs_diff"] < 1e-4
    assert (run_dir / "export" / "image-sorter.onnx").read_bytes() == data


def test_one_self_contained_graph_with_a_dynamic_batch(installed: Path) -> None:
    model = onnx.load(str(installed / "image-sorter.onnx"), load_external_data=False)
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer)

    def dims(value: onnx.ValueInfoProto) -> list[str | int]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(v.name, dims(v)) for v in model.graph.input] == [("image", ["batch", 3, 224, 224])]
    assert [(v.name, dims(v)) for v in model.graph.output] == [
        ("embedding", ["batch", 1280]),
        ("scene", ["batch", 2]),
        ("room", ["batch", 6]),
    ]
    assert sorted(p.name for p in installed.iterdir()) == [
        "MODELS.md",
        "image-sorter.json",
        "image-sorter.onnx",
    ]


def test_onnxruntime_agrees_with_torch(installed: Path, run_dir: Path) -> None:
    run = load_run(run_dir)
    session = onnx_session(installed / "image-sorter.onnx")
    batch = normalise_batch(_pixels(), LITE0_PREPROCESS)
    assert outputs_max_diff(SorterModel(run.backbone, run.heads), session, batch) < 1e-4


def test_models_md_section_is_replaced_not_duplicated(installed: Path, run_dir: Path) -> None:
    first = (installed / "MODELS.md").read_text()
    assert "Hand-written notes that must survive." in first
    assert "### Reproduce" in first and "sorter-train train --data" not in first  # trained by the API here
    export_model(run_dir, install=True, models_dir=installed, datasets_dir=NO_DATASETS, log=print)
    second = (installed / "MODELS.md").read_text()
    assert second.count(BEGIN) == 1 and second.count(END) == 1
    assert second == first


def test_failed_parity_writes_nothing(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", 0.0)
    before = (run_dir / "export" / "image-sorter.onnx").stat().st_mtime_ns
    with pytest.raises(TrainingError, match="onnxruntime and torch disagree"):
        export_model(
            run_dir, install=True, models_dir=tmp_path / "models", datasets_dir=NO_DATASETS, log=print
        )
    assert not (tmp_path / "models").exists()
    assert (run_dir / "export" / "image-sorter.onnx").stat().st_mtime_ns == before


def test_export_needs_an_evaluation_and_installs_no_held_out_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    curated = shared_curated(tmp_path_factory.getbasetemp())
    run = tmp_path / "run"
    train(tiny_config(curated, epochs=1, degrade_views=0, holdout_sources=["soft_outdoor"]), run, log=print)
    assert main(["export", "--run", str(run), "--models-dir", str(tmp_path / "m")]) == 1
    assert "run `sorter-train evaluate" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(run), "--no-probe"]) == 0
    assert main(["export", "--run", str(run), "--install", "--models-dir", str(tmp_path / "m")]) == 1
    assert "held sources out of training" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_models_md_quotes_compared_and_held_out_runs(installed: Path, run_dir: Path) -> None:
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    held = dict(evaluation)
    held["holdout"] = {"soft_rooms": {h: evaluation[h]["test"]["overall"] for h in ("scene", "room")}}
    spec = load_spec(installed / "image-sorter.json")
    text = render_section(
        spec, evaluation, SideRuns(holdout={"/runs/h": held}, compare={"/runs/b": evaluation}), 1
    )
    assert "| soft_rooms (`/runs/h`) |" in text
    assert "| `/runs/b` | class_source | 2 |" in text  # the compared run, then this one
    assert text.count("| class_source | 2 |") == 2
    assert text.startswith(BEGIN) and text.rstrip().endswith(END)
