"""Your own label set, end to end, as two machines would run it, on real photos.

Machine A: index a folder half-sorted by hand, `sorter labels import-folders`, `sorter labels
export`; `sorter-train curate`, `train`, `evaluate`, `export`. Machine B: a fresh data folder,
`sorter --model <exported sidecar> index` other photos of the same kinds and `predict --json`:
the label set is a prediction head there, right on photos it never saw. Back on machine A, the
exported model predicts the set from the vectors the catalog holds: nothing is embedded again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sorter_app.core.library import Library
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar
from tests.cli.runner import Sorter
from training.cli import main as sorter_train

LABELS = ("forest", "glacier", "sea")  # intel_outdoor_scenes categories the bundled model does not name
LABELLED, UNSEEN = 40, 15  # per label


def _photos(datasets: Path, label: str) -> list[Path]:
    folder = datasets / "intel_outdoor_scenes" / label
    return sorted(folder.glob("*.jpg"))[: LABELLED + UNSEEN]


def _copy(photos: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        shutil.copy(photo, folder)


@pytest.mark.slow  # ~40 s: the app indexes 165 photos twice and curate embeds 120 (2 cores)
def test_a_label_set_trained_here_is_predicted_by_a_fresh_data_folder(
    datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sorted_by_hand, unseen = tmp_path / "sorted", tmp_path / "unseen"
    for label in LABELS:
        photos = _photos(datasets, label)
        if len(photos) < LABELLED + UNSEEN:
            pytest.skip(f"intel_outdoor_scenes/{label} has fewer than {LABELLED + UNSEEN} photos")
        _copy(photos[:LABELLED], sorted_by_hand / label)
        _copy(photos[LABELLED:], unseen / label)

    here = Sorter(capsys, tmp_path / "data-a")
    assert here("index", sorted_by_hand)[0] == 0
    assert here("labels", "import-folders", sorted_by_hand, "--set", "terrain")[0] == 0
    manifest = tmp_path / "labels.csv"
    assert here("labels", "export", sorted_by_hand, "-o", manifest)[0] == 0

    curated, run = tmp_path / "curated", tmp_path / "run"
    assert sorter_train(["curate", "--manifest", str(manifest), "--out", str(curated)]) == 0
    assert json.loads((curated / "manifest.json").read_text())["label_sets"] == {"terrain": list(LABELS)}
    assert sorter_train(["train", "--data", str(curated), "--out", str(run)]) == 0
    capsys.readouterr()
    assert sorter_train(["evaluate", "--run", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "label set terrain" in printed and "acc@3" in printed and "confusion" in printed
    figures = json.loads((run / "label_heads.json").read_text())["sets"]["terrain"]
    assert figures["test"]["count"] >= 10 and figures["test"]["accuracy"] >= 0.8
    assert figures["test"]["accuracy_at_3"] == 1.0  # three labels: the truth is always among them
    assert sorter_train(["export", "--run", str(run)]) == 0
    capsys.readouterr()
    sidecar = run / "export" / "image-sorter.json"
    spec, bundled = load_spec(sidecar), load_spec(bundled_model_sidecar())
    assert spec.outputs["terrain"]["labels"] == list(LABELS)
    assert {h: spec.outputs[h] for h in bundled.probability_heads} == bundled.probability_heads
    assert spec.model_id != bundled.model_id
    # The sets always run from stored vectors; heads no graph can run (a fine-tuned tail's) are
    # the bundled model's, node for node, so a catalog's stored answers of it are copied (of the
    # model the bundled one copies them from, where it does: it stores its answers under that id too).
    assert spec.heads_file and set(spec.own_heads) >= {"terrain"}
    tail_heads = {
        h: bundled.answers_from.get(h, bundled.model_id)
        for h in bundled.probability_heads
        if not bundled.heads_file or h in bundled.answers_from
    }
    assert spec.answers_from == tail_heads

    # Machine B: a fresh data folder, photos it never saw, the exported model.
    there = Sorter(capsys, tmp_path / "data-b")
    code, report, _ = there("index", unseen, "--model", sidecar)
    assert code == 0 and report["indexed"] == len(LABELS) * UNSEEN
    code, rows, _ = there("predict", unseen, "--model", sidecar)
    assert code == 0 and len(rows) == len(LABELS) * UNSEEN
    assert {"kind", "scene", "terrain", "terrain_confidence"} <= set(rows[0])
    right = sum(row["terrain"] == Path(row["path"]).parent.name for row in rows)
    assert right >= 0.8 * len(rows), [(row["path"], row["terrain"]) for row in rows]
    # The set is a head like the others: a person's correction wins, Browse shows it.
    image = Path(rows[0]["path"])
    code, corrected, _ = there("correct", unseen, image, "glacier", "--model", sidecar)
    assert code == 0 and (corrected["terrain"], corrected["terrain_corrected"]) == ("glacier", True)
    with Library(tmp_path / "data-b", sidecar) as library:
        shown = {item.relpath: item.prediction for item in library.browse_items(unseen)}
    corrected_item = shown[image.relative_to(unseen).as_posix()]
    assert corrected_item is not None and corrected_item.answers["terrain"].label == "glacier"
    assert all(p is not None and "terrain" in p.answers for p in shown.values())
    # What the exported model decoded answers for the bundled model too: switching back decodes nothing.
    code, report, _ = there("index", unseen)
    assert code == 0 and report["indexed"] == 0

    # Machine A again, with the exported model: its vectors are the stored ones, and so are the
    # bundled model's answers. The sets come from the vectors, the rest is copied: nothing decoded.
    _, before, _ = here("predict", sorted_by_hand)
    code, report, _ = here("index", sorted_by_hand, "--model", sidecar)
    count = len(LABELS) * LABELLED
    assert code == 0 and (report["indexed"], report["predicted"]) == (0, count)
    code, rows, _ = here("predict", sorted_by_hand, "--model", sidecar)
    assert sum(row["terrain"] == Path(row["path"]).parent.name for row in rows) >= 0.9 * len(rows)
    bundled_answers = [f"{h}{suffix}" for h in bundled.probability_heads for suffix in ("", "_confidence")]
    assert [{k: r[k] for k in bundled_answers} for r in rows] == [
        {k: r[k] for k in bundled_answers} for r in before
    ]
