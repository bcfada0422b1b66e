"""features → select → fit → export-heads on built images: the real network, real ONNX, real files.

Four "sources" of generated images: two of photo-like textures (one warm "indoor" rooms set, one
cool "outdoor" set, plus a second indoor source so that rooms have two sources) and one of flat
graphics. The model cannot be good on so little, but every step must run, keep its promises
(held-out rows never trained on, thresholds keeping ≥ 85 % where asked, the embedding bit-identical,
scene gated on kind), and write what the app reads.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image, ImageDraw

from sorter_app.core.embedder import Embedder
from sorter_app.core.images import load_image, load_image_file
from sorter_app.core.model_spec import load_spec
from sorter_app.core.predictions import prediction_heads
from sorter_app.core.preprocess import normalise_batch, to_model_pixels
from training import selection
from training.cli import main
from training.feature_cache import FeatureCache
from training.fit_selected import FIT_FILE, HEADS_FILE, merged_heldout
from training.heldout_thresholds import answered, choose_head_threshold
from training.selection import HeldOut, LogisticRecipe, leave_one_source_out
from training.selection_data import SelectionData, load_selection_data

from .conftest import textured_pixels

pytestmark = (
    pytest.mark.slow
)  # exports EfficientNet-Lite0 three times and embeds ~60 images × 7 views: ~1 min

ROOMS = ("kitchen", "bedroom")


def _photo(path: Path, seed: int, warm: bool, wide: bool) -> None:
    pixels = textured_pixels(300 if wide else 240, 240, seed)
    pixels[..., 2 if warm else 0] //= 3
    Image.fromarray(pixels, "RGB").save(path)


def _graphic(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (260, 200), "white")
    draw = ImageDraw.Draw(image)
    for i in range(6):
        height = int(rng.integers(20, 180))
        draw.rectangle((20 + 38 * i, 190 - height, 48 + 38 * i, 190), fill=(40, 90, 200))
    draw.line((10, 190, 250, 190), fill="black", width=2)
    image.save(path)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    rows = []
    sources = (("homes_a", "indoor", ROOMS), ("homes_b", "indoor", ROOMS), ("outside", "outdoor", ("",)))
    for s, (source, scene, rooms) in enumerate(sources):
        for i in range(12):
            room = rooms[i % len(rooms)]
            path = root / source / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            # A fixed seed of its own: hash() is salted per process, and two photos of one seed are
            # one image to the cache.
            _photo(path, seed=100 * s + i, warm=scene == "indoor", wide=i % 3 == 0)
            rows.append({"path": str(path), "source": source, "scene": scene, "room": room, "kind": "photo"})
    for i in range(10):
        path = root / "charts" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        _graphic(path, i)
        rows.append({"path": str(path), "source": "charts", "scene": "", "room": "", "kind": "non_photo"})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["path", "source", "scene", "room", "kind"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def cache(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cache") / "features"
    assert main(["features", "--manifest", str(manifest), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def run(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("run")
    assert (
        main(["select", "--cache", str(cache), "--out", str(work / "sel"), "--recipes", "lr,lr_flip_tta"])
        == 0
    )
    assert (
        main(["fit", "--selection", str(work / "sel"), "--cache", str(cache), "--out", str(work / "run")])
        == 0
    )
    yield work


def test_the_centre_view_is_what_the_app_embeds(cache: Path, manifest: Path, tmp_path: Path) -> None:
    features = FeatureCache(cache)
    assert features.complete and not any(features.rows.error)
    from training.export_embedder import export_embedder

    sidecar = export_embedder(
        tmp_path / "m", tmp_path / "no-datasets", sanity_check=False, log=lambda _: None
    )
    embedder = Embedder.from_sidecar(sidecar.sidecar_path)

    paths = [Path(p) for p in features.rows.path[:5]]
    pixels = np.stack(
        [
            to_model_pixels(load_image(p.read_bytes(), min_side=224).image, embedder.spec.preprocess)
            for p in paths
        ]
    )
    assert np.max(np.abs(embedder.embed(pixels) - features.embeddings("centre")[:5])) < 1e-5
    square = np.array([Image.open(p).size[0] == Image.open(p).size[1] for p in features.rows.path])
    wide = ~square
    # A square image's letterbox is its centre crop; a wide one's is not (nothing cropped away).
    assert wide.any()
    same = np.all(features.embeddings("letterbox") == features.embeddings("centre"), axis=1)
    assert not same[wide].any()
    assert features.activations("aug0").shape[1:] == (192, 7, 7)


def test_activations_cut_elsewhere_are_refused(cache: Path, tmp_path: Path) -> None:
    """Every cut between blocks 12 and 15 gives a [192, 7, 7] activation, so only the record says
    which layer a cache holds; a tail must never train on another layer's output."""
    import shutil

    from training.errors import TrainingError
    from training.trunk import CUT_BLOCK

    copy = tmp_path / "features"
    shutil.copytree(cache, copy)
    meta = json.loads((copy / "cache.json").read_text(encoding="utf-8"))
    (copy / "cache.json").write_text(json.dumps({**meta, "cut_block": CUT_BLOCK + 1}), encoding="utf-8")
    with pytest.raises(TrainingError, match="run `sorter-train features` again"):
        FeatureCache(copy).activations("centre")
    assert FeatureCache(cache).activations("centre").shape[1:] == (192, 7, 7)


def test_a_held_out_source_is_never_trained_on(cache: Path) -> None:
    data = load_selection_data([cache])
    seen: list[set[str]] = []
    recipe = LogisticRecipe()

    def spy(d: SelectionData, rows: np.ndarray, head: str) -> selection.Predict:
        seen.append(set(d.source[rows].tolist()))
        return recipe.fit(d, rows, head)

    held = leave_one_source_out(data, "scene", spy, log=lambda _: None)
    assert sorted(held.folds) == ["homes_a", "homes_b", "outside"]
    for fold, sources in zip(sorted(held.folds), seen, strict=True):
        assert fold not in sources
    assert sorted(data.source[held.rows].tolist()) == sorted(data.source[data.labels["scene"] >= 0].tolist())


def test_a_threshold_never_keeps_less_than_the_coverage_floor(cache: Path) -> None:
    data = load_selection_data([cache])
    rows = np.flatnonzero(data.labels["room"] >= 0)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(6), size=rows.size).astype(np.float32)  # a hopeless model
    choice = choose_head_threshold(data, "room", HeldOut(rows, probs), target=0.99, min_coverage=0.85)
    assert not choice.target_reached and choice.coverage >= 0.85


def test_each_held_out_source_keeps_the_coverage_floor_not_only_their_pool(cache: Path) -> None:
    """Two easy sources the model is sure and right on, one hard one where it is unsure and often
    wrong: held to the pool, the hard source is answered for far fewer than 85 % of its photos;
    held source by source, it keeps 85 %, as a new folder from a hard source would."""
    data = load_selection_data([cache])
    rows = np.flatnonzero(data.labels["scene"] >= 0)
    y = data.labels["scene"][rows]
    hard = data.source[rows] == "outside"
    rng = np.random.default_rng(0)
    sure = np.where(hard, rng.uniform(0.5, 0.99, rows.size), 0.999)
    said = np.where(~hard | (rng.random(rows.size) < 0.6), y, 1 - y)
    probs = np.empty((rows.size, 2), dtype=np.float32)
    probs[np.arange(rows.size), said] = sure
    probs[np.arange(rows.size), 1 - said] = 1 - sure
    held = HeldOut(rows, probs)
    sure = probs.max(1)  # as stored: float32
    pooled = choose_head_threshold(data, "scene", held, target=0.99)
    each = choose_head_threshold(data, "scene", held, target=0.99, each_source=True)
    assert (sure[hard] >= pooled.unknown_below).mean() < 0.85
    assert (sure[hard] >= each.unknown_below).mean() >= 0.85
    assert (sure[~hard] >= each.unknown_below).all() and not each.target_reached


def _scene_probs(y: np.ndarray, sure: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two-class probabilities saying `y` (or the other class where not `right`) with `sure`."""
    said = np.where(right, y, 1 - y)
    probs = np.empty((y.size, 2), dtype=np.float32)
    probs[np.arange(y.size), said] = sure
    probs[np.arange(y.size), 1 - said] = 1 - sure
    return probs


def test_a_source_the_gate_mostly_hides_does_not_drag_every_source_to_answer_all(cache: Path) -> None:
    """The heads before this one hide a fifth of one source: this head cannot bring that source to
    85 %, and held to it the threshold would fall to 0 for every source."""
    data = load_selection_data([cache])
    rows = np.flatnonzero(data.labels["scene"] >= 0)
    y = data.labels["scene"][rows]
    rng = np.random.default_rng(1)
    sure = rng.uniform(0.5, 0.99, rows.size).astype(np.float32)
    probs = _scene_probs(y, sure, rng.random(rows.size) < 0.8)
    outside = np.flatnonzero(data.source[rows] == "outside")
    shown = np.ones(rows.size, dtype=bool)
    shown[outside[:3]] = False  # 3 of its 12 photos: 25 % hidden before this head
    each = choose_head_threshold(
        data, "scene", HeldOut(rows, probs), target=0.99, shown=shown, each_source=True
    )
    assert each.unknown_below > 0.5
    for source in ("homes_a", "homes_b"):
        mine = data.source[rows] == source
        assert (probs.max(1)[mine] >= each.unknown_below).mean() >= 0.85


def test_the_target_is_claimed_only_where_every_source_reaches_it_at_the_threshold(cache: Path) -> None:
    """Source A reaches 75 % right at its own lowest threshold, source B only at a higher one; at
    B's, A keeps two answers, one wrong. Reaching it source by source is not reaching it together."""
    data = load_selection_data([cache])
    a = np.flatnonzero(data.source == "homes_a")[:8]  # [:8]: identical images across sources are
    b = np.flatnonzero(data.source == "homes_b")[:8]  # kept once, so a source may have fewer than 12
    rows = np.concatenate([a, b])
    levels = np.linspace(0.99, 0.55, 8).astype(np.float32)
    right = np.array([1, 0, 1, 1, 1, 0, 0, 0, 1, 1, *[0] * 6], dtype=bool)  # A: 75 % at 5 kept; B: at 2
    held = HeldOut(rows, _scene_probs(data.labels["scene"][rows], np.tile(levels, 2), right))
    each = choose_head_threshold(data, "scene", held, target=0.75, min_coverage=0.1, each_source=True)
    assert each.unknown_below == levels[1]
    assert not each.target_reached


def test_fit_and_export_give_the_app_a_kind_first_model(cache: Path, run: Path, tmp_path: Path) -> None:
    figures = json.loads((run / "run" / FIT_FILE).read_text())
    assert figures["recipe"] == "lr" and set(figures["thresholds"]) == {"kind", "scene", "room"}
    # Scene and room: every held-out source is answered for ≥ 85 % of its photos, unless the heads
    # before it already hide more of that source (kind's threshold follows the graphic-leak rule).
    data = load_selection_data([cache])
    held = merged_heldout([run / "sel"], data, "lr")
    everything = np.arange(len(data))
    said = {h: answered(held[h], figures["thresholds"][h]["unknown_below"], everything) for h in held}
    gates = {"scene": said["kind"] == 0, "room": (said["kind"] == 0) & (said["scene"] == 0)}  # photo; indoor
    for head, gate in gates.items():
        for source in data.sources_with(head):
            mine = (data.source == source) & (data.labels[head] >= 0)
            if gate[mine].mean() >= 0.85:
                assert (gate & (said[head] >= 0))[mine].mean() >= 0.85, (head, source)
    assert figures["thresholds"]["kind"]["unknown_below"] >= 0.5
    assert (run / "run" / HEADS_FILE).is_file()
    models = tmp_path / "models"
    models.mkdir()
    (models / "MODELS.md").write_text("# Bundled models\n\nhand-written part\n")
    assert main(["export-heads", "--run", str(run / "run"), "--install", "--models-dir", str(models)]) == 0
    spec = load_spec(models / "image-sorter.json")
    assert list(prediction_heads(spec)) == ["kind", "scene", "room"]
    assert spec.outputs["scene"]["only_when"] == {"kind": "photo"}
    assert spec.extra["embedding_from"]["max_abs_diff"] == 0.0
    embedder = Embedder.from_sidecar(models / "image-sorter.json")
    out = embedder.run(np.full((2, 224, 224, 3), 128, dtype=np.uint8))
    assert out["kind"].shape == (2, 2) and out["room"].shape == (2, 6)
    text = (models / "MODELS.md").read_text()
    assert "hand-written part" in text and "| `lr` |" in text and "sorter-train select" in text
    # Installed again over itself: the heads go onto the installed graph, whose embedding is kept bit for bit.
    assert main(["export-heads", "--run", str(run / "run"), "--install", "--models-dir", str(models)]) == 0
    again = load_spec(models / "image-sorter.json")
    assert again.extra["embedding_from"]["same_graph_as"] == spec.model_id
    pixels = np.stack(
        [np.asarray(Image.new("RGB", (224, 224), (30 * i, 90, 200)), dtype=np.uint8) for i in range(3)]
    )
    before = embedder.embed(pixels)
    assert np.array_equal(Embedder.from_sidecar(models / "image-sorter.json").embed(pixels), before)
    assert (
        text.count("export-heads --install") >= 1
        and (models / "MODELS.md").read_text().count("## `image-sorter.onnx`") == 1
    )


def test_a_fine_tuned_tail_installs_beside_the_untouched_embedding(
    cache: Path, run: Path, tmp_path: Path
) -> None:
    """select --tail → fit --recipe tail → export-heads onto an installed model: the tuned copy of
    the tail branches off the installed graph's trunk, so the embedding stays bit for bit."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "MODELS.md").write_text("# Bundled models\n")
    assert main(["export-heads", "--run", str(run / "run"), "--install", "--models-dir", str(models)]) == 0
    linear = load_spec(models / "image-sorter.json")
    assert linear.heads_file and (models / linear.heads_file).is_file()
    pixels = np.stack(
        [np.asarray(Image.new("RGB", (224, 224), (40 * i, 90, 160)), np.uint8) for i in range(3)]
    )
    before = Embedder.from_sidecar(models / "image-sorter.json").run(pixels)

    sel, tuned_run = tmp_path / "sel", tmp_path / "tuned"
    tail = ["--tail", "--tail-epochs", "1", "--tail-samples", "32"]
    assert main(["select", "--cache", str(cache), "--out", str(sel), "--recipes", "lr", *tail]) == 0
    assert (
        main(
            [
                "fit",
                "--selection",
                str(sel),
                "--cache",
                str(cache),
                "--recipe",
                "tail",
                "--out",
                str(tuned_run),
            ]
        )
        == 0
    )
    assert main(["export-heads", "--run", str(tuned_run), "--install", "--models-dir", str(models)]) == 0

    spec = load_spec(models / "image-sorter.json")
    assert spec.extra["finetuned"] and spec.extra["embedding_from"]["same_graph_as"] == linear.model_id
    assert not spec.heads_file and not (models / linear.heads_file).exists()  # the old heads would answer
    after = Embedder.from_sidecar(models / "image-sorter.json").run(pixels)
    assert np.array_equal(after["embedding"], before["embedding"])
    assert np.allclose(after["kind"], before["kind"], atol=1e-6)  # kind stays a linear head
    graph = onnx.load(str(models / spec.onnx_file)).graph
    made_by = {out: node.name for node in graph.node for out in node.output}
    assert {h: made_by[h].startswith("tuned/") for h in ("kind", "scene", "room")} == {
        "kind": False,
        "scene": True,
        "room": True,
    }
    assert list(prediction_heads(spec)) == ["kind", "scene", "room"]

    # The same run again (as after choosing new thresholds only): the same graph, the same model id,
    # and its record of which names hold its vectors is kept, not rewritten as "the same graph as itself".
    assert main(["export-heads", "--run", str(tuned_run), "--install", "--models-dir", str(models)]) == 0
    again = load_spec(models / "image-sorter.json")
    assert again.model_id == spec.model_id
    assert again.extra["embedding_from"] == spec.extra["embedding_from"]
    assert again.embedding_names == spec.embedding_names
    commands = [c["command"] for c in again.extra["commands"]]
    assert len(commands) == len(set(commands)) and commands[-1].startswith("sorter-train export-heads")


def test_the_backbone_probe_embeds_as_the_cache_and_scores_as_select(cache: Path, tmp_path: Path) -> None:
    """tools/backbone_probe compares backbones fairly only if Lite0 through it gives the cache's
    own centre embeddings, and its `lr` the held-out predictions `select` gets; a row joined by
    `+` is the concatenation; a file embedded from other rows is refused."""
    from tools.backbone_probe import candidate, embed, load_embedding, lr_on, save_embedding
    from training.errors import TrainingError

    data = load_selection_data([cache])
    probed = embed(data, "lite0", 224)
    photos = data.labelled_photos
    assert np.max(np.abs(probed[photos] - data.embeddings("centre")[photos])) < 1e-5
    assert not probed[~photos].any()
    same = embed(data, "lite0", 224, from_size=224)  # the app's crop, enlarged to its own size
    assert np.max(np.abs(same[photos] - probed[photos])) < 1e-5
    enlarged = embed(data, "lite0", 256, from_size=224)
    assert np.allclose(np.linalg.norm(enlarged[photos], axis=1), 1, atol=1e-4)
    assert np.max(np.abs(enlarged[photos] - probed[photos])) > 1e-2
    ours = leave_one_source_out(data, "room", lr_on(probed), log=lambda _: None)
    selects = leave_one_source_out(data, "room", LogisticRecipe().fit, log=lambda _: None)
    assert np.max(np.abs(ours.probs - selects.probs)) < 1e-3
    save_embedding(tmp_path / "lite0.npz", data, probed)
    assert np.array_equal(load_embedding(tmp_path / "lite0.npz", data), probed)
    name, joined = candidate(data, f"lite0+{tmp_path / 'lite0.npz'}")
    assert name == "lite0+lite0"
    assert np.array_equal(joined, np.hstack([data.embeddings("centre"), probed]))
    data.content_hash = data.content_hash[::-1].copy()
    with pytest.raises(TrainingError, match="another cache"):
        load_embedding(tmp_path / "lite0.npz", data)


def test_the_backbone_probe_pools_the_cached_activations_as_the_network_does(cache: Path) -> None:
    """`pool`'s mean is the cache's embedding (the frozen tail run on the cached activation), so
    its other poolings are of the very map the installed model pools."""
    from tools.backbone_probe import pool
    from training.errors import TrainingError

    data = load_selection_data([cache])
    photos = data.labelled_photos
    mean = pool(data, "mean")
    assert np.max(np.abs(mean[photos] - data.embeddings("centre")[photos])) < 1e-4
    shapes = {name: pool(data, name) for name in ("max", "gem3", "grid2", "block15", "trunk")}
    assert {name: f.shape[1] for name, f in shapes.items()} == {
        "max": 1280,
        "gem3": 1280,
        "grid2": 5120,
        "block15": 320,
        "trunk": 192,
    }
    for features in shapes.values():
        assert np.allclose(np.linalg.norm(features[photos], axis=1), 1, atol=1e-4)
        assert not features[~photos].any()
    assert np.max(np.abs(shapes["max"][photos] - mean[photos])) > 1e-2
    with pytest.raises(TrainingError, match="unknown pooling"):
        pool(data, "median")


def test_a_room_tail_on_enlarged_views_installs_as_a_second_pass_of_the_same_trunk(
    cache: Path, manifest: Path, tmp_path: Path
) -> None:
    """features --enlarge → select --tail-enlarge → fit --room-recipe → export-heads: room comes
    from a tail on the app's crop enlarged inside the graph, scene from the 224 tail, the embedding
    stays bit for bit, the enlarged pass reuses the installed trunk's weights, and what the app
    gets for room is that tail on the enlarged crop."""
    import shutil

    import torch

    from tools.backbone_probe import embed
    from training.enlarged_views import EnlargedTrunk
    from training.export_embedder import LITE0_PREPROCESS
    from training.pretrained import load_lite0
    from training.tail_finetune import SavedTail, frozen_tail_embedding, tuned_heads_from, tuned_tails
    from training.trunk import Trunk

    enlarged_cache = tmp_path / "cache"
    shutil.copytree(cache, enlarged_cache)  # resumed, then given its enlarged views
    assert (
        main(["features", "--manifest", str(manifest), "--out", str(enlarged_cache), "--enlarge", "256"]) == 0
    )
    same = ["features", "--manifest", str(manifest), "--out", str(enlarged_cache), "--enlarge", "224"]
    assert main(same) == 0
    data = load_selection_data([enlarged_cache])
    photos = np.flatnonzero(data.labelled_photos)
    at_224 = data.activations("up224_centre")[photos].astype(np.float32)  # the app's size: no change
    assert np.max(np.abs(at_224 - data.activations("centre")[photos].astype(np.float32))) < 2e-2
    up = data.activations("up256_centre")
    assert up.shape == (len(data), 192, 8, 8)
    probe = embed(data, "lite0", 256, from_size=224)  # what MODELS.md's enlarged figures were made from
    assert np.max(np.abs(frozen_tail_embedding(up, photos)[photos] - probe[photos])) < 1e-3
    mirrored = frozen_tail_embedding(data.activations("up256_flip"), photos)[photos]
    assert np.max(np.abs(mirrored - probe[photos])) > 1e-2

    models = tmp_path / "models"
    models.mkdir()
    (models / "MODELS.md").write_text("# Bundled models\n")
    sel, lr_run, tuned_run = tmp_path / "sel", tmp_path / "lr", tmp_path / "tuned"
    cached = ["--cache", str(enlarged_cache)]
    assert main(["select", *cached, "--out", str(sel), "--recipes", "lr"]) == 0
    assert main(["fit", "--selection", str(sel), *cached, "--out", str(lr_run)]) == 0
    assert main(["export-heads", "--run", str(lr_run), "--install", "--models-dir", str(models)]) == 0
    pixels = np.stack(
        [np.asarray(Image.new("RGB", (224, 224), (40 * i, 90, 160)), np.uint8) for i in range(3)]
    )
    before = Embedder.from_sidecar(models / "image-sorter.json").run(pixels)
    sel_tails = tmp_path / "sel_tails"
    tails = ["--tail", "--tail-enlarge", "256", "--tail-epochs", "1", "--tail-samples", "32"]
    assert main(["select", *cached, "--out", str(sel_tails), "--recipes", "none", *tails]) == 0
    record = json.loads((sel_tails / "selection.json").read_text())
    assert set(record["recipes"]) == {"tail", "tail_up256"}
    fit = ["fit", "--selection", str(sel), "--selection", str(sel_tails), *cached, "--recipe", "tail"]
    assert main([*fit, "--room-recipe", "tail_up256", "--out", str(tuned_run)]) == 0
    with np.load(tuned_run / HEADS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    # The 224 tail keeps its room head for the photos the scene head does not call indoor.
    assert tuned_tails(arrays) == {
        "": SavedTail(("scene", "room")),
        "up256/": SavedTail(("room",), enlarge=256, indoors_only=True),
    }
    assert main(["export-heads", "--run", str(tuned_run), "--install", "--models-dir", str(models)]) == 0

    spec = load_spec(models / "image-sorter.json")
    assert json.loads((tuned_run / FIT_FILE).read_text())["room_recipe"] == "tail_up256"
    graph = onnx.load(str(models / spec.onnx_file)).graph
    made_by = {out: node.name for node in graph.node for out in node.output}
    assert made_by["scene"].startswith("tuned/") and not made_by["scene"].startswith("tuned/up256/")
    assert made_by["room"].startswith("tuned/up256/") and not made_by["kind"].startswith("tuned/")
    assert [n.op_type for n in graph.node if n.name.startswith("up256/")].count("Resize") == 1
    own_weights = sum(np.prod(i.dims) for i in graph.initializer if i.name.startswith("up256/"))
    assert own_weights < 100  # the Resize's sizes: the enlarged pass reads the trunk's own weights

    after = Embedder.from_sidecar(models / "image-sorter.json").run(pixels)
    assert np.array_equal(after["embedding"], before["embedding"])
    # Room: the enlarged tail's for a photo the scene head calls indoor (p ≥ 0.5), else the 224
    # tail's; checked on photos of each kind, and on batches where no photo or every photo is indoor.
    with manifest.open(encoding="utf-8") as fh:
        files = [Path(row["path"]) for row in csv.DictReader(fh) if row["kind"] == "photo"]
    shown = np.stack([to_model_pixels(load_image_file(p).image, LITE0_PREPROCESS) for p in files])
    answers = Embedder.from_sidecar(models / "image-sorter.json").run(shown)
    indoor = answers["scene"][:, 0] >= 0.5
    assert 0 < indoor.sum() < len(shown)
    x = torch.from_numpy(normalise_batch(shown, LITE0_PREPROCESS))
    with torch.inference_mode():
        enlarged = tuned_heads_from(arrays, "up256/")(EnlargedTrunk(Trunk(load_lite0()), 256)(x))["room"]
        plain = tuned_heads_from(arrays, "")(Trunk(load_lite0())(x))["room"]
    expected = np.where(indoor[:, None], torch.softmax(enlarged, 1).numpy(), torch.softmax(plain, 1).numpy())
    assert np.max(np.abs(answers["room"] - expected)) < 1e-4
    for rows in (~indoor, indoor):
        alone = Embedder.from_sidecar(models / "image-sorter.json").run(shown[rows])
        assert np.max(np.abs(alone["room"] - expected[rows])) < 1e-4


def test_enlarging_refuses_what_would_leave_a_usable_row_without_its_views(
    cache: Path, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that decoded when the cache was built and no longer does would leave zeros beside
    its 224 views, to be trained and scored on: refused, as are enlarged views never made and
    `select --recipes none` with no tail to score."""
    import dataclasses
    import shutil

    from training.curate.inputs import read_manifest
    from training.enlarged_views import add_enlarged_views
    from training.errors import TrainingError

    copied = tmp_path / "cache"
    shutil.copytree(cache, copied)
    data = load_selection_data([copied])
    with pytest.raises(TrainingError, match="--enlarge"):
        data.activations("up256_centre")
    items = read_manifest(manifest)
    items[3] = dataclasses.replace(items[3], file=tmp_path / "gone.png")
    with pytest.raises(TrainingError, match="changed since the cache was built"):
        add_enlarged_views(copied, items, 256, log=lambda _: None)
    capsys.readouterr()
    assert main(["select", "--cache", str(copied), "--out", str(tmp_path / "sel"), "--recipes", "none"]) == 1
    assert "scores the tails only" in capsys.readouterr().err
