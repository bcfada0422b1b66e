"""`curate` steps 1–3 on real files: the corrupt check, the noise scorer, the teacher's band.

Images are built with Pillow in tmp_path and embedded by the real bundled model; the noise probe
is the committed one. Real non-photos and photos from the shared datasets are used when present.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sorter_app.core.embedder import Embedder
from sorter_app.core.images import load_image
from sorter_app.core.preprocess import to_model_pixels
from tests import builders
from training.curate.decode import decode_items
from training.curate.inputs import Item
from training.curate.noise import DEFAULT_PROBE, ProbeScorer, load_probe
from training.curate.teacher import apply_teacher, judge
from training.errors import TrainingError


def _items(*paths: Path) -> list[Item]:
    return [Item(path=p.name, file=p, source="built") for p in paths]


def _stripes(path: Path, colours: int) -> Path:
    """A flat graphic with exactly `colours` distinct RGB values."""
    img = Image.new("RGB", (300, 200))
    draw = ImageDraw.Draw(img)
    for c in range(colours):
        draw.rectangle(
            (c * 300 // colours, 0, (c + 1) * 300 // colours, 200), fill=(25 * c, 200 - 15 * c, 90)
        )
    img.save(path)
    return path


def test_corrupt_images_are_dropped_with_their_reasons(tmp_path: Path, embedder: Embedder) -> None:
    files = [
        builders.write_jpeg(tmp_path / "good.jpg", 1),
        builders.write_truncated_jpeg(tmp_path / "truncated.jpg"),
        builders.write_zero_bytes(tmp_path / "empty.jpg"),
        builders.write_not_an_image(tmp_path / "notes.jpg"),
        _stripes(tmp_path / "five.png", 5),
        _stripes(tmp_path / "nine.png", 9),
        _stripes(tmp_path / "ten.png", 10),
    ]
    decoded = decode_items(_items(*files), embedder)
    reasons = {f.name: r for f, r in zip(files, decoded.reasons, strict=True)}
    assert reasons["good.jpg"] is None
    assert reasons["ten.png"] is None  # 10 distinct values is enough
    assert reasons["truncated.jpg"] is not None and reasons["truncated.jpg"].startswith(
        "truncated or corrupt image"
    )
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert reasons["notes.jpg"] is not None and reasons["notes.jpg"].startswith("not an image")
    assert reasons["five.png"] == "fewer than 10 distinct colours: 5 (flat or blank image)"
    assert reasons["nine.png"] == "fewer than 10 distinct colours: 9 (flat or blank image)"
    usable = decoded.usable
    assert usable.tolist() == [True, False, False, False, False, False, True]
    norms = np.linalg.norm(decoded.embeddings, axis=1)
    np.testing.assert_allclose(norms[usable], 1.0, atol=1e-4)
    assert not norms[~usable].any()
    assert decoded.hashes[2] != "" and decoded.file_sizes[2] == 0  # read, hashed, then refused


def test_the_decode_pass_keeps_the_apps_pixels(tmp_path: Path, embedder: Embedder) -> None:
    files = [builders.write_jpeg(tmp_path / f"{i}.jpg", i, (333 + 40 * i, 250)) for i in range(3)]
    decoded = decode_items(_items(*files), embedder, pixels_file=tmp_path / "pixels.npy")
    assert decoded.pixels is not None
    pre = embedder.spec.preprocess
    for i, f in enumerate(files):
        expected = to_model_pixels(load_image(f.read_bytes(), min_side=224).image, pre)
        np.testing.assert_array_equal(decoded.pixels[i], expected)
        assert (decoded.widths[i], decoded.heights[i]) == (333 + 40 * i, 250)
    np.testing.assert_allclose(decoded.embeddings, embedder.embed(np.asarray(decoded.pixels)), atol=1e-5)


# --- noise ---------------------------------------------------------------------------------------


def _bar_chart(path: Path) -> Path:
    img = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(img)
    draw.line((40, 20, 40, 260, 380, 260), fill="black", width=2)
    for k, height in enumerate((120, 200, 80, 160, 230)):
        x = 60 + 60 * k
        draw.rectangle((x, 260 - height, x + 35, 260), fill=(60 + 30 * k, 90, 200 - 25 * k))
        draw.text((x + 5, 268), f"Q{k + 1}", fill="black")
    for y in range(40, 260, 40):
        draw.text((8, y - 6), str(300 - y), fill="black")
    draw.text((150, 4), "Revenue by quarter (k$)", fill="black")
    img.save(path)
    return path


def _text_page(path: Path) -> Path:
    img = Image.new("RGB", (300, 400), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    rng = np.random.default_rng(3)
    for line in range(30):
        words = " ".join("".join(rng.choice(list("abcdefghij"), rng.integers(2, 9))) for _ in range(6))
        draw.text((16, 12 + 12 * line), words, fill=(20, 20, 20))
    img.save(path)
    return path


def _photo_like(path: Path) -> Path:
    """A landscape-ish picture: graded sky, textured ground, blurred shapes, sensor noise."""
    rng = np.random.default_rng(11)
    h, w = 300, 400
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    sky = np.stack([110 + 60 * y / h, 150 + 50 * y / h, 230 - 20 * y / h], axis=-1)
    ground = np.stack([70 + 30 * np.sin(x / 9), 110 + 25 * np.cos(y / 7), 50 + 0 * x], axis=-1)
    horizon = 170 + 25 * np.sin(x / 60)
    img = np.where((y > horizon)[..., None], ground, sky) + rng.normal(0, 9, (h, w, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
    return path


@pytest.fixture(scope="module")
def probe(embedder: Embedder) -> ProbeScorer:
    return load_probe(DEFAULT_PROBE, embedder.spec.embedding_id)


def _scores(paths: list[Path], embedder: Embedder, probe: ProbeScorer) -> np.ndarray:
    decoded = decode_items(_items(*paths), embedder)
    assert decoded.usable.all(), decoded.reasons
    return probe.score(np.zeros((0, 0, 0, 3), np.uint8), decoded.embeddings)


def test_the_noise_probe_tells_a_chart_and_a_text_page_from_a_photo(
    tmp_path: Path, embedder: Embedder, probe: ProbeScorer
) -> None:
    chart, page = _bar_chart(tmp_path / "chart.png"), _text_page(tmp_path / "page.png")
    photo = _photo_like(tmp_path / "photo.jpg")
    p_chart, p_page, p_photo = _scores([chart, page, photo], embedder, probe)
    assert p_chart >= 0.5 and p_page >= 0.5, (p_chart, p_page)
    assert p_photo < 0.5, p_photo


def test_the_committed_probe_records_its_held_out_figures() -> None:
    data = json.loads(DEFAULT_PROBE.read_text())
    held = data["held_out"]
    assert held["precision"] >= 0.95 and held["recall"] >= 0.95
    assert len(data["weights"]) == 1280 and data["fitted_by"].startswith("python -m training.curate")


def test_the_probe_refuses_an_embedder_it_was_not_fitted_on() -> None:
    with pytest.raises(TrainingError, match="fitted on embedder"):
        load_probe(DEFAULT_PROBE, "some-other-model")


def test_the_noise_probe_on_real_non_photos_and_photos(
    datasets: Path, embedder: Embedder, probe: ProbeScorer
) -> None:
    with (datasets / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    non_photos: list[Path] = []
    for source in sorted({r["source"] for r in rows if r["kind"] == "non_photo"}):
        these = [r for r in rows if r["source"] == source]
        non_photos += [datasets / r["path"] for r in these[:: max(len(these) // 4, 1)][:4]]
    photos = [datasets / r["path"] for r in rows if r["kind"] == "photo"][::600]
    scores = _scores(non_photos + photos, embedder, probe)
    caught = int((scores[: len(non_photos)] >= 0.5).sum())
    false_alarms = int((scores[len(non_photos) :] >= 0.5).sum())
    assert caught >= len(non_photos) - 1, f"{caught}/{len(non_photos)} non-photos caught"
    assert false_alarms <= 1, f"{false_alarms}/{len(photos)} photos called non-photos"


# --- teacher -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "probs", "outcome", "label"),
    [
        ("indoor", {"indoor": 0.9, "outdoor": 0.1}, "confirmed", "indoor"),  # hi itself confirms
        ("indoor", {"indoor": 0.89, "outdoor": 0.11}, "low confidence", ""),
        ("indoor", {"indoor": 0.11, "outdoor": 0.89}, "low confidence", ""),
        ("indoor", {"indoor": 0.1, "outdoor": 0.9}, "relabelled", "outdoor"),  # lo itself contradicts
        ("kitchen", {"kitchen": 0.05, "bedroom": 0.6, "bathroom": 0.35}, "contradicted", ""),
    ],
)
def test_the_confidence_band(given: str, probs: dict[str, float], outcome: str, label: str) -> None:
    verdict = judge(given, probs, (0.1, 0.9))
    assert (verdict.outcome, verdict.label) == (outcome, label)
    assert verdict.probability == probs[given]


def test_labels_outside_the_band_survive_and_images_that_lose_every_label_go() -> None:
    items = [
        Item("sure.jpg", Path("sure.jpg"), "s", "indoor", "kitchen"),
        Item("unsure-room.jpg", Path("x"), "s", "indoor", "kitchen"),
        Item("unsure.jpg", Path("x"), "s", "indoor", ""),
        Item("flipped.jpg", Path("x"), "s", "indoor", "bedroom"),
        Item("no-opinion.jpg", Path("x"), "s", "outdoor", ""),
    ]
    probs = {
        0: {"scene": {"indoor": 0.99, "outdoor": 0.01}, "room": {"kitchen": 0.95, "bedroom": 0.05}},
        1: {"scene": {"indoor": 0.97, "outdoor": 0.03}, "room": {"kitchen": 0.5, "bedroom": 0.5}},
        2: {"scene": {"indoor": 0.6, "outdoor": 0.4}},
        3: {"scene": {"indoor": 0.02, "outdoor": 0.98}, "room": {"kitchen": 0.3, "bedroom": 0.7}},
        4: {},
    }
    outcome = apply_teacher(items, range(5), lambda i: probs[i], (0.1, 0.9))
    assert [(it.scene, it.room) for it in items] == [
        ("indoor", "kitchen"),
        ("indoor", ""),
        ("", ""),
        ("outdoor", ""),  # relabelled outdoor: a room cannot stay
        ("outdoor", ""),
    ]
    assert outcome.dropped == {2: "teacher: scene indoor p=0.60 (low confidence)"}
    assert outcome.counts["scene"] == {
        "confirmed": 2,
        "low confidence": 1,
        "relabelled": 1,
        "no teacher opinion": 1,
    }
    assert outcome.counts["room"] == {
        "confirmed": 1,
        "low confidence": 1,
        "cleared: scene relabelled outdoor": 1,
    }
    assert outcome.relabelled == [
        {"path": "flipped.jpg", "head": "scene", "from": "indoor", "to": "outdoor", "p": 0.02}
    ]
