"""Approximate nearest neighbours with Annoy, persisted so that opening a folder is instant.

An index is `<name>-<build>.ann` (Annoy's mmap-able trees), `<name>.json`, the manifest naming that
.ann file with its size, CRC-32 and the content hash of each item, and `<name>-<build>.ann.verified`,
the stat identity of the .ann file when its CRC was last found right.

Annoy trusts its file completely: random bytes or a truncated file make it read outside its map
and the process dies of a segfault. So no .ann file reaches Annoy unverified. Hashing the whole file
costs about a second per gigabyte here (benchmarks/bench_integrity.py), too slow for every open of a
large folder, so it is verified in full once per stat identity (device, inode, size, mtime, ctime):
by the writer right after it is written, and by any reader that finds the identity changed. Any
write to the file — by a program, a copy, a restore from backup — changes the identity (ctime
cannot be set by a program), so every open costs a stat and a small read, and a damaged file is
never used: search falls back to exact and the next index rebuilds it.

Writers (the window and `sorter index` may index one data folder at once) take the index's lock
(locks.py) for the whole build-and-swap, so each sees the other's result; temp files and .ann files
no manifest names are the leftovers of a writer that was killed, removed under the lock. A new .ann
file is renamed into place before the manifest names it and old ones go only after, so a reader
holding the manifest of a moment ago finds its file or retries with the new manifest.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from annoy import AnnoyIndex
from numpy.typing import NDArray

from .atomic import atomic_path, atomic_write_text
from .errors import SorterError
from .locks import exclusive_lock

METRIC: Literal["angular"] = "angular"
DEFAULT_TREES = 16
VERIFIED_SUFFIX = ".verified"
_CRC_CHUNK = 8 << 20


class IndexWriteError(SorterError):
    """The index file could not be written (disk full, permissions); the previous index stays."""

    @classmethod
    def of(cls, directory: Path, exc: OSError) -> IndexWriteError:
        return cls(f"cannot write the search index in {directory}: {_reason(exc)}")


@dataclass(frozen=True)
class Manifest:
    ann_file: str
    dim: int
    n_trees: int
    keys: list[str]
    built_at: float
    ann_size: int  # bytes
    ann_crc32: str  # 8 hex digits over the whole .ann file


def cosine_from_angular(distance: float) -> float:
    """Annoy's angular distance is sqrt(2 - 2·cos) for any vectors; undo it."""
    return 1.0 - (distance * distance) / 2.0


def node_bytes(dim: int) -> int:
    """Size of one node of an angular Annoy file: n_descendants and two children (int32), dim floats."""
    return 12 + 4 * dim


class AnnoySearch:
    """A loaded, memory-mapped Annoy index and the content hash of each item."""

    def __init__(self, manifest: Manifest, index: AnnoyIndex) -> None:
        self.manifest = manifest
        self._index = index

    @property
    def keys(self) -> list[str]:
        return self.manifest.keys

    def query(self, vector: NDArray[np.float32], n: int, search_k: int = -1) -> list[tuple[str, float]]:
        ids, distances = self._index.get_nns_by_vector(
            vector.tolist(), n, search_k=search_k, include_distances=True
        )
        return [(self.manifest.keys[i], cosine_from_angular(d)) for i, d in zip(ids, distances, strict=True)]

    def items_near(self, vector: NDArray[np.floating], n: int, search_k: int = -1) -> list[int]:
        """Item numbers (rows of `keys`) of the n nearest items: for bulk callers that map them."""
        items: list[int] = self._index.get_nns_by_vector(vector.tolist(), n, search_k=search_k)
        return items

    def unload(self) -> None:
        self._index.unload()

    def without_keys(self) -> AnnoySearch:
        """The same index, its manifest's list of keys dropped: for a caller that maps items to rows
        by other means and keeps the index open (a million keys are ~90 MB of strings)."""
        return AnnoySearch(replace(self.manifest, keys=[]), self._index)


@contextlib.contextmanager
def index_lock(directory: Path, name: str) -> Iterator[None]:
    """Held by whoever writes index `name`: deciding to rebuild, building, swapping, cleaning up."""
    with exclusive_lock(directory / f"{name}.lock"):
        yield


def build_annoy(
    directory: Path, name: str, keys: list[str], vectors: NDArray[np.floating], n_trees: int = DEFAULT_TREES
) -> Manifest:
    """Build and persist an index over `vectors` (row i belongs to `keys[i]`, any dimension),
    replacing any old one; takes the index's lock."""
    with index_lock(directory, name):
        return write_index(directory, name, keys, vectors, n_trees)


def write_index(
    directory: Path, name: str, keys: list[str], vectors: NDArray[np.floating], n_trees: int = DEFAULT_TREES
) -> Manifest:
    """`build_annoy` for a caller that already holds `index_lock(directory, name)`."""
    if len(keys) != len(vectors):
        raise ValueError("one key per vector")
    dim = int(vectors.shape[1])
    index = AnnoyIndex(dim, METRIC)
    for i, row in enumerate(vectors):
        index.add_item(i, row.tolist())
    index.build(n_trees, n_jobs=-1)
    ann_file = f"{name}-{uuid.uuid4().hex[:12]}.ann"
    target = directory / ann_file
    try:
        with atomic_path(target) as tmp:
            with _annoy_stderr_captured():
                index.save(str(tmp))
            index.unload()
            size, crc = tmp.stat().st_size, file_crc32(tmp)
        manifest = Manifest(ann_file, dim, n_trees, list(keys), time.time(), size, crc)
        _write_stamp(target)  # before the manifest names the file: no reader has to hash it again
        atomic_write_text(directory / f"{name}.json", json.dumps(asdict(manifest)))
    except OSError as exc:
        target.unlink(missing_ok=True)
        _stamp_path(target).unlink(missing_ok=True)
        raise IndexWriteError.of(directory, exc) from None
    remove_leftovers(directory, name, current=ann_file)
    return manifest


def _reason(exc: OSError) -> str:
    """Annoy reports a failed save as an OSError whose text, not errno, names the cause."""
    text = exc.strerror if exc.errno is not None and exc.strerror else str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC or os.strerror(errno.ENOSPC) in text:
        return f"disk full ({text})"
    return text


@contextlib.contextmanager
def _annoy_stderr_captured() -> Iterator[None]:
    """Annoy prints its errors on the C-level stderr as well as raising them, and `sorter` promises
    one line per error: what is printed meanwhile is dropped if Annoy failed, else passed on."""
    try:
        sink = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the `with sink` below
    except OSError:
        yield
        return
    failed = False
    with sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            printed = sink.read()
            if printed and not failed:
                with contextlib.suppress(OSError):
                    os.write(2, printed)


_ANN_FILE = re.compile(r"^[\w.-]+-[0-9a-f]{12}\.ann$")


def load_manifest(directory: Path, name: str) -> Manifest | None:
    """The manifest if it is whole and well-formed, else None (the index is then rebuilt)."""
    try:
        data = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None
    well_formed = (
        isinstance(manifest.ann_file, str)
        and _ANN_FILE.match(manifest.ann_file) is not None
        and manifest.ann_file.startswith(f"{name}-")
        and all(isinstance(v, int) and not isinstance(v, bool) for v in (manifest.dim, manifest.ann_size))
        and manifest.dim > 0
        and isinstance(manifest.ann_crc32, str)
        and isinstance(manifest.keys, list)
        and all(isinstance(k, str) for k in manifest.keys)
    )
    return manifest if well_formed else None


def file_crc32(path: Path) -> str:
    """CRC-32 of a file: catches damage (not tampering) at about 1 GB/s, 5× faster than BLAKE2b here."""
    crc = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _stamp_path(ann: Path) -> Path:
    return ann.with_name(ann.name + VERIFIED_SUFFIX)


def _write_stamp(ann: Path) -> None:
    """Record that `ann`, as it is now, was checked; losing the record only costs a re-check."""
    with contextlib.suppress(OSError):
        atomic_write_text(_stamp_path(ann), json.dumps(_identity(ann.stat())))


def verify_index_file(directory: Path, manifest: Manifest) -> bool:
    """Whether the manifest's .ann file is the one that was written: size, shape, and CRC-32 (the
    CRC only when the file's stat identity differs from the one last verified)."""
    ann = directory / manifest.ann_file
    try:
        st = ann.stat()
    except OSError:
        return False
    if st.st_size != manifest.ann_size or st.st_size == 0 or st.st_size % node_bytes(manifest.dim):
        return False
    try:
        if json.loads(_stamp_path(ann).read_text(encoding="utf-8")) == _identity(st):
            return True
    except (OSError, ValueError):
        pass
    try:
        if file_crc32(ann) != manifest.ann_crc32:
            return False
    except OSError:
        return False
    _write_stamp(ann)
    return True


def open_annoy(directory: Path, name: str) -> AnnoySearch | None:
    """The persisted index if it is there and verified, else None: callers fall back to exact search.

    A writer may swap in a new index between reading the manifest and opening its file; then the
    manifest is read again (a few times at most).
    """
    previous: str | None = None
    for _ in range(3):
        manifest = load_manifest(directory, name)
        if manifest is None or manifest.ann_file == previous:
            return None
        previous = manifest.ann_file
        if not verify_index_file(directory, manifest):
            continue
        index = AnnoyIndex(manifest.dim, METRIC)
        try:
            with _annoy_stderr_captured():
                index.load(str(directory / manifest.ann_file))
        except OSError:
            continue
        if index.get_n_items() != len(manifest.keys):
            index.unload()
            return None
        return AnnoySearch(manifest, index)
    return None


def remove_index(directory: Path, name: str) -> None:
    """Forget index `name` entirely; the caller holds its lock."""
    (directory / f"{name}.json").unlink(missing_ok=True)
    remove_leftovers(directory, name, current=None)


def remove_leftovers(directory: Path, name: str, current: str | None) -> None:
    """Every file of index `name` but the .ann file `current` and its stamp: temp files of a writer
    killed mid-save, and .ann files no manifest names. Only safe under the index's lock."""
    keep = {current, f"{current}{VERIFIED_SUFFIX}"} if current else set()
    patterns = (
        f"{name}-*.ann",
        f"{name}-*.ann{VERIFIED_SUFFIX}",
        f".{name}-*.ann.*.tmp",
        f".{name}.json.*.tmp",
        f".{name}-*.ann{VERIFIED_SUFFIX}.*.tmp",
    )
    for pattern in patterns:
        for path in directory.glob(pattern):
            if path.name not in keep:
                with contextlib.suppress(OSError):  # Windows: a reader may still map an old file
                    path.unlink()
