"""The catalog: one SQLite file that remembers every file, its content hash and its vectors.

Vectors are keyed by (content hash, embedding), not by path, so a renamed or moved file keeps its
vector and the same photo in two folders is embedded once; the `model_id` column of `vectors` names
the embedding (`vector_key`), so models that share an embedder share the vectors. Predictions are
keyed by the model that made them. A file row that still has the size and
mtime we recorded needs no work at all on the next run.

Everything in `catalog.sqlite` can be rebuilt from the folders by indexing them again. What cannot —
the user's own words: corrections, and the other choices in `user_store.py` — lives in a second
file, `user.sqlite`, attached to the same connection as the schema `user`, so that one damaged
file never takes the other with it. The user's words are keyed by content hash alone: a kitchen
stays a kitchen whatever model runs, and wherever the file moves.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .damage import backup_path, problem, restore_user_file, set_aside_catalog, take_backup
from .errors import SorterError
from .hashing import file_hash
from .scan import is_utf8, printable
from .user_store import USER_SCHEMA, NewerFileError, migrate_user_store

# The statements that take a catalog from each schema version to the next, in order: an old
# catalog runs only what came after its version. A shipped step never changes; a new table or
# column is a new step at the end.
_SCHEMA_STEPS: tuple[tuple[str, ...], ...] = (
    (  # 1: files, what their content is and what the model made of it
        """CREATE TABLE roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            model_id TEXT,
            indexed_at REAL
        )""",
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
            relpath TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_hash TEXT,
            error TEXT,
            UNIQUE (root_id, relpath)
        )""",
        "CREATE INDEX files_by_hash ON files (content_hash)",
        """CREATE TABLE images (
            content_hash TEXT PRIMARY KEY,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            format TEXT NOT NULL,
            frames INTEGER NOT NULL,
            layout BLOB NOT NULL
        )""",
        """CREATE TABLE vectors (
            content_hash TEXT NOT NULL,
            model_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (content_hash, model_id)
        )""",
        """CREATE TABLE predictions (
            content_hash TEXT NOT NULL,
            model_id TEXT NOT NULL,
            head TEXT NOT NULL,
            probabilities BLOB NOT NULL,
            PRIMARY KEY (content_hash, model_id, head)
        )""",
    ),
    (  # 2: what the user says an image shows, for any model
        """CREATE TABLE corrections (
            content_hash TEXT NOT NULL,
            head TEXT NOT NULL,
            label TEXT NOT NULL,
            corrected_at REAL NOT NULL,
            PRIMARY KEY (content_hash, head)
        )""",
    ),
    (  # 3: the user's words move to user.sqlite (user_store.py), out of the rebuildable cache
        f"INSERT OR IGNORE INTO {USER_SCHEMA}.corrections SELECT * FROM main.corrections",
        "DROP TABLE main.corrections",
    ),
    (  # 4: skipped files are no longer read again while unchanged (indexer.py); read each once
        # more, so that what this version decodes (new formats, fixed crashes) is not left skipped
        "UPDATE files SET mtime_ns = -1 WHERE error IS NOT NULL",
    ),
    (  # 5: vectors are looked up by embedding name (vector_key) on every open: an index, not a scan
        "CREATE INDEX IF NOT EXISTS vectors_by_model ON vectors (model_id)",
    ),
)
SCHEMA_VERSION = len(_SCHEMA_STEPS)


@dataclass(frozen=True, slots=True)
class FileRow:
    relpath: str
    size: int
    mtime_ns: int
    content_hash: str | None
    error: str | None


# A root's usable files (indexed, with a vector of the model), by relpath; parameters: model, root.
_USABLE = (
    "FROM files f JOIN vectors v ON v.content_hash = f.content_hash AND v.model_id = ? "
    "WHERE f.root_id = ? AND f.error IS NULL ORDER BY f.relpath"
)


@dataclass(frozen=True)
class FileFacts:
    """What deciding which copy to keep needs: resolution first, then file size, then age."""

    relpath: str
    size: int
    mtime_ns: int
    width: int
    height: int


@dataclass(frozen=True)
class ImageInfo:
    content_hash: str
    width: int
    height: int
    format: str
    frames: int
    layout: bytes  # see layout.py


def vector_to_blob(vector: NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _in_lists(hashes: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """`hashes` in chunks of 500 (well under SQLite's bound on parameters), each with its `?` marks."""
    for start in range(0, len(hashes), 500):
        chunk = list(hashes[start : start + 500])
        yield chunk, ",".join("?" * len(chunk))


class Catalog:
    """A connection to the catalog file; one per thread (SQLite connections are not shared)."""

    def __init__(self, path: Path, user_path: Path | None = None) -> None:
        """Open `path` and, attached as schema `user`, the user's file (default: `user.sqlite` beside it).

        A damaged catalog is moved aside and a fresh one started; a damaged user file is replaced by
        its backup (damage.py). What was done is in `notices`, one line each, for the user to read.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.user_path = user_path or path.with_name("user.sqlite")
        self.notices: list[str] = []
        self._db = sqlite3.connect(path, timeout=30.0)
        try:
            if (why := problem(self._db)) is not None:  # header and schema: cheap
                self._db.close()
                if note := set_aside_catalog(path, why, full=False):
                    self.notices.append(note)
                self._db = sqlite3.connect(path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._attach_user()
            migrate_user_store(self._db, self.user_path)  # first: catalog step 3 moves rows into it
            self._migrate()
            if not backup_path(self.user_path).exists():
                take_backup(self._db, USER_SCHEMA, backup_path(self.user_path))
        except BaseException:
            self._db.close()
            raise

    def _attach_user(self) -> None:
        """Attach the user's file, checked in full (it is small); a damaged one is restored first."""
        attach = f"ATTACH DATABASE ? AS {USER_SCHEMA}"
        self._db.execute(attach, (str(self.user_path),))
        if (why := problem(self._db, USER_SCHEMA, full=True)) is not None:
            self._db.execute(f"DETACH DATABASE {USER_SCHEMA}")
            if note := restore_user_file(self.user_path, why):
                self.notices.append(note)
            self._db.execute(attach, (str(self.user_path),))
        self._db.execute(f"PRAGMA {USER_SCHEMA}.journal_mode = WAL")
        self._db.execute(f"PRAGMA {USER_SCHEMA}.synchronous = NORMAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Bring an older (or new, empty) catalog up to SCHEMA_VERSION in place, all or nothing.

        The steps and the version number commit together in one transaction, taken with the
        write lock before the version is read: a window and a command opening the same old catalog
        at once upgrade it once.
        """
        if self._user_version() == SCHEMA_VERSION:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            version = self._user_version()
            if version > SCHEMA_VERSION:
                raise NewerFileError(
                    f"catalog {self.path} was written by a newer Image Sorter (schema {version}); "
                    "update the app or choose another data folder"
                )
            for step in _SCHEMA_STEPS[version:]:
                for statement in step:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _user_version(self) -> int:
        return int(self._db.execute("PRAGMA main.user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    @contextmanager
    def user_transaction(self) -> Iterator[sqlite3.Connection]:
        """A transaction that changes the user's words: committed, then copied to the verified
        backup that replaces `user.sqlite` if it is ever damaged. Every write to a `user.` table
        goes through this."""
        with self._db:
            yield self._db
        take_backup(self._db, USER_SCHEMA, backup_path(self.user_path))

    # roots ---------------------------------------------------------------------------------

    def root_id(self, root: Path, *, create: bool = True) -> int | None:
        if not is_utf8(root):
            raise SorterError(f"{printable(root)}: its path is not valid UTF-8; rename the folder to use it")
        key = str(root)
        row = self._db.execute("SELECT id FROM roots WHERE path = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        with self._db:  # another process may register the same folder between the two statements
            self._db.execute("INSERT OR IGNORE INTO roots (path) VALUES (?)", (key,))
            row = self._db.execute("SELECT id FROM roots WHERE path = ?", (key,)).fetchone()
        return int(row[0])

    def mark_indexed(self, root_id: int, model_id: str) -> None:
        with self._db:
            self._db.execute(
                "UPDATE roots SET model_id = ?, indexed_at = ? WHERE id = ?", (model_id, time.time(), root_id)
            )

    def root_info(self, root_id: int) -> tuple[str | None, float | None]:
        row = self._db.execute("SELECT model_id, indexed_at FROM roots WHERE id = ?", (root_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    # files ---------------------------------------------------------------------------------

    def file_rows(self, root_id: int) -> dict[str, FileRow]:
        rows = self._db.execute(
            "SELECT relpath, size, mtime_ns, content_hash, error FROM files WHERE root_id = ?", (root_id,)
        )
        return {r[0]: FileRow(*r) for r in rows}

    def upsert_files(self, root_id: int, rows: Iterable[FileRow]) -> None:
        """Callers wrap this in `transaction()` together with the vectors it refers to."""
        self._db.executemany(
            "INSERT INTO files (root_id, relpath, size, mtime_ns, content_hash, error) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (root_id, relpath) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "content_hash = excluded.content_hash, error = excluded.error",
            ((root_id, r.relpath, r.size, r.mtime_ns, r.content_hash, r.error) for r in rows),
        )

    def remove_files(self, root_id: int, relpaths: Iterable[str]) -> None:
        with self._db:
            self._db.executemany(
                "DELETE FROM files WHERE root_id = ? AND relpath = ?", ((root_id, p) for p in relpaths)
            )

    def locate(self, path: Path) -> tuple[int, str] | None:
        """(root id, '/'-separated path relative to it) of the deepest indexed root holding `path`."""
        return self._locate(path)

    def _locate(self, path: Path) -> tuple[int, str] | None:
        """(root id, relative path) of the deepest indexed root holding `path`, if any."""
        best: tuple[int, str] | None = None
        best_depth = -1
        for root_id, root in self._db.execute("SELECT id, path FROM roots"):
            try:
                relpath = path.relative_to(root).as_posix()
            except ValueError:
                continue
            depth = len(Path(root).parts)
            if depth > best_depth:
                best, best_depth = (int(root_id), relpath), depth
        return best

    def follow_file(self, src: Path, dst: Path, *, keep_source: bool = False) -> None:
        """Record that `src` now (also, if `keep_source`) lives at `dst`: its vector comes along.

        A file moved out of every indexed folder simply leaves the catalog. One arriving from
        outside (restored from the trash, say) is hashed and, if its content is known, gets its row
        back without being decoded or embedded again.
        """
        origin = self._locate(src)
        if origin is None:
            self._adopt(dst)
            return
        row = self._db.execute(
            "SELECT size, mtime_ns, content_hash, error FROM files WHERE root_id = ? AND relpath = ?", origin
        ).fetchone()
        if row is None:
            return
        with self._db:
            if not keep_source:
                self._db.execute("DELETE FROM files WHERE root_id = ? AND relpath = ?", origin)
            target = self._locate(dst)
            if target is not None:
                try:
                    st = dst.stat()
                    size, mtime_ns = st.st_size, st.st_mtime_ns
                except OSError:
                    size, mtime_ns = row[0], row[1]
                self.upsert_files(target[0], [FileRow(target[1], size, mtime_ns, row[2], row[3])])

    def _adopt(self, path: Path) -> None:
        target = self._locate(path)
        if target is None:
            return
        try:
            st = path.stat()
            digest = file_hash(path)
        except OSError:
            return  # the next index will see it and say why
        known = self._db.execute("SELECT 1 FROM images WHERE content_hash = ?", (digest,)).fetchone()
        if known is not None:
            with self._db:
                self.upsert_files(target[0], [FileRow(target[1], st.st_size, st.st_mtime_ns, digest, None)])

    def forget_file(self, path: Path) -> None:
        located = self._locate(path)
        if located is not None:
            with self._db:
                self._db.execute("DELETE FROM files WHERE root_id = ? AND relpath = ?", located)

    def file_row(self, root_id: int, relpath: str) -> FileRow | None:
        row = self._db.execute(
            "SELECT relpath, size, mtime_ns, content_hash, error FROM files "
            "WHERE root_id = ? AND relpath = ?",
            (root_id, relpath),
        ).fetchone()
        return FileRow(*row) if row else None

    def errors(self, root_id: int) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT relpath, error FROM files WHERE root_id = ? AND error IS NOT NULL ORDER BY relpath",
            (root_id,),
        )
        return [(r[0], r[1]) for r in rows]

    def paths_by_hash(self, root_id: int, model_id: str) -> dict[str, list[str]]:
        """Usable files of a root grouped by content; exact copies share one vector."""
        grouped: dict[str, list[str]] = {}
        for relpath, content_hash in self._db.execute(
            f"SELECT f.relpath, f.content_hash {_USABLE}", (model_id, root_id)
        ):
            grouped.setdefault(content_hash, []).append(relpath)
        return grouped

    def usable_files(self, root_id: int, model_id: str) -> list[tuple[str, int, int, str]]:
        """(relpath, size, mtime_ns, content_hash) of each usable file of a root (indexed, with a
        vector of `model_id`), by relpath: plain tuples, as a million-file folder's list is held."""
        query = f"SELECT f.relpath, f.size, f.mtime_ns, f.content_hash {_USABLE}"
        return self._db.execute(query, (model_id, root_id)).fetchall()

    def paths_of(self, root_id: int, hashes: Sequence[str]) -> dict[str, list[str]]:
        """The root's indexed files of a few contents (by the files_by_hash index): what a `similar`
        answer needs, without holding a million-entry dict.

        Unlike `paths_by_hash`, it does not check that each content has a vector of the model: its
        contents come from the folder's structure, built from contents that had one, and the
        catalog never deletes the vectors of the name it keeps them under (`vector_key`). That
        check was a third B-tree look-up per content, in the vectors' key, interleaved with 5 GB
        of vectors at a million images: with the page cache cold, p95 7.6 ms of a query.
        `+f.root_id` keeps SQLite off the (root_id, relpath) index, which it otherwise prefers
        (no statistics) and which walks every file of the root: 100 ms at 100,000 instead of 0.3 ms.
        """
        query = (
            "SELECT f.content_hash, f.relpath FROM files f "
            "WHERE +f.root_id = ? AND f.error IS NULL AND f.content_hash IN ({marks})"
        )
        grouped: dict[str, list[str]] = {}
        for content_hash, relpath in self._rows_by_hash(query, hashes, root_id):
            grouped.setdefault(content_hash, []).append(relpath)
        for paths in grouped.values():
            paths.sort()
        return grouped

    def usable_count(self, root_id: int, model_id: str) -> int:
        """How many files of a root have a vector of the model (copies counted each)."""
        row = self._db.execute(
            "SELECT count(*) FROM files f JOIN vectors v ON v.content_hash = f.content_hash "
            "AND v.model_id = ? WHERE f.root_id = ? AND f.error IS NULL",
            (model_id, root_id),
        ).fetchone()
        return int(row[0])

    def file_facts(self, root_id: int) -> dict[str, FileFacts]:
        rows = self._db.execute(
            "SELECT f.relpath, f.size, f.mtime_ns, i.width, i.height FROM files f "
            "JOIN images i ON i.content_hash = f.content_hash WHERE f.root_id = ? AND f.error IS NULL",
            (root_id,),
        )
        return {r[0]: FileFacts(*r) for r in rows}

    # images and vectors --------------------------------------------------------------------

    def upsert_images(self, infos: Iterable[ImageInfo]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO images (content_hash, width, height, format, frames, layout) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((i.content_hash, i.width, i.height, i.format, i.frames, i.layout) for i in infos),
        )

    def upsert_vectors(self, model_id: str, items: Iterable[tuple[str, NDArray[np.float32]]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors (content_hash, model_id, vector) VALUES (?, ?, ?)",
            ((h, model_id, vector_to_blob(v)) for h, v in items),
        )

    def upsert_predictions(
        self, model_id: str, items: Iterable[tuple[str, str, NDArray[np.float32]]]
    ) -> None:
        """(content hash, head, probabilities) rows, written in the indexing pass that made them."""
        self._db.executemany(
            "INSERT OR REPLACE INTO predictions (content_hash, model_id, head, probabilities) "
            "VALUES (?, ?, ?, ?)",
            ((h, model_id, head, vector_to_blob(p)) for h, head, p in items),
        )

    def copy_answers(
        self, model_id: str, answers_from: dict[str, tuple[str, int]], hashes: Sequence[str]
    ) -> int:
        """Store, as `model_id`'s, the answers another model holds for `hashes`, for each head that
        model shares node for node: `answers_from[head]` = (its model id, the head's label count;
        an answer of another width is not this head's and is not copied). Returns the rows added;
        content that model never answered is left lacking, to be decoded."""
        query = (
            "INSERT OR IGNORE INTO predictions (content_hash, model_id, head, probabilities) "
            "SELECT content_hash, ?, head, probabilities FROM predictions "
            "WHERE model_id = ? AND head = ? AND length(probabilities) = ? AND content_hash IN ({marks})"
        )
        return sum(
            self._db.execute(query.format(marks=marks), (model_id, source, head, 4 * labels, *chunk)).rowcount
            for head, (source, labels) in answers_from.items()
            for chunk, marks in _in_lists(hashes)
        )

    def prediction_matrix(
        self, model_id: str, head: str, hashes: Sequence[str]
    ) -> tuple[list[str], NDArray[np.float32]]:
        """Those of `hashes` with stored probabilities for `head`, and these as one (found, labels)
        matrix, made in one copy: a folder's answers are worked out a whole column at a time."""
        found: list[str] = []
        blobs: list[bytes] = []
        query = (
            "SELECT content_hash, probabilities FROM predictions "
            "WHERE model_id = ? AND head = ? AND content_hash IN ({marks})"
        )
        for content_hash, blob in self._rows_by_hash(query, hashes, model_id, head):
            found.append(content_hash)
            blobs.append(blob)
        if not found:  # (0, -1) is no shape numpy can give an empty buffer
            return found, np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32).reshape(len(found), -1)
        return found, matrix

    def vector_key(self, names: Sequence[str]) -> str:
        """The name this catalog keeps the vectors of one embedding under (`ModelSpec.embedding_names`).

        The first of `names` it already holds vectors under, so an upgraded model that shares the
        embedder finds every stored vector (and the index files named after them) without
        rewriting a row; `names[0]` in a catalog that holds none. Vectors stored under a later name
        too (a folder indexed by another model of the same embedder) are relabelled to the chosen
        one, once, keeping the row already there where both exist.
        """
        held = [name for name in names if self._has_vectors(name)]
        if not held:
            return names[0]
        key = held[0]
        if len(held) > 1:
            with self._db:
                for other in held[1:]:
                    self._db.execute(
                        "UPDATE OR IGNORE vectors SET model_id = ? WHERE model_id = ?", (key, other)
                    )
                    self._db.execute("DELETE FROM vectors WHERE model_id = ?", (other,))
        return key

    def _has_vectors(self, name: str) -> bool:
        row = self._db.execute("SELECT EXISTS (SELECT 1 FROM vectors WHERE model_id = ?)", (name,))
        return bool(row.fetchone()[0])

    def unpredicted(self, root_id: int, vector_key: str, model_id: str, heads: Sequence[str]) -> list[str]:
        """Usable content of a root that has a vector but lacks `model_id`'s prediction of a head:
        what a model sharing the embedder still has to predict (each looked up by primary key)."""
        lacking = " OR ".join(
            [
                "NOT EXISTS (SELECT 1 FROM predictions p WHERE p.content_hash = f.content_hash "
                "AND p.model_id = ? AND p.head = ?)"
            ]
            * len(heads)
        )
        if not lacking:
            return []
        rows = self._db.execute(
            "SELECT DISTINCT f.content_hash FROM files f JOIN vectors v "
            "ON v.content_hash = f.content_hash AND v.model_id = ? "
            f"WHERE f.root_id = ? AND f.error IS NULL AND ({lacking}) ORDER BY f.content_hash",
            (vector_key, root_id, *[value for head in heads for value in (model_id, head)]),
        )
        return [r[0] for r in rows]

    def vector_hashes(self, model_id: str) -> set[str]:
        rows = self._db.execute("SELECT content_hash FROM vectors WHERE model_id = ?", (model_id,))
        return {r[0] for r in rows}

    def _rows_by_hash(self, query: str, hashes: Sequence[str], *params: object) -> Iterator[tuple[Any, ...]]:
        """Run `query` (its `{marks}` is the IN list) over `hashes` in chunks SQLite accepts."""
        for chunk, marks in _in_lists(hashes):
            yield from self._db.execute(query.format(marks=marks), (*params, *chunk))

    def _by_hash(self, query: str, hashes: Sequence[str], *params: object) -> dict[str, bytes]:
        return dict(self._rows_by_hash(query, hashes, *params))

    def vectors(self, model_id: str, hashes: Sequence[str]) -> NDArray[np.float32]:
        """Vectors in the order of `hashes` (all must exist), as one (n, dim) matrix.

        Rows are copied straight from the cursor into the matrix: at 100,000 images, holding the
        blobs first would double the 512 MB this costs.
        """
        position = {h: i for i, h in enumerate(hashes)}
        out: NDArray[np.float32] | None = None
        filled = np.zeros(len(hashes), dtype=bool)
        query = "SELECT content_hash, vector FROM vectors WHERE model_id = ? AND content_hash IN ({marks})"
        for content_hash, blob in self._rows_by_hash(query, hashes, model_id):
            row = np.frombuffer(blob, dtype="<f4")
            if out is None:
                out = np.empty((len(hashes), len(row)), dtype=np.float32)
            i = position[content_hash]
            out[i] = row
            filled[i] = True
        if not filled.all():
            missing = hashes[int(np.flatnonzero(~filled)[0])]
            raise KeyError(
                f"no {model_id} vector for {int((~filled).sum())} content hash(es), e.g. {missing}"
            )
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def layouts(self, hashes: Sequence[str]) -> dict[str, bytes]:
        return self._by_hash(
            "SELECT content_hash, layout FROM images WHERE content_hash IN ({marks})", hashes
        )

    def image_info(self, content_hash: str) -> ImageInfo | None:
        row = self._db.execute(
            "SELECT content_hash, width, height, format, frames, layout FROM images WHERE content_hash = ?",
            (content_hash,),
        ).fetchone()
        return ImageInfo(*row) if row else None

    # corrections: what the user says an image shows (rules in corrections.py), in user.sqlite ---

    def set_correction(self, content_hash: str, head: str, label: str) -> None:
        with self.user_transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO {USER_SCHEMA}.corrections (content_hash, head, label, corrected_at) "
                "VALUES (?, ?, ?, ?)",
                (content_hash, head, label, time.time()),
            )

    def clear_corrections(self, content_hash: str, heads: Iterable[str] | None = None) -> None:
        """Forget the corrections of `heads` (all of them when None), so the model speaks again."""
        with self.user_transaction():
            if heads is None:
                self._db.execute(
                    f"DELETE FROM {USER_SCHEMA}.corrections WHERE content_hash = ?", (content_hash,)
                )
            else:
                self._db.executemany(
                    f"DELETE FROM {USER_SCHEMA}.corrections WHERE content_hash = ? AND head = ?",
                    ((content_hash, head) for head in heads),
                )

    def replace_corrections(self, states: Mapping[str, Mapping[str, str]]) -> None:
        """Each image's corrections become exactly `states[hash]` ({} : none), in one transaction:
        what Undo and Redo of a correction put back."""
        with self.user_transaction():
            self._db.executemany(
                f"DELETE FROM {USER_SCHEMA}.corrections WHERE content_hash = ?", ((h,) for h in states)
            )
            now = time.time()
            self._db.executemany(
                f"INSERT INTO {USER_SCHEMA}.corrections (content_hash, head, label, corrected_at) "
                "VALUES (?, ?, ?, ?)",
                ((h, head, label, now) for h, labels in states.items() for head, label in labels.items()),
            )

    def corrections(self, hashes: Sequence[str]) -> dict[str, dict[str, str]]:
        """{content hash: {head: label}} for those of `hashes` the user corrected."""
        found: dict[str, dict[str, str]] = {}
        query = (
            f"SELECT content_hash, head, label FROM {USER_SCHEMA}.corrections "
            "WHERE content_hash IN ({marks})"
        )
        for content_hash, head, label in self._rows_by_hash(query, hashes):
            found.setdefault(content_hash, {})[head] = label
        return found
