"""A damaged catalog or corrections file never locks the user out; undo and journal always work."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sorter_app.core.catalog import Catalog
from sorter_app.core.folder_index import index_name
from sorter_app.core.label_store import LabelStore
from sorter_app.core.model_spec import load_spec
from sorter_app.core.vector_index import open_annoy
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from tests.cli.runner import Sorter, annoy_from
from tests.tiny_model import write_tiny_model


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for i in range(6):
        builders.write_jpeg(folder / f"img{i}.jpg", seed=i)
    return folder.resolve()


@pytest.fixture
def sorter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Sorter:
    return Sorter(capsys, tmp_path / "data")


def _random(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _header_zeroed(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.write(bytes(100))


def _truncated(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 3)


def _text(path: Path) -> None:
    path.write_text("not a database\n" * 100)


def _pages_garbled(path: Path) -> None:
    """Every page but the first (header and schema root) overwritten: found only when read."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page:] = np.random.default_rng(1).bytes(len(data) - page)
    path.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "random bytes": _random,
    "header zeroed": _header_zeroed,
    "truncated": _truncated,
    "a text file": _text,
    "pages garbled": _pages_garbled,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_catalog_is_set_aside_and_rebuilt_by_the_next_index(
    sorter: Sorter, photos: Path, damage: str
) -> None:
    assert sorter("index", str(photos))[1]["indexed"] == 6
    catalog = sorter.data / "catalog.sqlite"
    DAMAGE[damage](catalog)
    code, report, err = sorter("index", str(photos))
    assert code == 0 and report["indexed"] == 6, err
    assert len(err) == 1 and "was damaged" in err[0] and "started a fresh one" in err[0]
    assert len([p for p in sorter.data.glob("catalog.sqlite.damaged-*") if not p.name.endswith("-wal")]) == 1
    code, status, err = sorter("status", str(photos))
    assert code == 0 and status["usable"] == 6 and err == []


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_journal_and_undo_work_whatever_state_the_catalog_is_in(
    sorter: Sorter, photos: Path, tmp_path: Path, damage: str
) -> None:
    sorter("index", str(photos))
    plan_file = tmp_path / "plan.json"
    code, plan, err = sorter(
        "plan", str(photos), "--clusters", "all", "--to", str(tmp_path / "sorted"), "-o", str(plan_file)
    )
    assert code == 0, err
    code, moved, err = sorter("move", "--plan", str(plan_file))
    assert code == 0 and moved["moved"] == len(plan["moves"]) > 0, err
    DAMAGE[damage](sorter.data / "catalog.sqlite")
    code, plans, err = sorter("journal")
    assert code == 0 and [p["state"] for p in plans] == ["applied"]
    code, undone, err = sorter("undo")
    assert code == 0 and undone["restored"] == len(plan["moves"])
    assert sorted(p.name for p in photos.iterdir()) == [f"img{i}.jpg" for i in range(6)]


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Flat colours the tiny model answers predictably (reds are kitchens): tests/tiny_model.py."""
    write_tiny_model(tmp_path / "res" / "models")
    monkeypatch.setenv("SORTER_RESOURCES_DIR", str(tmp_path / "res"))
    folder = tmp_path / "colours"
    folder.mkdir()
    for k in range(3):
        Image.new("RGB", (300, 240), (255, 3 * k, 0)).save(folder / f"red{k}.png")
        Image.new("RGB", (300, 240), (0, 3 * k, 255)).save(folder / f"blue{k}.png")
    return folder.resolve()


def _said(sorter: Sorter, folder: Path) -> dict[str, tuple[str, bool]]:
    code, rows, err = sorter("predict", str(folder))
    assert code == 0, err
    return {Path(r["path"]).name: (r["room"], r["room_corrected"]) for r in rows}


@pytest.mark.parametrize("damage", ["random bytes", "header zeroed", "truncated", "a text file"])
def test_a_damaged_corrections_file_is_restored_from_its_backup(
    sorter: Sorter, tiny: Path, damage: str
) -> None:
    sorter("index", str(tiny))
    assert sorter("correct", str(tiny), str(tiny / "blue1.png"), "bathroom")[0] == 0
    before = _said(sorter, tiny)
    assert before["blue1.png"] == ("bathroom", True)
    DAMAGE[damage](sorter.data / "user.sqlite")
    code, _, err = sorter("predict", str(tiny))
    assert code == 0
    assert len(err) == 1 and "corrections file" in err[0] and "restored the backup" in err[0]
    assert _said(sorter, tiny) == before
    assert len([p for p in sorter.data.glob("user.sqlite.damaged-*") if not p.name.endswith("-wal")]) == 1


def test_without_a_backup_a_damaged_corrections_file_starts_empty_and_says_so(
    sorter: Sorter, tiny: Path
) -> None:
    sorter("index", str(tiny))
    sorter("correct", str(tiny), str(tiny / "blue1.png"), "bathroom")
    (sorter.data / "user-backup.sqlite").unlink()
    _random(sorter.data / "user.sqlite")
    code, _, err = sorter("predict", str(tiny))
    assert code == 0 and len(err) == 1 and "no usable backup, starting empty" in err[0]
    assert _said(sorter, tiny)["blue1.png"][1] is False


def test_every_correction_refreshes_the_backup(sorter: Sorter, tiny: Path) -> None:
    sorter("index", str(tiny))
    sorter("correct", str(tiny), str(tiny / "blue1.png"), "bathroom")
    sorter("correct", str(tiny), str(tiny / "red2.png"), "bedroom")
    backup = sorter.data / "user-backup.sqlite"
    os.replace(backup, sorter.data / "user.sqlite")  # the backup alone holds both corrections
    for side in ("-wal", "-shm"):
        (sorter.data / f"user.sqlite{side}").unlink(missing_ok=True)
    said = _said(sorter, tiny)
    assert said["blue1.png"] == ("bathroom", True) and said["red2.png"] == ("bedroom", True)


def test_status_says_annoy_only_when_search_uses_it_and_index_rebuilds_a_damaged_file(
    sorter: Sorter, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    annoy_from(monkeypatch, 5)
    sorter("index", str(photos))
    assert sorter("status", str(photos))[1]["search"] == "annoy"
    (ann,) = (sorter.data / "indexes").glob("*.ann")
    _random(ann)  # made `sorter similar` die of a segfault before
    code, status, _ = sorter("status", str(photos))
    assert (status["search"], status["annoy_items"]) == ("exact", 0)
    code, neighbours, err = sorter("similar", str(photos), str(photos / "img1.jpg"), "-k", "3")
    assert code == 0 and len(neighbours) == 3 and err == []
    assert sorter("index", str(photos))[0] == 0
    assert sorter("status", str(photos))[1]["search"] == "annoy"


TWO_INDEXERS = """
import functools, sys
import sorter_app.cli as cli
from sorter_app.core.catalog import Catalog
from sorter_app.core.folder_index import index_name
from sorter_app.core.label_store import LabelStore
from sorter_app.core.library import Library
from sorter_app.core.model_spec import load_spec
from sorter_app.core.vector_index import open_annoy
from sorter_app.paths import bundled_model_sidecar
cli.Library = functools.partial(Library, annoy_min_items=5)
raise SystemExit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow  # ~15 s: two processes load the model and index, three rounds
def test_two_indexers_at_once_leave_a_whole_verified_index(sorter: Sorter, photos: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-c", TWO_INDEXERS, "index", str(photos), "--data-dir", str(sorter.data)]
    for round_ in range(3):
        for i in range(4):
            builders.write_jpeg(photos / f"round{round_}-{i}.jpg", seed=100 + 10 * round_ + i)
        for manifest in (sorter.data / "indexes").glob("*.json"):
            manifest.unlink()  # both runs find no index and want to build one
        runs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outcomes = [(run.wait(timeout=300), run.stderr.read() if run.stderr else b"") for run in runs]
        assert [code for code, _ in outcomes] == [0, 0], outcomes
        assert all(err == b"" for _, err in outcomes), outcomes
        search = open_annoy(
            sorter.data / "indexes", index_name(1, load_spec(bundled_model_sidecar()).embedding_names[0])
        )
        assert search is not None and len(search.keys) == 6 + 4 * (round_ + 1)
        search.unload()
        names = sorted(p.name for p in (sorter.data / "indexes").iterdir())
        assert len([n for n in names if n.endswith(".ann")]) == 1 and not [
            n for n in names if n.endswith(".tmp")
        ]


def test_journal_and_undo_work_when_the_catalog_cannot_even_be_opened(
    sorter: Sorter, photos: Path, tmp_path: Path
) -> None:
    sorter("index", str(photos))
    plan_file = tmp_path / "plan.json"
    sorter("plan", str(photos), "--clusters", "all", "--to", str(tmp_path / "sorted"), "-o", str(plan_file))
    assert sorter("move", "--plan", str(plan_file))[0] == 0
    catalog = sorter.data / "catalog.sqlite"
    catalog.unlink()
    catalog.mkdir()  # not a file at all: SQLite cannot open it
    code, plans, err = sorter("journal")
    assert code == 0 and [p["state"] for p in plans] == ["applied"] and err == []
    code, undone, err = sorter("undo")
    assert code == 0 and undone["not_restored"] == []
    assert len(err) == 1 and "cannot open the catalog" in err[0] and "the next index catches up" in err[0]
    assert sorted(p.name for p in photos.iterdir()) == [f"img{i}.jpg" for i in range(6)]
    code, _, err = sorter("status", str(photos))
    assert code == 1 and len(err) == 1 and err[0].startswith("sorter: error: cannot open the catalog")


def test_label_sets_are_in_the_backup_too(tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        LabelStore(catalog).create("Trips", ["beach", "city"])
    backup = sqlite3.connect(tmp_path / "user-backup.sqlite")
    assert backup.execute("SELECT name FROM label_sets").fetchall() == [("Trips",)]
    backup.close()
