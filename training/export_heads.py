"""`sorter-train export-heads`: the frozen embedder plus the heads `fit` made, as one ONNX graph.

Outputs: `embedding` (the embedder-only model's, checked bit for bit, so every catalog's vectors
stay valid), then `kind` (photo / graphic), `scene` (indoor / outdoor, shown only for a photo) and
`room` (shown only indoors). Linear heads read the embedding itself; a fine-tuned tail (recipe
`tail`) is a second branch from the trunk's activation, beside the untouched one; a tail on
enlarged views (`tail_up288`, for room) reads a second pass of the same trunk on the input
enlarged inside the graph. The sidecar carries the thresholds chosen on held-out sources and the
held-out figures they were chosen with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from sorter_app.core.atomic import atomic_write_bytes
from sorter_app.core.model_spec import ModelSpec, load_spec

from .efficientnet_lite import HEAD_CHANNELS, LiteEmbedder
from .enlarged_views import APP_SIZE, Enlarge, activation_shape, enlarge
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
from .export_model import embedder_identity
from .fit_selected import FIT_FILE, HEADS_FILE
from .heads_graph import add_heads_graph
from .labels import SCENES
from .onnx_export import export_onnx, onnx_session
from .pretrained import load_lite0
from .run_log import command_entry, read_commands
from .selection_data import HEAD_LABELS, HEADS
from .selection_md import recipe_of, update_selection_md
from .setting_head import remove_setting_md
from .tail_finetune import linear_layer, tuned_heads_from, tuned_tails
from .trunk import ACTIVATION_SHAPE, CUT_BLOCK, Tail, Trunk, unit_length

OUTPUT_NAMES = ("embedding", *HEADS)
PARITY_TOLERANCE = 1e-4
CREATED_BY = "sorter-train export-heads"
ONLY_WHEN = {"scene": {"kind": "photo"}, "room": {"scene": "indoor"}}


class TunedBranch(nn.Module):
    """trunk activation → the probabilities of the heads a fine-tuned tail answers, in `names`
    order: the tail `fit` saved under `prefix` (`tuned_heads_from`), with a softmax, as one module
    to export. Its parts keep the names `tail` and `heads`: the exported graph's are made from them."""

    def __init__(self, arrays: dict[str, NDArray[Any]], prefix: str = "") -> None:
        super().__init__()
        tuned = tuned_heads_from(arrays, prefix)
        self.tail, self.heads = tuned.tail, tuned.heads
        self.names = tuple(self.heads.keys())
        saved = tuned_tails(arrays)[prefix]
        self.enlarge = saved.enlarge  # 0: reads the trunk's activation of the input
        self.indoors_only = saved.indoors_only

    def forward(self, activation: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = unit_length(self.tail(activation))
        return tuple(F.softmax(self.heads[h](features), dim=-1) for h in self.names)


class HeadsModel(nn.Module):
    """image → (embedding, kind, scene, room probabilities)."""

    def __init__(self, arrays: dict[str, NDArray[Any]]) -> None:
        super().__init__()
        net = load_lite0()
        branches = [TunedBranch(arrays, prefix) for prefix in sorted(tuned_tails(arrays))]
        self.branches = nn.ModuleList(branches)
        # Plain values for forward; a branch for indoor photos only overrides an earlier one's answers.
        self.answers = [(branch.names, branch.enlarge, branch.indoors_only) for branch in branches]
        self.tail_heads = tuple(h for branch in branches for h in branch.names)
        linear = [h for h in HEADS if h not in self.tail_heads]  # the tails' heads are the branches'
        self.heads = nn.ModuleDict(
            {h: linear_layer(arrays[f"{h}/weight"], arrays[f"{h}/bias"]) for h in linear}
        )
        if self.tail_heads:
            self.trunk: nn.Module = Trunk(net, CUT_BLOCK)
            self.frozen_tail: nn.Module = Tail(net, CUT_BLOCK)
        else:
            self.embedder = LiteEmbedder(net)  # exactly the embedder-only graph

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        tuned: dict[str, torch.Tensor] = {}
        if not self.tail_heads:
            embedding = self.embedder(image)
        else:
            activation = self.trunk(image)
            embedding = unit_length(self.frozen_tail(activation))
            for branch, (names, size, indoors_only) in zip(self.branches, self.answers, strict=True):
                rows = indoor_rows(tuned["scene"]) if indoors_only else torch.arange(image.shape[0])
                seen = activation[rows] if not size else self.trunk(enlarge(image[rows], size))
                for name, answer in zip(names, branch(seen), strict=True):
                    tuned[name] = tuned[name].index_copy(0, rows, answer) if indoors_only else answer
        probs = [tuned[h] if h in tuned else F.softmax(self.heads[h](embedding), dim=-1) for h in HEADS]
        return (embedding, *probs)


INDOOR_GATE = 0.5


def indoor_rows(scene: torch.Tensor) -> torch.Tensor:
    """The rows whose scene is more likely indoor than not: every photo a room can be shown for
    (the app shows one only above the scene's higher threshold), as the graph's gate picks them."""
    return torch.nonzero(scene[:, SCENES.index("indoor")] >= INDOOR_GATE).flatten()


def sidecar_outputs(thresholds: dict[str, float]) -> dict[str, Any]:
    outputs: dict[str, Any] = {"embedding": {"shape": ["batch", HEAD_CHANNELS], "l2_normalised": True}}
    for head in HEADS:
        outputs[head] = {
            "kind": "probabilities",
            "labels": list(HEAD_LABELS[head]),
            "unknown_below": thresholds[head],
            **({"only_when": ONLY_WHEN[head]} if head in ONLY_WHEN else {}),
        }
    return outputs


GraphParts = tuple[list[Any], list[Any], list[Any]]  # initialisers, nodes, outputs


def append_linear_head(
    parts: GraphParts, embedding_output: str, head: str, weight: NDArray[Any], bias: NDArray[Any]
) -> None:
    """softmax(embedding · weightᵀ + bias) as the output `head`; `weight` is [classes, dim]."""
    initialisers, nodes, outputs = parts
    # Named as the torch export names head weights ("heads.…"), so tests tell them from the trunk's.
    w_name, b_name = f"heads.{head}.weight", f"heads.{head}.bias"
    initialisers += [
        numpy_helper.from_array(np.ascontiguousarray(np.asarray(weight, dtype=np.float32).T), w_name),
        numpy_helper.from_array(np.asarray(bias, dtype=np.float32), b_name),
    ]
    nodes += [
        helper.make_node("MatMul", [embedding_output, w_name], [f"{head}_product"]),
        helper.make_node("Add", [f"{head}_product", b_name], [f"{head}_logits"]),
        helper.make_node("Softmax", [f"{head}_logits"], [head], axis=1),
    ]
    outputs.append(helper.make_tensor_value_info(head, TensorProto.FLOAT, ["batch", int(np.shape(bias)[0])]))


def heads_on_graph(base: Path, embedding_output: str, arrays: dict[str, NDArray[Any]]) -> bytes:
    """The installed model's graph, cut down to its embedding, with the heads appended: a linear
    head on the embedding, or, for the heads of a fine-tuned tail, the tuned copy of the tail
    branching off the trunk's activation inside that same graph.

    Re-exporting the embedder from torch on another machine (or another torch build) gives the
    same network as a slightly different graph, whose floats differ in the last bits (~1e-6);
    keeping the installed graph node for node keeps the embedding bit-identical, so every vector
    in users' catalogs stays exactly what this model computes."""
    model = onnx.load(str(base))
    graph = model.graph
    needed, kept = {embedding_output}, []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    initialisers = [i for i in graph.initializer if i.name in needed]
    outputs = [o for o in graph.output if o.name == embedding_output]
    nodes = list(reversed(kept))
    answered: dict[str, str] = {}  # head → the tensor that answers it so far
    opset = model.opset_import[0].version
    image = graph.input[0].name
    tails = sorted(tuned_tails(arrays).items())
    trunk = trunk_activation(model, nodes) if tails else ""
    for i, (prefix, saved) in enumerate(tails):
        heads, size = saved.heads, saved.enlarge
        activation, gate = trunk, None
        if saved.indoors_only:
            if not size or "scene" not in answered or not set(heads) <= set(answered):
                raise TrainingError(
                    "a tail for indoor photos only reads enlarged views, after a tail that answers "
                    "the scene and, for the other photos, its heads"
                )
            gate = _indoor_gate(image, answered["scene"], prefix)
            nodes += gate.node
            initialisers += gate.initializer
        if size:
            source = gate.output[0].name if gate else image
            enlarged = _enlarged_trunk(nodes, image, source, trunk, size, opset=opset)
            nodes += enlarged.node
            initialisers += enlarged.initializer
            activation = enlarged.output[0].name
        # A head that a later branch answers for indoor photos, or that this branch answers for
        # them only (and scatters into the earlier answer), gets an inner name; the last answer to
        # a head is the graph's output of that name.
        later = {h for _, t in tails[i + 1 :] if t.indoors_only for h in t.heads}
        inner = {h: f"tuned/{prefix}{h}/out" for h in heads if gate or h in later}
        branch = _tuned_branch(arrays, prefix, activation, opset=opset, outputs=inner)
        initialisers += branch.initializer
        nodes += branch.node
        for head in heads:
            name = inner.get(head, head)
            if gate:
                merged = head if head not in later else f"tuned/{prefix}{head}/merged"
                indices = gate.output[1].name
                nodes.append(
                    helper.make_node(
                        "ScatterND",
                        [answered[head], indices, name],
                        [merged],
                        name=f"tuned/{prefix}scatter/{head}",
                    )
                )
                name = merged
            answered[head] = name
    for head in HEADS:
        if head in answered:
            classes = len(HEAD_LABELS[head])
            outputs.append(helper.make_tensor_value_info(head, TensorProto.FLOAT, ["batch", classes]))
            continue
        append_linear_head(
            (initialisers, nodes, outputs),
            embedding_output,
            head,
            arrays[f"{head}/weight"],
            arrays[f"{head}/bias"],
        )
    new_graph = helper.make_graph(nodes, "image-sorter", list(graph.input), outputs, initialisers)
    new_model = helper.make_model(new_graph, opset_imports=list(model.opset_import))
    new_model.ir_version = model.ir_version
    onnx.checker.check_model(new_model, full_check=True)
    serialised: bytes = new_model.SerializeToString()
    return serialised


def trunk_activation(model: onnx.ModelProto, nodes: Sequence[onnx.NodeProto]) -> str:
    """The tensor the tail starts from: what block `CUT_BLOCK`'s expand conv reads, checked to be of
    the trunk activation's shape (the torch export names every node after its module)."""
    shapes = {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim[1:])
        for v in onnx.shape_inference.infer_shapes(model).graph.value_info
    }
    expand = f"/_blocks.{CUT_BLOCK}/_expand_conv/Conv"
    found: list[str] = [node.input[0] for node in nodes if node.name.endswith(expand)]
    if len(found) != 1 or shapes.get(found[0]) != ACTIVATION_SHAPE:
        raise TrainingError(
            f"no node named …{expand} reading a {ACTIVATION_SHAPE} tensor in the installed graph: "
            "not a Lite0 trunk exported by sorter-train"
        )
    return found[0]


def _tuned_branch(
    arrays: dict[str, NDArray[Any]],
    prefix: str,
    activation: str,
    *,
    opset: int,
    outputs: dict[str, str] | None = None,
) -> onnx.GraphProto:
    """The fine-tuned tail saved under `prefix` and its heads as graph parts reading `activation`:
    every name of its own prefixed with `tuned/` (`tuned/up288/` for a tail on enlarged views), so
    none can clash with the installed graph's; outputs named by head, or as `outputs` says."""
    module = TunedBranch(arrays, prefix)
    exported = onnx.load_from_string(
        export_onnx(
            module,
            input_shape=activation_shape(module.enlarge) if module.enlarge else ACTIVATION_SHAPE,
            input_name="activation",
            output_name=module.names,
            opset=opset,
        )
    ).graph
    named = {n: (outputs or {}).get(n, n) for n in module.names}
    return _grafted(exported, {"activation": activation, **named}, f"tuned/{prefix}")


def _grafted(exported: onnx.GraphProto, rename: dict[str, str], prefix: str) -> onnx.GraphProto:
    """`exported` with every node, tensor and weight name not in `rename` prefixed with `prefix`."""

    def renamed(name: str) -> str:
        return name if not name else rename.setdefault(name, f"{prefix}{name}")

    for node in exported.node:
        node.name = f"{prefix}{node.name}"
        node.input[:] = [renamed(n) for n in node.input]
        node.output[:] = [renamed(n) for n in node.output]
    for initialiser in exported.initializer:
        initialiser.name = renamed(initialiser.name)
    for value in exported.output:
        value.name = renamed(value.name)
    return exported


def _indoor_gate(image: str, scene: str, prefix: str) -> onnx.GraphProto:
    """Graph parts picking the rows whose `scene` probabilities are more likely indoor than not (as
    `indoor_rows` does): outputs the input's images of those rows, [K, 3, 224, 224], and their
    indices as ScatterND wants them, [K, 1]. ONNX Runtime runs the branch after it on K = 0 rows
    too (an all-outdoor batch)."""
    if len(SCENES) != 2:  # with a third scene class, the most likely one could be under 0.5
        raise TrainingError("the indoor gate is written for two scene classes")
    name = f"{prefix}gate/"
    constants: dict[str, NDArray[Any]] = {
        "indoor": np.array(SCENES.index("indoor"), np.int64),
        "half": np.array(INDOOR_GATE, np.float32),
        "flat": np.array([-1], np.int64),
        "column": np.array([1], np.int64),
    }
    nodes = [
        helper.make_node("Gather", [scene, f"{name}indoor"], [f"{name}p"], axis=1),
        helper.make_node("GreaterOrEqual", [f"{name}p", f"{name}half"], [f"{name}mask"]),
        helper.make_node("NonZero", [f"{name}mask"], [f"{name}nonzero"]),
        helper.make_node("Reshape", [f"{name}nonzero", f"{name}flat"], [f"{name}rows"]),
        helper.make_node("Gather", [image, f"{name}rows"], [f"{name}images"], axis=0),
        helper.make_node("Unsqueeze", [f"{name}rows", f"{name}column"], [f"{name}indices"]),
    ]
    for node in nodes:
        node.name = node.output[0]
    weights = [numpy_helper.from_array(v, f"{name}{k}") for k, v in constants.items()]
    outputs = [
        helper.make_tensor_value_info(f"{name}images", TensorProto.FLOAT, None),
        helper.make_tensor_value_info(f"{name}indices", TensorProto.INT64, None),
    ]
    return helper.make_graph(nodes, "gate", [], outputs, weights)


def _enlarged_trunk(
    nodes: Sequence[onnx.NodeProto], image: str, source: str, activation: str, size: int, *, opset: int
) -> onnx.GraphProto:
    """Graph parts computing the trunk's activation of `source` (the input `image`, or the rows of
    it a gate picked) enlarged to `size` px: a Resize (exported from `enlarge`, so it is torch's
    bilinear), then a copy of the installed graph's own trunk nodes reading it. The copies read the
    same weights by name, so the model grows by a few nodes, not by a second trunk's weights, and
    the trunk cannot differ between the two passes. The output is `up<size>/<activation>`."""
    resize = onnx.load_from_string(
        export_onnx(
            Enlarge(size),
            input_shape=(3, APP_SIZE, APP_SIZE),
            input_name="image",
            output_name="enlarged",
            opset=opset,
        )
    ).graph
    prefix = f"up{size}/"
    resized = _grafted(resize, {"image": source}, prefix)
    made = {out: node for node in nodes for out in node.output}
    needed, trunk = [activation], {}
    while needed:
        name = needed.pop()
        node = made.get(name)
        if node is None or id(node) in trunk:
            continue  # the image, a weight, or a node already copied
        trunk[id(node)] = node
        needed.extend(node.input)
    copied = []
    for node in nodes:  # in the installed graph's order, which is topological
        if id(node) not in trunk:
            continue
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{prefix}{node.name}"
        copy.input[:] = [
            resized.output[0].name if n == image else f"{prefix}{n}" if n in made else n for n in node.input
        ]
        copy.output[:] = [f"{prefix}{n}" for n in node.output]
        copied.append(copy)
    out = helper.make_tensor_value_info(f"{prefix}{activation}", TensorProto.FLOAT, None)
    return helper.make_graph([*resized.node, *copied], "enlarged", [], [out], list(resized.initializer))


def shared_embedding(base: ModelSpec) -> dict[str, Any]:
    """`extra.embedding_from` of a model whose embedding is `base`'s, bit for bit: the embedder,
    and every name a catalog may hold its vectors under (`ModelSpec.embedding_names`)."""
    identity = {**base.extra.get("embedding_from", {"model_id": base.embedding_id}), "max_abs_diff": 0.0}
    identity["same_graph_as"] = base.model_id
    identity["stored_as"] = [name for name in base.embedding_names if name != identity["model_id"]]
    return identity


def _installed(models_dir: Path) -> ModelSpec | None:
    sidecar = models_dir / SIDECAR_FILE
    return load_spec(sidecar) if sidecar.is_file() and (models_dir / ONNX_FILE).is_file() else None


def parity(model: HeadsModel, session: ort.InferenceSession, batch: NDArray[np.float32]) -> float:
    """Largest |torch − onnxruntime| over every output, for the batch and for each image alone.

    Where a tail answers indoor photos only, an image whose scene the two runtimes put on different
    sides of the gate (they differ by ~1e-6) gets its room from different tails in each, by design:
    its room is left out of the comparison; everything else about it is compared."""
    gated = any(indoors_only for _, _, indoors_only in model.answers)
    scene, room = OUTPUT_NAMES.index("scene"), OUTPUT_NAMES.index("room")
    with torch.inference_mode():
        expected = [t.numpy() for t in model.eval()(torch.from_numpy(batch))]
    diffs = []
    for rows in [slice(0, batch.shape[0])] + [slice(i, i + 1) for i in range(batch.shape[0])]:
        got = [np.asarray(g) for g in session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch[rows]})]
        same_side = np.ones(got[room].shape[0], bool)
        if gated:
            indoor = SCENES.index("indoor")
            theirs, ours = got[scene][:, indoor], expected[scene][rows, indoor]
            same_side = (theirs >= INDOOR_GATE) == (ours >= INDOOR_GATE)
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            compared = (g - e[rows])[same_side] if i == room else g - e[rows]
            diffs.append(float(np.max(np.abs(compared), initial=0.0)))
    return max(diffs)


def export_heads(
    run_dir: Path,
    *,
    install: bool,
    models_dir: Path,
    datasets_dir: Path,
    command: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> ModelSpec:
    figures = json.loads((run_dir / FIT_FILE).read_text(encoding="utf-8"))
    with np.load(run_dir / HEADS_FILE, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    model = HeadsModel(arrays).eval()
    pre = LITE0_PREPROCESS
    batch = verification_batch(datasets_dir, pre)
    base = _installed(models_dir)
    if base is not None:
        data = heads_on_graph(models_dir / base.onnx_file, base.embedding_output, arrays)
    else:
        data = export_onnx(
            model, input_shape=(3, pre.size, pre.size), input_name=INPUT_NAME, output_name=OUTPUT_NAMES
        )
    digest = hashlib.sha256(data).hexdigest()
    session = onnx_session(data)
    diff = parity(model, session, batch)
    log(
        f"onnxruntime vs torch: max abs diff {diff:.2e} over {batch.shape[0]} images, "
        f"{len(OUTPUT_NAMES)} outputs"
    )
    if not diff < PARITY_TOLERANCE:
        raise TrainingError(f"onnxruntime and torch disagree: max abs diff {diff:.3g} ≥ {PARITY_TOLERANCE}")
    if base is not None:
        previous = onnx_session(models_dir / base.onnx_file)
        theirs = np.asarray(previous.run([base.embedding_output], {INPUT_NAME: batch})[0])
        ours = np.asarray(session.run(["embedding"], {INPUT_NAME: batch})[0])
        if not np.array_equal(theirs, ours):
            raise TrainingError(f"the embedding differs from the installed model's ({base.model_id})")
        log(f"heads appended to {base.model_id}'s graph: embedding bit-identical to it")
        same_graph = base.sha256 == digest  # e.g. new thresholds only
        kept = base.extra.get("embedding_from")
        identity = dict(kept) if same_graph and kept else shared_embedding(base)
    else:
        identity = embedder_identity(session, batch, log)
        if identity["max_abs_diff"] != 0.0:
            raise TrainingError(
                f"the embedding is not bit-identical to the embedder's ({identity['max_abs_diff']:.3g})"
            )
    thresholds = {h: float(figures["thresholds"][h]["unknown_below"]) for h in HEADS}
    this = [command_entry(command)] if command is not None else []  # listed once, however often run
    spec = lite0_model_spec(
        digest,
        id_prefix="image-sorter",
        preprocess=pre,
        outputs=sidecar_outputs(thresholds),
        heads_source="training/export_heads.py",
        extra={
            "created_by": CREATED_BY,
            "parity_max_abs_diff": diff,
            "parity_images": int(batch.shape[0]),
            "embedding_from": identity,
            "finetuned": bool(model.tail_heads),
            "recipe": figures["recipe"],
            "room_recipe": recipe_of(figures, "room"),
            "kind_recipe": figures["kind_recipe"],
            "heldout": {k: figures[k] for k in ("thresholds", "per_source", "app_view", "baseline")},
            "commands": [c for c in read_commands(run_dir) if c not in this] + this,
        },
    )
    out = run_dir / "export"
    for folder in [out, *([models_dir] if install else [])]:
        atomic_write_bytes(folder / ONNX_FILE, data)
        spec = add_heads_graph(folder, spec, data, batch, log)
        write_sidecar(folder / SIDECAR_FILE, spec)
    log(f"wrote {out / ONNX_FILE} ({len(data) / 1e6:.1f} MB, {spec.model_id})")
    if install:
        update_selection_md(models_dir / "MODELS.md", spec, figures, len(data))
        log(f"installed into {models_dir} and updated MODELS.md")
        dropped = sorted(set(base.probability_heads) - set(spec.probability_heads)) if base else []
        if dropped:  # heads appended after export-heads (the setting head) are not carried over
            remove_setting_md(models_dir / "MODELS.md")
            log(
                f"the installed model's {', '.join(dropped)} head(s) are not in this one: append them again "
                "(sorter-train setting, then sorter-train export --run RUN --install)"
            )
    return spec
