"""The generated part of resources/models/MODELS.md: what the installed model is and how good it is.

`sorter-train export --install` rewrites only the text between the two markers, so the
hand-written sections (the backbone's provenance, licence, architecture) stay as they are and the
figures can never disagree with the file they describe.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sorter_app.core.atomic import atomic_write_text
from sorter_app.core.model_spec import ModelSpec

from .run_log import read_commands

BEGIN = "<!-- begin: written by `sorter-train export --install` (training/models_md.py); do not edit -->"
END = "<!-- end: written by `sorter-train export --install` -->"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def _curate_command(data_dir: str) -> str | None:
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        argv = manifest["command"]["argv"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return None
    return shlex.join(["sorter-train", *argv]) if argv and argv[0] != "sorter-train" else shlex.join(argv)


def _head_rows(evaluation: dict[str, Any]) -> list[str]:
    rows = [
        "| head | test images | accuracy | acc@3 | balanced acc. | ECE | unknown below | coverage | "
        "accuracy of kept |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for head in ("scene", "room"):
        o = evaluation[head]["test"]["overall"]
        t = evaluation["thresholds"][head]
        rows.append(
            f"| {head} | {o['count']} | {_pct(o['accuracy'])} | {_pct(o.get('accuracy_at_3'))} | "
            f"{_pct(o['balanced_accuracy'])} | {o['ece']:.3f} | {t['threshold']:.3f} (val: ≥ "
            f"{_pct(t['target'])}) | "
            f"{_pct(o.get('coverage'))} | {_pct(o.get('accuracy_of_kept'))} |"
        )
    for head in ("scene", "room"):
        recalls = ", ".join(
            f"{k} {_pct(v)}" for k, v in evaluation[head]["test"]["overall"]["per_class_recall"].items()
        )
        rows.append(f"\nRecall per class, {head}: {recalls}.")
    return rows


def _source_rows(evaluation: dict[str, Any]) -> list[str]:
    scene, room = evaluation["scene"], evaluation["room"]
    probe = "test_degraded" in scene
    rows = [
        "| source | scene n | scene accuracy | scene, degraded probe | room n | room accuracy | room, "
        "degraded probe |",
        "|---|---|---|---|---|---|---|",
    ]
    sources = sorted(set(scene["test"]["per_source"]) | set(room["test"]["per_source"]))
    for s in sources:
        sc, rm = scene["test"]["per_source"].get(s), room["test"]["per_source"].get(s)
        sd = scene["test_degraded"]["per_source"].get(s) if probe else None
        rd = room["test_degraded"]["per_source"].get(s) if probe else None
        rows.append(
            f"| {s} | {sc['count'] if sc else 0} | {_pct(sc and sc['accuracy'])} | "
            f"{_pct(sd and sd['accuracy'])} | "
            f"{rm['count'] if rm else 0} | {_pct(rm and rm['accuracy'])} | {_pct(rd and rd['accuracy'])} |"
        )
    return rows


@dataclass(frozen=True)
class SideRuns:
    """Evaluations of other runs quoted next to the installed one, keyed by run folder."""

    holdout: dict[str, dict[str, Any]] = field(default_factory=dict)  # --holdout-source runs
    compare: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. no balancing / no degrading


def _holdout_rows(holdouts: dict[str, dict[str, Any]]) -> list[str]:
    rows = [
        "| held-out source (run) | room n | room accuracy | balanced | acc@3 | on the classes trained: "
        "n, accuracy | scene accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for run, evaluation in holdouts.items():
        for source, heads in evaluation["holdout"].items():
            r, s = heads["room"], heads["scene"]
            k = heads.get("room_trained_classes", r)
            rows.append(
                f"| {source} (`{run}`) | {r['count']} | {_pct(r['accuracy'])} | "
                f"{_pct(r['balanced_accuracy'])} "
                f"| {_pct(r.get('accuracy_at_3'))} | {k['count']}, {_pct(k['accuracy'])} | "
                f"{_pct(s['accuracy'])} |"
            )
    return rows


def _reproduce(commands: list[str]) -> list[str]:
    """A run's commands as they matter: each distinct command once, evaluate only as last run."""
    evaluations = [c for c in commands if c.startswith("sorter-train evaluate ")]
    kept = [c for c in commands if not c.startswith("sorter-train evaluate ") or c == evaluations[-1]]
    return list(dict.fromkeys(kept))


def _sweep(e: dict[str, Any], side: int, head: str, key: str) -> Any:
    figures = e.get("resolution_sweep", {}).get(str(side), {}).get(head, {})
    return figures.get("per_class_recall", {}).get(key) if key != "accuracy" else figures.get("accuracy")


def _compare_rows(runs: dict[str, dict[str, Any]]) -> list[str]:
    rows = [
        "| run | balance | degraded views | scene acc. | indoor recall at 100 / 64 / 48 px | "
        "outdoor recall at 48 px | weakest source (scene) | room acc. | room acc. at 100 / 64 px |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run, e in runs.items():
        scene, room = e["scene"], e["room"]
        weakest = min(scene["test"]["per_source"].items(), key=lambda kv: kv[1]["accuracy"])
        indoor = " / ".join(_pct(_sweep(e, side, "scene", "indoor")) for side in (100, 64, 48))
        rooms = " / ".join(_pct(_sweep(e, side, "room", "accuracy")) for side in (100, 64))
        rows.append(
            f"| `{run}` | {e['balance']} | {e['degrade_views']} | "
            f"{_pct(scene['test']['overall']['accuracy'])} | "
            f"{indoor} | {_pct(_sweep(e, 48, 'scene', 'outdoor'))} | {weakest[0]} "
            f"{_pct(weakest[1]['accuracy'])} | "
            f"{_pct(room['test']['overall']['accuracy'])} | {rooms} |"
        )
    return rows


def render_section(spec: ModelSpec, evaluation: dict[str, Any], side: SideRuns, size_bytes: int) -> str:
    extra = spec.extra
    same = extra.get("embedding_from")
    embedding_note = (
        f"identical to the embedder-only model `{same['model_id']}` (max abs diff {same['max_abs_diff']:.1e})"
        if same
        else "from the fine-tuned backbone (differs from the embedder-only model)"
    )
    t = {h: spec.outputs[h]["unknown_below"] for h in ("scene", "room")}
    view = evaluation["app_view"]
    lines = [
        BEGIN,
        "## `image-sorter.onnx` — embedding + indoor/outdoor + room type (installed)",
        "",
        "| | |",
        "|---|---|",
        f"| file | `image-sorter.onnx`, {size_bytes / 1e6:.1f} MB, one self-contained file |",
        f"| model_id | `{spec.model_id}` |",
        f"| sha256 | `{spec.sha256}` |",
        "| input | `image`: float32 `[batch, 3, 224, 224]`, dynamic batch (preprocessing below, unchanged) |",
        f"| `embedding` | float32 `[batch, 1280]`, L2-normalised; {embedding_note} |",
        f'| `scene` | softmax over indoor, outdoor; the app says "unknown" below {t["scene"]:.3f} |',
        f"| `room` | softmax over {', '.join(spec.outputs['room']['labels'])}; shown only when the scene is "
        f'indoor; "unknown" below {t["room"]:.3f} |',
        "| backbone | "
        f"{'fine-tuned' if extra['finetuned'] else 'frozen (the ImageNet embedder below)'}; heads: "
        "`training/heads.py` |",
        f"| trained on | curated data, manifest sha256 `{extra['curated_manifest_sha256'][:16]}…` |",
        "| parity | onnxruntime vs torch, all three outputs: max abs diff "
        f"{extra['parity_max_abs_diff']:.1e} |",
        "",
        "### Figures (test split of the curated data; thresholds chosen on the validation split)",
        "",
        *_head_rows(evaluation),
        "",
        f"As the app shows them: a room is shown for {_pct(view['room_shown_on_room_images'])} of room "
        "photos and is "
        f"right for {_pct(view['room_accuracy_when_shown'])} of those; a room is shown on "
        f"{_pct(view['room_shown_on_outdoor_images'])} of outdoor photos.",
        "",
        "Per source (test split). *Degraded probe*: the same images shrunk to "
        f"{evaluation.get('probe', {}).get('side', '–')} px, JPEG quality "
        f"{evaluation.get('probe', {}).get('quality', '–')} "
        'and upscaled back; a model that learnt "blurry means outdoor" loses indoor accuracy there.',
        "",
        *_source_rows(evaluation),
    ]
    if side.compare:
        lines += [
            "",
            "The source shortcut, measured: the same heads trained without source balancing and/or without "
            "degraded views (same data, same test split), then this model:",
            "",
            *_compare_rows({**side.compare, evaluation["run"]: evaluation}),
        ]
    if side.holdout:
        lines += [
            "",
            "Room type on sources the model never saw (separate runs trained with `--holdout-source`; "
            "all of the "
            "source's images; house_rooms has no entrance_hall, so a model trained without "
            "places365_rooms has "
            "never seen that class):",
            "",
            *_holdout_rows(side.holdout),
        ]
    # Curate, then the runs quoted for comparison, then this run, its export last.
    commands = [c for c in [_curate_command(evaluation["data"])] if c]
    for run in [*side.compare, *side.holdout]:
        commands += _reproduce([c["command"] for c in read_commands(Path(run))])
    commands += _reproduce([c["command"] for c in extra.get("commands", [])])
    lines += ["", "### Reproduce", "", "```sh", *commands, "```", END]
    return "\n".join(lines) + "\n"


def marked_section(text: str, begin: str, end: str) -> tuple[str, str] | None:
    """(the text before `begin`, the text after the `end` that follows it, without the blank lines
    that set it apart) around a generated section of MODELS.md; None where `text` holds none."""
    start = text.find(begin)
    stop = text.find(end, start) if start >= 0 else -1
    if stop < 0:
        return None
    return text[:start], text[stop + len(end) :].lstrip("\n")


def update_models_md(
    path: Path,
    spec: ModelSpec,
    evaluation: dict[str, Any],
    side: SideRuns,
    size_bytes: int,
) -> None:
    section = render_section(spec, evaluation, side, size_bytes)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Bundled models\n"
    if around := marked_section(text, BEGIN, END):
        head, tail = around
        text = head + section + ("\n" + tail if tail else "")
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{section}\n{body.lstrip(chr(10))}"
    atomic_write_text(path, text)
