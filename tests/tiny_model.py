"""A tiny but real ONNX model with embedding, scene and room outputs, and its sidecar.

It runs in onnxruntime like the shipped model, and its answers are predictable: the mean of each
colour channel decides. Red images are confidently indoor kitchens, blue ones outdoor, grey ones
too uncertain to name, dark red ones indoor but of no confident room. With `kind=True` the model
also says what an image is, as the shipped model does: green images are graphics (so they get no
scene and no room), everything else a photo.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from sorter_app.core.hashing import file_sha256
from sorter_app.core.library import Library
from sorter_app.core.model_spec import ModelSpec, Preprocess

# Photos whose answers the tiny model's rule fixes, for tests of predictions and what builds on them.
COLOURS = {
    "red.png": (255, 0, 0),  # indoor, kitchen
    "dark-red.png": (150, 0, 0),  # indoor, room unsure
    "blue.png": (0, 0, 255),  # outdoor: no room
    "grey.png": (128, 128, 128),  # unsure of the scene: no room either
}

GRAPHIC = ("green.png", (0, 255, 0))  # a graphic for a model with a kind head

KINDS = ["photo", "graphic"]
SCENES = ["indoor", "outdoor"]
ROOMS = ["bathroom", "bedroom", "dining_room", "entrance_hall", "kitchen", "living_room"]


def write_tiny_model(models_dir: Path, *, heads: bool = True, kind: bool = False) -> Path:
    """Write image-sorter.onnx + image-sorter.json into `models_dir`; returns the sidecar path.

    The sidecar is written with sorted keys, as `sorter-train export` writes it ("room" before
    "scene"). Without `heads`, the sidecar declares only the embedding, like an embedder-only model;
    with `kind`, a kind head comes first and the scene applies only to photos.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    scene_weights = np.array(
        [[10.0, 0.0], [0.0, 0.0], [0.0, 10.0]], dtype=np.float32
    )  # red → indoor, blue → out
    room_weights = np.zeros((3, len(ROOMS)), dtype=np.float32)
    room_weights[0, ROOMS.index("kitchen")] = 4.0  # strong red → kitchen (p ≈ 0.92)
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("LpNormalization", ["means"], ["embedding"], axis=1, p=2),
        helper.make_node("MatMul", ["means", "scene_w"], ["scene_logits"]),
        helper.make_node("Softmax", ["scene_logits"], ["scene"], axis=1),
        helper.make_node("MatMul", ["means", "room_w"], ["room_logits"]),
        helper.make_node("Softmax", ["room_logits"], ["room"], axis=1),
    ]
    kind_weights = np.array([[0.0, 0.0], [0.0, 8.0], [0.0, 0.0]], dtype=np.float32)  # green → graphic
    kind_bias = np.array([2.0, 0.0], dtype=np.float32)  # otherwise a photo (grey: p ≈ 0.88)
    initialisers = [
        numpy_helper.from_array(scene_weights, "scene_w"),
        numpy_helper.from_array(room_weights, "room_w"),
    ]
    outputs = [
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 3]),
        helper.make_tensor_value_info("scene", TensorProto.FLOAT, ["batch", 2]),
        helper.make_tensor_value_info("room", TensorProto.FLOAT, ["batch", len(ROOMS)]),
    ]
    if kind:
        nodes += [
            helper.make_node("MatMul", ["means", "kind_w"], ["kind_product"]),
            helper.make_node("Add", ["kind_product", "kind_b"], ["kind_logits"]),
            helper.make_node("Softmax", ["kind_logits"], ["kind"], axis=1),
        ]
        initialisers += [
            numpy_helper.from_array(kind_weights, "kind_w"),
            numpy_helper.from_array(kind_bias, "kind_b"),
        ]
        outputs.append(helper.make_tensor_value_info("kind", TensorProto.FLOAT, ["batch", 2]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        outputs,
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx_path = models_dir / "image-sorter.onnx"
    onnx.save(model, onnx_path)
    spec = ModelSpec(
        model_id="tiny-test-model",
        onnx_file=onnx_path.name,
        sha256=file_sha256(onnx_path),
        input_name="image",
        preprocess=Preprocess(size=224, mean=(127 / 255,) * 3, std=(128 / 255,) * 3),
        embedding_output="embedding",
        embedding_dim=3,
        outputs={
            "embedding": {"shape": ["batch", 3], "l2_normalised": True},
            **(
                {
                    "scene": {
                        "kind": "probabilities",
                        "labels": SCENES,
                        "unknown_below": 0.7,
                        **({"only_when": {"kind": "photo"}} if kind else {}),
                    },
                    "room": {
                        "kind": "probabilities",
                        "labels": ROOMS,
                        "unknown_below": 0.5,
                        "only_when": {"scene": "indoor"},
                    },
                }
                if heads
                else {}
            ),
            **(
                {"kind": {"kind": "probabilities", "labels": KINDS, "unknown_below": 0.6}}
                if heads and kind
                else {}
            ),
        },
    )
    sidecar = models_dir / "image-sorter.json"
    sidecar.write_text(json.dumps(spec.to_json(), indent=2, sort_keys=True))
    return sidecar


def write_colour_photos(folder: Path) -> Path:
    """One solid-colour photo per entry of COLOURS in `folder` (created)."""
    folder.mkdir(parents=True)
    for name, colour in COLOURS.items():
        Image.new("RGB", (300, 240), colour).save(folder / name)
    return folder


@contextmanager
def colour_library(tmp_path: Path, photos: Path) -> Iterator[Library]:
    """A library on the tiny model (in `tmp_path`) with `photos` (write_colour_photos) indexed."""
    with Library(tmp_path / "data", write_tiny_model(tmp_path / "resources" / "models")) as library:
        library.index(photos)
        yield library
