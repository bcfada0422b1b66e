"""`curate` inputs cut into shards: WebDataset .tar shards read as labelled samples, and a run that
finds some shards already done (an earlier run was killed) processes only the rest."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from sorter_app.core.model_spec import load_spec
from tests import builders
from training.curate.pipeline import CurateConfig, curate, read_inputs
from training.curate.progress import quiet
from training.curate.shard_worker import ModelSetup, ShardProcessor, ShardTask
from training.curate.tars import read_tar
from training.curate.work import WORK_DIR, WorkStore, shard_key
from training.errors import TrainingError


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _write_tar(path: Path, samples: list[tuple[str, int, dict[str, str] | None, str | None]]) -> Path:
    """(key, image seed, json or None, cls or None) per sample, members in the order webdataset writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as archive:
        for key, seed, meta, cls in samples:
            jpeg = builders.write_jpeg(path.parent / f"{key}.tmp.jpg", seed)
            _add(archive, f"{key}.jpg", jpeg.read_bytes())
            jpeg.unlink()
            if meta is not None:
                _add(archive, f"{key}.json", json.dumps(meta | {"url": "http://x", "caption": "c"}).encode())
            if cls is not None:
                _add(archive, f"{key}.cls", cls.encode())
    return path


@pytest.fixture
def tars(tmp_path: Path) -> Path:
    root = tmp_path / "wit"
    _write_tar(
        root / "00000.tar",
        [
            ("a/000", 1, {"scene": "indoor", "room": "kitchen"}, None),
            ("a/001", 2, None, "outdoor"),
            ("a/002", 3, {"source": "museum"}, "bedroom"),
            ("a/003", 4, None, None),
        ],
    )
    _write_tar(
        root / "00001.tar", [("b/000", 5, {"kind": "non_photo"}, None), ("b/001", 6, None, "living_room")]
    )
    return root


def test_webdataset_samples_become_labelled_items(tars: Path) -> None:
    items = read_tar(tars / "00000.tar", tars)
    assert [(it.path, it.source, it.scene, it.room, it.member) for it in items] == [
        ("wit/00000.tar/a/000.jpg", "wit", "indoor", "kitchen", "a/000.jpg"),
        ("wit/00000.tar/a/001.jpg", "wit", "outdoor", "", "a/001.jpg"),
        ("wit/00000.tar/a/002.jpg", "museum", "indoor", "bedroom", "a/002.jpg"),
        ("wit/00000.tar/a/003.jpg", "wit", "", "", "a/003.jpg"),
    ]
    bad = _write_tar(tars / "bad.tar", [("c/000", 7, None, "spaceship")])
    with pytest.raises(TrainingError, match="unknown label 'spaceship'"):
        read_tar(bad, tars)


def test_curate_reads_tars_one_shard_each_and_counts_drops_per_shard(tars: Path, tmp_path: Path) -> None:
    manifest = curate(CurateConfig(out=tmp_path / "out", tars=(tars,), shard_size=3, threads=2), log=quiet)
    shards = manifest["input_shards"]
    assert [(Path(s["input"]).name, s["images"]) for s in shards] == [("00000.tar", 4), ("00001.tar", 2)]
    assert shards[1]["dropped"]["noise"] == 1  # the sample whose json says non_photo
    assert sum(s["kept"] for s in shards) == manifest["counts"]["kept"] == 5
    labels = {label for split in manifest["splits"].values() for label in split["by_label"]}
    assert labels == {"indoor/kitchen", "outdoor", "indoor/bedroom", "unknown", "indoor/living_room"}


def test_a_run_resumes_from_the_shards_an_earlier_run_finished(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for k in range(7):
        builders.write_jpeg(photos / "outdoor" / f"o{k}.jpg", 300 + k)
    reference = curate(
        CurateConfig(out=tmp_path / "reference", folders=(photos,), shard_size=3, noise_probe=None), log=quiet
    )
    # An earlier run got through the first shard, then died: its result is in the work folder.
    out = tmp_path / "out"
    config = CurateConfig(out=out, folders=(photos,), shard_size=3, noise_probe=None)
    inputs = read_inputs(config)  # what curate itself cuts the inputs into
    first = inputs.items[:3]
    setup = ModelSetup(config.embedder, None, None, config.min_colours, threads=2)
    fingerprint = setup.fingerprint(load_spec(config.embedder).sha256, None)
    ShardProcessor(setup, out / WORK_DIR).process(ShardTask(0, shard_key(fingerprint, first), first))
    (out / WORK_DIR / ".debris.tmp").write_bytes(b"half a file")  # what a killed worker leaves
    manifest = curate(config, log=quiet)
    run = json.loads((out / "run.json").read_text())
    assert run["work_shards"] == {
        "total": 3,
        "reused": 1,
        "processed": 2,
        "processed_by": run["work_shards"]["processed_by"],
    }
    assert sum(run["work_shards"]["processed_by"].values()) == 2
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in reference["shards"]]
    assert not (out / WORK_DIR).exists() and not WorkStore(out / WORK_DIR).is_done("x")


def test_a_run_where_nothing_survives_writes_an_empty_valid_output(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    builders.write_truncated_jpeg(photos / "outdoor" / "a.jpg")
    builders.write_zero_bytes(photos / "outdoor" / "b.jpg")
    manifest = curate(CurateConfig(out=tmp_path / "out", folders=(photos,)), log=quiet)
    assert manifest["counts"]["kept"] == 0 and manifest["shards"] == []
    assert manifest["input_shards"][0]["dropped"]["corrupt"] == 2
    dedupe = next(s for s in manifest["steps"] if s["name"] == "dedupe")
    assert dedupe["recall"]["injected"] == 0 and dedupe["recall"]["recall"] is None
