"""`sorter-train export` of a label-set run: the installed model plus one head per label set.

The drop-in model is the installed graph node for node (so its embedding, and its kind, scene and
room answers, are exactly the installed model's) with the label-set heads appended after the
embedding; its sidecar is the installed one's plus an output per set. The app reads heads from the
sidecar generically, so the sets appear wherever kind/scene/room do (`sorter predict --json`,
export, Browse filter, detail pane). It shares the embedder, so a catalog's stored vectors stay
its own, and carries a heads graph, so a catalog's images get the sets' answers from those vectors
without decoding anything. When the installed model has no heads graph (its heads do not all read
the embedding, as the bundled model's fine-tuned scene and room do), the graph holds the sets alone, and
the sidecar's `answers_from` names the installed model, whose answers a catalog already holds and
copies: nothing is decoded again for them either (unless the catalog never held them).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from sorter_app.core.atomic import atomic_write_bytes
from sorter_app.core.model_spec import ModelSpec, load_spec

from .errors import TrainingError
from .export_embedder import INPUT_NAME, ONNX_FILE, SIDECAR_FILE, verification_batch, write_sidecar
from .export_heads import PARITY_TOLERANCE, append_linear_head, shared_embedding
from .heads_graph import add_heads_graph
from .label_heads import load_label_heads
from .onnx_export import onnx_session
from .run_log import command_entry, read_commands

CREATED_BY = "sorter-train export (label sets)"


def _check_embedder(report: dict[str, Any], base: ModelSpec) -> None:
    """The heads were fitted on the curate embedder's vectors: they must be the base model's."""
    curated = report.get("embedder") or {}
    if curated.get("sha256") == base.sha256 or curated.get("model_id") in base.embedding_names:
        return
    raise TrainingError(
        f"the label sets were trained on {curated.get('model_id')!r} embeddings, "
        f"not on the embedding of the model they would be added to ({base.model_id})"
    )


def _copied_answers(base: ModelSpec) -> dict[str, str]:
    """The base's heads that no heads graph can run (a fine-tuned tail's, or ones the base copies
    itself), each with the model whose stored answers are theirs: the outputs are checked bit for
    bit, so a catalog that holds those answers need not decode anything for them."""
    return {
        head: base.answers_from.get(head, base.model_id)
        for head in base.probability_heads
        if not base.heads_file or head in base.answers_from
    }


def label_sets_on_graph(base_onnx: bytes, base: ModelSpec, heads: dict[str, Any]) -> bytes:
    """The base graph with a softmax head per label set appended after its embedding output."""
    model = onnx.load_from_string(base_onnx)
    graph = model.graph
    taken = {o.name for o in graph.output} | {n for node in graph.node for n in node.output}
    clash = sorted(name for name in heads if name in taken or f"{name}_product" in taken)
    if clash:
        raise TrainingError(f"label set name(s) {clash} clash with the model's own outputs; rename the set")
    initialisers, nodes, outputs = list(graph.initializer), list(graph.node), list(graph.output)
    for name, head in heads.items():
        append_linear_head(
            (initialisers, nodes, outputs), base.embedding_output, name, head.weight, head.bias
        )
    new_graph = helper.make_graph(nodes, graph.name, list(graph.input), outputs, initialisers)
    new_model = helper.make_model(new_graph, opset_imports=list(model.opset_import))
    new_model.ir_version = model.ir_version
    onnx.checker.check_model(new_model, full_check=True)
    data: bytes = new_model.SerializeToString()
    return data


def export_label_model(
    run_dir: Path,
    *,
    install: bool,
    models_dir: Path,
    datasets_dir: Path,
    command: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> ModelSpec:
    report, heads = load_label_heads(run_dir)
    base = load_spec(models_dir / SIDECAR_FILE)
    _check_embedder(report, base)
    base_onnx = (models_dir / base.onnx_file).read_bytes()
    data = label_sets_on_graph(base_onnx, base, heads)
    batch = verification_batch(datasets_dir, base.preprocess)
    # Every output the base had is unchanged, bit for bit; each set's head is its fitted regression.
    names = [base.embedding_output, *base.probability_heads]
    theirs = onnx_session(base_onnx).run(names, {INPUT_NAME: batch})
    ours = onnx_session(data).run([*names, *heads], {INPUT_NAME: batch})
    if not all(np.array_equal(a, b) for a, b in zip(theirs, ours, strict=False)):
        raise TrainingError(f"appending the label sets changed an output of {base.model_id}")
    embedding = np.asarray(ours[0])
    diff = max(
        float(np.max(np.abs(np.asarray(got) - head.probabilities(embedding))))
        for got, head in zip(ours[len(names) :], heads.values(), strict=True)
    )
    if not diff < PARITY_TOLERANCE:
        raise TrainingError(f"label-set heads: onnxruntime and numpy disagree by {diff:.3g}")
    log(f"label sets appended to {base.model_id}: its outputs unchanged, heads within {diff:.1e} of numpy")
    sha256 = hashlib.sha256(data).hexdigest()
    outputs = dict(base.outputs)
    for name, figures in report["sets"].items():
        outputs[name] = {
            "kind": "probabilities",
            "labels": list(figures["labels"]),
            "unknown_below": float(figures["unknown_below"]),
            "label_set": True,
        }
    extra = {
        **{k: v for k, v in base.extra.items() if k != "commands"},
        "created_by": CREATED_BY,
        "based_on": base.model_id,
        "embedding_from": shared_embedding(base),
        "label_sets": {
            name: {"recipe": report["recipe"], **{s: f[s] for s in ("val", "test") if s in f}}
            for name, f in report["sets"].items()
        },
        "commands": read_commands(run_dir) + ([command_entry(command)] if command is not None else []),
    }
    spec = dataclasses.replace(
        base,
        model_id=f"image-sorter-{sha256[:8]}",
        onnx_file=ONNX_FILE,
        sha256=sha256,
        outputs=outputs,
        extra=extra,
        answers_from=_copied_answers(base),
    )
    out = run_dir / "export"
    for folder in [out, *([models_dir] if install else [])]:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / ONNX_FILE, data)
        written = add_heads_graph(folder, spec, data, batch, log)
        write_sidecar(folder / SIDECAR_FILE, written)
    beside = ", ".join(base.probability_heads)
    log(f"wrote {out / SIDECAR_FILE} ({spec.model_id}: {', '.join(heads)} beside {beside})")
    return spec
