"""`curate --engine ray` on a local Ray cluster (a head and 2 one-CPU worker nodes, actors at half a
CPU each) over 240 real images of the shared datasets: the same bytes as `--engine local`, a worker
SIGKILLed mid-run loses and duplicates nothing, and a driver SIGKILLed mid-run is resumed by the
same command, which processes only the shards that were missing.

Each test has a hard timeout; the module takes about 2 minutes on 2 cores (cluster start included).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from training.curate.pipeline import CurateConfig, curate
from training.curate.progress import quiet
from training.curate.work import WORK_DIR

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed (pip install 'image-sorter[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SHARD_SIZE = 20
CELL_SIZE = 60  # 4 dedupe cells (and the audit's 4): the partitioned search runs as Ray tasks
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_manifest(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 70th row of the shared manifest (all sources, non-photos too), plus an identical copy."""
    with (datasets_dir / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))[::70]
    root = tmp_path_factory.mktemp("real")
    shutil.copyfile(datasets_dir / rows[3]["path"], root / "copy.jpg")
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["path", "source", "scene", "room", "kind"])
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {k: r[k] for k in ("source", "scene", "room", "kind")}
                | {"path": str(datasets_dir / r["path"])}
            )
        writer.writerow(
            {
                "path": "copy.jpg",
                "source": "copies",
                "scene": rows[3]["scene"],
                "room": rows[3]["room"],
                "kind": "photo",
            }
        )
    return manifest


@pytest.fixture(scope="module")
def local_output(real_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local")
    config = CurateConfig(out=out, manifests=(real_manifest,), shard_size=SHARD_SIZE, cell_size=CELL_SIZE)
    curate(config, log=quiet)
    return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster: Any = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "run.json"}


def _assert_same_output(out: Path, reference: Path) -> None:
    got, expected = _files(out), _files(reference)
    assert sorted(got) == sorted(expected)
    for name, data in expected.items():
        assert got[name] == data, f"{name} differs from the local engine's"


def _run_record(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "run.json").read_text()))


def _config(manifest: Path, out: Path, cluster: Cluster) -> CurateConfig:
    return CurateConfig(
        out=out,
        manifests=(manifest,),
        shard_size=SHARD_SIZE,
        cell_size=CELL_SIZE,
        threads=1,
        engine="ray",
        address=cluster.address,
        workers=2,
    )


def test_ray_with_two_workers_writes_the_same_bytes_as_local(
    real_manifest: Path, local_output: Path, cluster: Cluster, tmp_path: Path
) -> None:
    manifest = curate(_config(real_manifest, tmp_path / "out", cluster), log=quiet)
    _assert_same_output(tmp_path / "out", local_output)
    run = _run_record(tmp_path / "out")
    assert run["engine"]["engine"] == "ray" and run["engine"]["nodes"] == 3
    assert len(run["work_shards"]["processed_by"]) == 2  # both actors took shards
    dedupe = next(s for s in manifest["steps"] if s["name"] == "dedupe")
    assert dedupe["dropped"] == 1  # the identical copy
    assert dedupe["search"]["cells"] == 4 and dedupe["recall"]["recall"] >= 0.9
    assert sum(s["images"] for s in manifest["input_shards"]) == manifest["counts"]["input"] == 241
    assert not (tmp_path / "out" / WORK_DIR).exists()


def _kill_first_worker(work: Path, killed: list[int]) -> None:
    """When the first shard is done, SIGKILL the actor process that did it (its pid is in the record)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        records = sorted(work.glob("*.done.json")) if work.is_dir() else []
        if records:
            pid = int(json.loads(records[0].read_text())["worker"]["pid"])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.05)


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    real_manifest: Path, local_output: Path, cluster: Cluster, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_worker, args=(out / WORK_DIR, killed), daemon=True)
    killer.start()
    curate(_config(real_manifest, out, cluster), log=quiet)
    killer.join(timeout=10)
    assert killed, "no worker was killed"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # it is gone; Ray restarted the actor in a new process and retried
    run = _run_record(out)
    assert run["work_shards"]["processed"] == run["work_shards"]["total"] == 13
    assert sum(run["work_shards"]["processed_by"].values()) == 13  # each shard counted once
    _assert_same_output(out, local_output)


def test_a_killed_driver_is_resumed_by_the_same_command(
    real_manifest: Path, local_output: Path, cluster: Cluster, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "training.cli", "curate", "--manifest", str(real_manifest), "--out", str(out),
        "--shard-size", str(SHARD_SIZE), "--cell-size", str(CELL_SIZE), "--threads", "1",
        "--engine", "ray", "--address", cluster.address, "--workers", "2",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = out / WORK_DIR
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(list(work.glob("*.done.json"))) < 3:
            assert driver.poll() is None, "the driver finished before it could be killed"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    time.sleep(3)  # the dead driver's actors are stopped by the cluster
    done_before = len(list(work.glob("*.done.json")))
    assert 3 <= done_before < 13
    assert not (out / "manifest.json").exists()
    subprocess.run(command, env=env, check=True, timeout=240, capture_output=True)
    shards = _run_record(out)["work_shards"]
    assert shards["total"] == 13
    assert shards["reused"] >= done_before and shards["processed"] == 13 - shards["reused"]
    assert shards["processed"] > 0
    _assert_same_output(out, local_output)
