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
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from sorter_app.core.atomic import atomic_write_bytes
from sorter_app.core.model_spec import ModelSpec, load_spec

from .errors import TrainingError
from .export_embedder import INPUT_NAME, ONNX_FILE, SIDECAR_FILE, verification_batch, write_sidecar
from .export_heads import PARITY_TOLERANCE, GraphParts, append_linear_head, shared_embedding
from .heads_graph import add_heads_graph
from .label_heads import load_label_heads
from .onnx_export import onnx_session
from .run_log import command_entry, read_commands
from .setting_head import update_setting_md

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


def _outputs(base: ModelSpec, report: dict[str, Any], bundled_head: bool) -> dict[str, Any]:
    """The base's outputs, with the heads `report["conditions"]` re-conditions (room shown only when
    the setting is "home"), and an output per set (with its own `only_when`, if any), marked as a
    user's label set unless it is a head of the bundled model."""
    outputs = dict(base.outputs)
    for head, conditions in report.get("conditions", {}).items():
        if head not in outputs:
            raise TrainingError(f"the run conditions the {head!r} head, which {base.model_id} does not have")
        outputs[head] = {**outputs[head], "only_when": dict(conditions)}
    for name, figures in report["sets"].items():
        outputs[name] = {
            "kind": "probabilities",
            "labels": list(figures["labels"]),
            "unknown_below": float(figures["unknown_below"]),
            **({"only_when": dict(figures["only_when"])} if "only_when" in figures else {}),
            **({} if bundled_head else {"label_set": True}),
        }
    return outputs


def label_sets_on_graph(
    base_onnx: bytes, base: ModelSpec, heads: dict[str, Any], replacing: Collection[str] = ()
) -> bytes:
    """The base graph with a softmax head per label set appended after its embedding output; the
    heads named in `replacing` (appended by an earlier export of the same run kind) are taken out
    first, so that a setting run can be exported over the model it was installed in."""
    model = onnx.load_from_string(base_onnx)
    graph = model.graph
    initialisers, nodes, outputs = list(graph.initializer), list(graph.node), list(graph.output)
    for name in replacing:
        initialisers, nodes, outputs = _without_linear_head((initialisers, nodes, outputs), name)
    taken = {o.name for o in outputs} | {n for node in nodes for n in node.output}
    clash = sorted(name for name in heads if name in taken or f"{name}_product" in taken)
    if clash:
        raise TrainingError(f"label set name(s) {clash} clash with the model's own outputs; rename the set")
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


def _without_linear_head(parts: GraphParts, head: str) -> GraphParts:
    """The graph without what `append_linear_head` added for `head`: its three nodes, two weights
    and its output; refuses a head not made that way (a tail's, or the embedding). The caller
    names only heads its own run made (the setting head exported again)."""
    initialisers, nodes, outputs = parts
    made = {f"{head}_product", f"{head}_logits", head}
    weights = {f"heads.{head}.weight", f"heads.{head}.bias"}
    mine = [node for node in nodes if set(node.output) & made]
    if sorted(o for node in mine for o in node.output) != sorted(made) or not weights <= {
        i.name for i in initialisers
    }:
        raise TrainingError(
            f"the model's {head!r} output is not an appended linear head; it cannot be replaced"
        )
    used = {name for node in nodes if node not in mine for name in node.input}
    if used & (made | weights):
        raise TrainingError(f"other nodes of the model read the {head!r} head; it cannot be replaced")
    return (
        [i for i in initialisers if i.name not in weights],
        [node for node in nodes if node not in mine],
        [o for o in outputs if o.name != head],
    )


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
    bundled_head = bool(report.get("bundled_head"))  # the bundled model's own (setting_head.py)
    # A bundled head exported again replaces itself; a user's set never replaces anything.
    replacing = [name for name in heads if bundled_head and name in base.outputs]
    data = label_sets_on_graph(base_onnx, base, heads, replacing)
    batch = verification_batch(datasets_dir, base.preprocess)
    # Every output the base had is unchanged, bit for bit; each set's head is its fitted regression.
    names = [base.embedding_output, *(h for h in base.probability_heads if h not in replacing)]
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
    outputs = _outputs(base, report, bundled_head)
    # The commands that made the base, then this run's; a head exported again drops the commands
    # of the run it replaces (the last `appended_commands` of the base's).
    own = read_commands(run_dir) + ([command_entry(command)] if command is not None else [])
    made_base = list(base.extra.get("commands", [])) if bundled_head else []
    if replacing:
        made_base = made_base[: len(made_base) - int(base.extra.get("appended_commands", 0))]
    commands = [c for c in made_base if c not in own]
    based_on = base.extra.get("based_on", base.model_id) if replacing else base.model_id
    extra = {
        **{k: v for k, v in base.extra.items() if k not in ("commands", "appended_commands")},
        "created_by": CREATED_BY,
        "based_on": based_on,
        "embedding_from": shared_embedding(base),
        "label_sets": {
            name: {"recipe": report["recipe"], **{s: f[s] for s in ("val", "test") if s in f}}
            for name, f in report["sets"].items()
        },
        "commands": commands + own,
        **({"appended_commands": len(own)} if bundled_head else {}),
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
    if install and bundled_head:
        update_setting_md(models_dir / "MODELS.md", spec, report, len(data))
    beside = ", ".join(h for h in base.probability_heads if h not in replacing)
    log(f"wrote {out / SIDECAR_FILE} ({spec.model_id}: {', '.join(heads)} beside {beside})")
    return spec
