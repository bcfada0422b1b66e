"""Damaged, missing and racing Annoy files: never a segfault, always exact results, rebuilt by the next index.

Every search after damage runs in a child process: a segfault there is a failed assertion here,
not the end of the test run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sorter_app.core.catalog import Catalog, FileRow
from sorter_app.core.folder_index import FolderIndex, index_name, refresh_vector_index
from sorter_app.core.structure import structure_name
from sorter_app.core.vector_index import build_annoy, load_manifest, open_annoy

REPO = Path(__file__).resolve().parents[2]
N, DIM, MIN_ITEMS = 1500, 32, 1000


def _child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A catalog of N random unit vectors under one root, with its Annoy index built."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        root_id = catalog.root_id(tmp_path / "photos")
        assert root_id == 1
        with catalog.transaction():
            catalog.upsert_vectors("m", [(f"h{i}", v) for i, v in enumerate(vectors)])
            catalog.upsert_files(root_id, [FileRow(f"img{i:05d}.jpg", 1, 1, f"h{i}", None) for i in range(N)])
        assert refresh_vector_index(catalog, root_id, "m", tmp_path, min_items=MIN_ITEMS)
    return tmp_path, vectors


SEARCH = """
    import json, sys
    from pathlib import Path
    from sorter_app.core.catalog import Catalog
    from sorter_app.core.folder_index import FolderIndex
    folder = Path(sys.argv[1])
    with Catalog(folder / "catalog.sqlite") as catalog:
        index = FolderIndex.open(catalog, 1, "m", folder)
        found = [n.relpath for q in range(0, 1500, 150) for n in index.similar(f"img{q:05d}.jpg", 5)]
        print(json.dumps({"annoy": index.uses_annoy, "found": found}))
"""


def _search(folder: Path) -> dict[str, object]:
    done = _child(SEARCH, str(folder))
    assert done.returncode == 0, f"search died (rc {done.returncode}): {done.stderr[-2000:]}"
    assert done.stderr == ""
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _exact(vectors: np.ndarray) -> list[str]:
    return [f"img{i:05d}.jpg" for q in range(0, N, 150) for i in np.argsort(-(vectors @ vectors[q]))[1:6]]


def _ann(folder: Path) -> Path:
    manifest = load_manifest(folder, index_name(1, "m"))
    assert manifest is not None
    return folder / manifest.ann_file


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(path.stat().st_size))


def _random_other_size(path: Path) -> None:
    path.write_bytes(np.random.default_rng(2).bytes(path.stat().st_size // 3))


def _truncated(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def _zeroed(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def _bit_flips(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    for at in rng.integers(0, len(data), 64):
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _zeroed_keeping_times(path: Path) -> None:
    """Damage behind the stat identity's back as far as a program can: same size, same mtime."""
    st = path.stat()
    with path.open("r+b") as fh:
        fh.write(bytes(4096))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _missing(path: Path) -> None:
    path.unlink()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _manifest(change: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
    def damage(ann: Path) -> None:
        manifest = ann.parent / f"{index_name(1, 'm')}.json"
        data = json.loads(manifest.read_text())
        change(data)
        manifest.write_text(json.dumps(data))

    return damage


def _manifest_torn(ann: Path) -> None:
    manifest = ann.parent / f"{index_name(1, 'm')}.json"
    manifest.write_bytes(manifest.read_bytes()[:100])


def _manifest_random(ann: Path) -> None:
    (ann.parent / f"{index_name(1, 'm')}.json").write_bytes(np.random.default_rng(4).bytes(5000))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "random bytes": _random_bytes,
    "random bytes, other size": _random_other_size,
    "truncated": _truncated,
    "zeroed": _zeroed,
    "bit flips": _bit_flips,
    "zeroed, mtime restored": _zeroed_keeping_times,
    "missing": _missing,
    "empty": _empty,
    "manifest torn": _manifest_torn,
    "manifest random bytes": _manifest_random,
    "manifest: wrong dim": _manifest(lambda d: d.update(dim=8)),
    "manifest: wrong size": _manifest(lambda d: d.update(ann_size=int(d["ann_size"]) // 2)),  # type: ignore[call-overload]
    "manifest: file outside": _manifest(lambda d: d.update(ann_file="../../etc/passwd")),
    "manifest: keys not a list": _manifest(lambda d: d.update(keys=7)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_index_is_never_used_and_the_next_index_rebuilds_it(
    indexed: tuple[Path, np.ndarray], damage: str
) -> None:
    folder, vectors = indexed
    DAMAGE[damage](_ann(folder))
    after = _search(folder)
    assert after == {"annoy": False, "found": _exact(vectors)}  # exact search, whole answers
    assert open_annoy(folder, index_name(1, "m")) is None

    with Catalog(folder / "catalog.sqlite") as catalog:
        assert refresh_vector_index(catalog, 1, "m", folder, min_items=MIN_ITEMS)
        assert not refresh_vector_index(catalog, 1, "m", folder, min_items=MIN_ITEMS)
        index = FolderIndex.open(catalog, 1, "m", folder)
        assert index.uses_annoy and index.similar("img00000.jpg", 5)
        index.close()
    # The Annoy file, its stamp, manifest and lock, and nothing else of the Annoy index is left
    # (the folder's structure files — compact vectors, graph — are structure.py's, checked there).
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith(index_name(1, "m")))
    ann, name = _ann(folder).name, index_name(1, "m")
    structure = structure_name(name)
    assert [n for n in names if not n.startswith(structure)] == sorted(
        [ann, f"{ann}.verified", f"{name}.json", f"{name}.lock"]
    )


def test_a_verified_file_is_not_hashed_again_until_it_changes(indexed: tuple[Path, np.ndarray]) -> None:
    folder, _ = indexed
    ann = _ann(folder)
    stamp = ann.with_name(ann.name + ".verified")
    first = stamp.read_text()
    search = open_annoy(folder, index_name(1, "m"))
    assert search is not None
    search.unload()
    assert stamp.read_text() == first  # the cheap path: identity unchanged
    stamp.unlink()  # as after a restore from backup: verified once more, in full, and stamped again
    search = open_annoy(folder, index_name(1, "m"))
    assert search is not None
    search.unload()
    assert json.loads(stamp.read_text()) == json.loads(first)


WRITER = """
    import sys
    import numpy as np
    from pathlib import Path
    from sorter_app.core.vector_index import build_annoy
    folder, seed, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        n = int(rng.integers(200, 600))
        vectors = rng.normal(size=(n, 16)).astype(np.float32)
        build_annoy(folder, "race", [f"{seed}-{r}-{i}" for i in range(n)], vectors, n_trees=4)
"""

READER = """
    import sys, time
    import numpy as np
    from pathlib import Path
    from sorter_app.core.vector_index import open_annoy
    folder, seconds = Path(sys.argv[1]), float(sys.argv[2])
    misses = opened = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        search = open_annoy(folder, "race")
        if search is None:
            misses += 1
            continue
        opened += 1
        assert len(search.query(np.ones(16, dtype=np.float32), 5)) == 5
        search.unload()
    print(opened, misses)
"""


def test_concurrent_writers_never_leave_the_manifest_pointing_at_a_missing_file(tmp_path: Path) -> None:
    first = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    build_annoy(tmp_path, "race", [f"k{i}" for i in range(300)], first)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = textwrap.dedent(WRITER)
    writers = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), str(seed), "12"], env=env)
        for seed in (1, 2, 3)
    ]
    reader = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(READER), str(tmp_path), "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    assert reader.returncode == 0, reader.stderr
    opened, misses = map(int, reader.stdout.split())
    assert misses == 0 and opened > 0  # every open found a whole, verified index
    manifest = load_manifest(tmp_path, "race")
    assert manifest is not None and len(manifest.keys) >= 200
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted([manifest.ann_file, f"{manifest.ann_file}.verified", "race.json", "race.lock"])


KILLED_SAVE = """
    import os, signal, sys
    import numpy as np
    from pathlib import Path
    from annoy import AnnoyIndex
    from sorter_app.core import vector_index

    class KilledMidSave(AnnoyIndex):
        def save(self, fn, prefault=False):
            with open(fn, "wb") as fh:
                fh.write(b"half an index")
            os.kill(os.getpid(), signal.SIGKILL)

    vector_index.AnnoyIndex = KilledMidSave
    vectors = np.random.default_rng(0).normal(size=(100, 16)).astype(np.float32)
    vector_index.build_annoy(Path(sys.argv[1]), "t", [str(i) for i in range(100)], vectors)
"""


def test_temp_files_of_a_killed_save_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    killed = _child(KILLED_SAVE, str(tmp_path))
    assert killed.returncode == -signal.SIGKILL
    leftovers = list(tmp_path.glob(".t-*.ann.*.tmp"))
    assert len(leftovers) == 1
    assert open_annoy(tmp_path, "t") is None
    vectors = np.random.default_rng(1).normal(size=(50, 16)).astype(np.float32)
    manifest = build_annoy(tmp_path, "t", [str(i) for i in range(50)], vectors)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [manifest.ann_file, f"{manifest.ann_file}.verified", "t.json", "t.lock"]
    )


def test_refresh_cleans_leftovers_even_when_no_rebuild_is_needed(indexed: tuple[Path, np.ndarray]) -> None:
    folder, _ = indexed
    name = index_name(1, "m")
    orphan = folder / f"{name}-0123456789ab.ann"  # renamed in place, killed before the manifest
    orphan.write_bytes(b"x")
    temp = folder / f".{name}-abcdefabcdef.ann.k2j3h4.tmp"
    temp.write_bytes(b"x")
    with Catalog(folder / "catalog.sqlite") as catalog:
        assert not refresh_vector_index(catalog, 1, "m", folder, min_items=MIN_ITEMS)
    assert not orphan.exists() and not temp.exists()
    index = FolderIndex.open(Catalog(folder / "catalog.sqlite"), 1, "m", folder)
    assert index.uses_annoy
    index.close()
