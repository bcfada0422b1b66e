"""The evaluation report as text a person reads: headline figures, then per-source tables."""

from __future__ import annotations

from typing import Any


def _pct(value: Any) -> str:
    return "  –  " if value is None else f"{100 * float(value):5.1f}"


def _head_block(title: str, head: str, section: dict[str, Any], threshold: dict[str, Any]) -> list[str]:
    overall = section["test"]["overall"]
    lines = [f"{title} — test split, {overall['count']} images"]
    at3 = f"  acc@3 {_pct(overall['accuracy_at_3'])} %" if "accuracy_at_3" in overall else ""
    ece = overall["ece"]
    lines.append(
        f"  accuracy {_pct(overall['accuracy'])} %{at3}  balanced {_pct(overall['balanced_accuracy'])} %  "
        f"ECE {'–' if ece is None else f'{ece:.3f}'}"
    )
    recalls = "  ".join(f"{name} {_pct(r)}" for name, r in overall["per_class_recall"].items())
    lines.append(f"  recall %: {recalls}")
    names = list(overall["per_class_recall"])
    width = max(len(n) for n in names)
    lines.append("  confusion (rows: true, columns: predicted in the order above)")
    for name, row in zip(names, overall["confusion"], strict=True):
        lines.append(f"    {name:<{width}} " + " ".join(f"{v:5d}" for v in row))
    lines.append(
        f"  unknown below {threshold['threshold']:.3f} (chosen on val for ≥ "
        f"{100 * threshold['target']:.0f} % "
        f"accuracy, val coverage {_pct(threshold['coverage'])} %): test coverage "
        f"{_pct(overall.get('coverage'))} %, "
        f"accuracy of kept {_pct(overall.get('accuracy_of_kept'))} %"
    )
    degraded = section.get("test_degraded", {}).get("per_source", {})
    lines.append(f"  per source{'':<22}n   acc %   bal %   kept %  degraded acc %")
    for source, figures in section["test"]["per_source"].items():
        probe = degraded.get(source, {}).get("accuracy")
        lines.append(
            f"    {source:<26}{figures['count']:5d}  {_pct(figures['accuracy'])}   "
            f"{_pct(figures['balanced_accuracy'])}"
            f"   {_pct(figures.get('coverage'))}   {_pct(probe)}"
        )
    if "test_degraded" in section:
        d = section["test_degraded"]["overall"]
        lines.append(
            f"    {'all, degraded probe':<26}{d['count']:5d}  {_pct(d['accuracy'])}   "
            f"{_pct(d['balanced_accuracy'])}"
        )
    return lines


def render_text(report: dict[str, Any]) -> str:
    lines = [
        f"run {report['run']} ({'fine-tuned' if report['finetuned'] else 'frozen'} backbone, "
        f"balance {report['balance']}, degraded views {report['degrade_views']}, "
        f"held out: {', '.join(report['holdout_sources']) or 'none'})",
        f"data {report['data']} (manifest sha256 {report['manifest_sha256'][:12]}…)",
        "",
    ]
    lines += _head_block("SCENE (indoor/outdoor)", "scene", report["scene"], report["thresholds"]["scene"])
    lines.append("")
    lines += _head_block("ROOM", "room", report["room"], report["thresholds"]["room"])
    view = report["app_view"]
    lines += [
        "",
        "APP VIEW (room shown only when the scene is confidently indoor and the room is confident)",
        f"  room shown on {_pct(view['room_shown_on_room_images'])} % of room images, right on "
        f"{_pct(view['room_accuracy_when_shown'])} % of those; shown on "
        f"{_pct(view['room_shown_on_outdoor_images'])} % "
        "of outdoor images",
    ]
    if "resolution_sweep" in report:
        lines += ["", "RESOLUTION SWEEP (every test image shrunk to N px, JPEG, upscaled back)"]
        lines.append("  side    indoor recall %  outdoor recall %  scene acc %  room acc %")
        rows = [("clean", report["scene"]["test"]["overall"], report["room"]["test"]["overall"])]
        rows += [(f"{side} px", f["scene"], f["room"]) for side, f in report["resolution_sweep"].items()]
        for name, scene, room in rows:
            recall = scene["per_class_recall"]
            lines.append(
                f"  {name:<8}{_pct(recall.get('indoor')):>13}{_pct(recall.get('outdoor')):>18}"
                f"{_pct(scene['accuracy']):>13}{_pct(room['accuracy']):>12}"
            )
    if "probe" in report:
        lines.append(
            f"  (degraded probe: every test image shrunk to {report['probe']['side']} px, JPEG "
            f"q{report['probe']['quality']}, upscaled back)"
        )
    for title, group in (("HELD-OUT SOURCE", report["holdout"]), ("FOLDER", report["folders"])):
        for name, heads in group.items():
            lines += [
                "",
                f"{title} {name} (never trained on)" if title.startswith("HELD") else f"{title} {name}",
            ]
            for head, figures in heads.items():
                if not figures["count"]:
                    continue
                at3 = f", acc@3 {_pct(figures['accuracy_at_3'])} %" if "accuracy_at_3" in figures else ""
                recalls = "  ".join(
                    f"{n} {_pct(r)}" for n, r in figures["per_class_recall"].items() if r is not None
                )
                lines.append(
                    f"  {head}: n {figures['count']}, accuracy {_pct(figures['accuracy'])} %{at3}, balanced "
                    f"{_pct(figures['balanced_accuracy'])} %, coverage {_pct(figures.get('coverage'))} % at "
                    f"{_pct(figures.get('accuracy_of_kept'))} %"
                )
                lines.append(f"    recall %: {recalls}")
    return "\n".join(lines) + "\n"
