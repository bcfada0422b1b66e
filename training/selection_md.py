"""The generated part of resources/models/MODELS.md for a model made by `select` → `fit` → `export-heads`.

Every figure in it is a held-out-source figure (each source scored by models that never saw it),
and every table starts with the plain logistic regression on the frozen embedding, as DESIGN.md
asks. Only the text between the markers is rewritten; the hand-written sections stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.model_spec import ModelSpec

from .heldout_thresholds import EACH_SOURCE
from .models_md import BEGIN as OLD_BEGIN
from .models_md import END as OLD_END
from .models_md import marked_section
from .selection_data import HEAD_LABELS, HEADS

BEGIN = (
    "<!-- begin: written by `sorter-train export-heads --install` (training/selection_md.py); do not edit -->"
)
END = "<!-- end: written by `sorter-train export-heads --install` -->"
CAPTIONS = {
    "kind": "Kind (photo / graphic): accuracy on each held-out source (graphic sources: graphic recall; "
    "photo sources: 1 − share of photos called graphic)",
    "scene": "Scene (indoor / outdoor): accuracy on each held-out source, answering everything",
    "room": "Room type: accuracy on each held-out source, answering everything (places365_rooms: all six "
    "classes / the five the other sources have — only it has entrance_hall)",
}


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def _short(source: str) -> str:
    return source.split("/", 1)[-1]


def _recipe_table(head: str, figures: dict[str, Any], descriptions: dict[str, str]) -> list[str]:
    by_recipe = {name: f[head] for name, f in figures.items() if head in f}
    if not by_recipe:
        return []
    sources = sorted({s for folds in by_recipe.values() for s in folds})
    lines = [
        f"**{CAPTIONS[head]}.**",
        "",
        "| recipe | " + " | ".join(_short(s) for s in sources) + " | mean |",
        "|---|" + "---|" * (len(sources) + 1),
    ]
    for name, folds in by_recipe.items():
        cells, values = [], []
        for s in sources:
            fold = folds.get(s)
            if fold is None:
                cells.append("–")
                continue
            values.append(fold["accuracy"])
            cell = _pct(fold["accuracy"])
            trained = fold.get("accuracy_on_trained_classes")
            if head == "room" and fold.get("count_on_trained_classes", fold["count"]) != fold["count"]:
                cell += f" / {_pct(trained)}"
            cells.append(cell)
        mean = sum(values) / len(values) if values else None
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {_pct(mean)} |")
    lines.append("")
    lines += [f"- `{name}`: {descriptions.get(name, '')}" for name in by_recipe]
    return [*lines, ""]


def recipe_of(fit: dict[str, Any], head: str) -> str:
    """The recipe `fit` installed for `head` (runs from before `--room-recipe` have one for both)."""
    if head == "kind":
        return str(fit["kind_recipe"])
    return str(fit.get("room_recipe", fit["recipe"]) if head == "room" else fit["recipe"])


def _side_by_side(head: str, fit: dict[str, Any]) -> list[str]:
    ours, base = fit["per_source"][head], fit["baseline"]["per_source"][head]
    t, bt = fit["thresholds"][head], fit["baseline"]["thresholds"][head]
    rule = (
        "held for each held-out source"
        if head in EACH_SOURCE
        else "chosen on the pooled held-out predictions"
    )
    lines = [
        f"**{head}** — installed `{recipe_of(fit, head)}` (unknown below "
        f"{t['unknown_below']:.3f}) vs baseline `lr` (unknown below {bt['unknown_below']:.3f}), thresholds "
        f"{rule}:",
        "",
        "| held-out source | images | lr: all | lr: coverage | lr: right of kept | installed: all | "
        "installed: coverage | installed: right of kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for source in sorted(ours):
        o, b = ours[source], base.get(source, {})
        lines.append(
            f"| {_short(source)} | {o['count']} | {_pct(b.get('accuracy'))} | {_pct(b.get('coverage'))} | "
            f"{_pct(b.get('accuracy_of_kept'))} | {_pct(o['accuracy'])} | {_pct(o['coverage'])} | "
            f"{_pct(o['accuracy_of_kept'])} |"
        )
    lines.append(
        f"| **pooled** | | {_pct(bt['accuracy_all'])} | {_pct(bt['coverage'])} | "
        f"{_pct(bt['accuracy_of_kept'])} | "
        f"{_pct(t['accuracy_all'])} | {_pct(t['coverage'])} | {_pct(t['accuracy_of_kept'])} |"
    )
    return [*lines, ""]


def _app_view(fit: dict[str, Any]) -> list[str]:
    lines = [
        "As the app shows them, on every held-out source (a scene only for what the kind head calls a "
        "photo, a room only for what the scene head calls indoor):",
        "",
        "| held-out source | images | graphic recall | graphics kept out of scenes | photos called graphic | "
        "scene shown | scene right when shown | room shown | room right when shown |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for source, f in fit["app_view"]["per_source"].items():
        lines.append(
            f"| {_short(source)} | {f['images']} | {_pct(f.get('graphic_recall'))} | "
            f"{_pct(f.get('graphic_kept_out_of_scenes'))} | {_pct(f.get('photos_called_graphic'))} | "
            f"{_pct(f.get('scene_shown'))} | {_pct(f.get('scene_right_when_shown'))} | "
            f"{_pct(f.get('room_shown'))} | {_pct(f.get('room_right_when_shown'))} |"
        )
    return [*lines, ""]


def render_section(spec: ModelSpec, fit: dict[str, Any], size_bytes: int) -> str:
    extra = spec.extra
    same = extra["embedding_from"]
    lines = [
        BEGIN,
        "## `image-sorter.onnx` — embedding + kind + indoor/outdoor + room type (installed)",
        "",
        "| | |",
        "|---|---|",
        f"| file | `{spec.onnx_file}`, {size_bytes / 1e6:.1f} MB, one self-contained file |",
        f"| model_id | `{spec.model_id}` |",
        f"| sha256 | `{spec.sha256}` |",
        f"| input | `{spec.input_name}`: float32 `[batch, 3, 224, 224]`, dynamic batch "
        "(preprocessing below, unchanged) |",
        f"| `embedding` | float32 `[batch, 1280]`, L2-normalised; identical to the embedder-only model "
        f"`{same['model_id']}` (max abs diff {same['max_abs_diff']:.1e}) |",
    ]
    for head in HEADS:
        out = spec.outputs[head]
        when = "".join(f"; shown only when {k} is {v}" for k, v in out.get("only_when", {}).items())
        lines.append(
            f'| `{head}` | softmax over {", ".join(HEAD_LABELS[head])}{when}; "unknown" below '
            f"{out['unknown_below']:.3f} |"
        )
    lines += [
        f"| heads | kind: `{recipe_of(fit, 'kind')}`; scene: `{recipe_of(fit, 'scene')}`; room: "
        f"`{recipe_of(fit, 'room')}` (recipes below) |",
        f"| parity | onnxruntime vs torch, all outputs: max abs diff {extra['parity_max_abs_diff']:.1e} |",
        "",
        "### Held-out sources: how the recipes were chosen",
        "",
        "Every figure here is leave-one-source-out: for each source that has the head's labels, the recipe "
        "is fitted on all *other* sources and scores every image of the held-out one (`sorter-train "
        "select`). Photo sets the model will meet come from elsewhere; a split test from the training "
        "sources hid an 11-point loss on rooms (#10). Graphic sources: `non_photo/*` from the shared "
        "datasets and `graphic/*` rendered by `training/graphic_sources.py` (see below).",
        "",
    ]
    descriptions = fit["selection"]["recipes"]
    for head in HEADS:
        lines += _recipe_table(head, fit["selection"]["figures"], descriptions)
    lines += [
        "### The installed heads on held-out sources, side by side with the baseline",
        "",
        '"all": accuracy answering every image; "coverage": share answered (not "unknown") at the '
        'shipped threshold; "right of kept": accuracy of those answers.',
        "",
    ]
    for head in HEADS:
        lines += _side_by_side(head, fit)
    lines += _app_view(fit)
    commands = list(dict.fromkeys(str(c["command"]) for c in extra["commands"]))
    lines += ["### Reproduce", "", "```sh", *commands, "```", END]
    return "\n".join(lines) + "\n"


def update_selection_md(path: Path, spec: ModelSpec, fit: dict[str, Any], size_bytes: int) -> None:
    section = render_section(spec, fit, size_bytes)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Bundled models\n"
    for begin, end in ((BEGIN, END), (OLD_BEGIN, OLD_END)):  # replaces the section `export` wrote too
        if around := marked_section(text, begin, end):
            head, tail = around
            text = head + section + tail
            break
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{section}\n{body.lstrip(chr(10))}"
    atomic_write_text(path, text)
