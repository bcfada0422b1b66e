"""Index a folder: the one pass over each file's pixels, ever.

Work per file is decided by comparing the scan with the catalog: a file with the size and mtime we
recorded costs nothing; any other file is read once, hashed, and either matched to a stored vector
(renamed, moved, or copied content) or decoded and embedded. Decoding runs in a thread pool (Pillow
releases the GIL) while the model runs on batches; each batch is committed as it completes, so a
cancelled or crashed run keeps what it finished and the next run continues from there.

Vectors are stored under the embedding's name (`Catalog.vector_key`), so a new model that shares
the embedder embeds nothing again. A model whose heads read the embedding alone predicts from the
stored vectors, through its heads graph (heads_graph.py); one whose heads read more (a fine-tuned
tail, as the bundled model's scene and room heads do) decodes each file once more for its answers,
unless they are another model's heads node for node (`ModelSpec.answers_from`: a label-set model
keeps its base's), whose stored answers are copied.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .catalog import Catalog, FileRow, ImageInfo
from .decode_pool import DecodeError, DecodePool
from .embedder import Embedder
from .errors import ImageError, SorterError
from .folder_index import ANNOY_MIN_ITEMS, refresh_vector_index
from .formats import retry_rule
from .hashing import stream_hash
from .heads_graph import predict_stored
from .images import MAX_FILE_BYTES, check_file_size
from .model_input import prepare_model_input
from .model_spec import Preprocess
from .scan import Problem, ScannedFile, open_regular, scan_folder

COPY_CHUNK = 20_000  # contents whose copied answers are committed at once (cancel between)
ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]


@dataclass
class IndexReport:
    folder: str
    indexed: int = 0  # embedded by this run
    reused: int = 0  # usable images whose stored vector was kept: unchanged, renamed, moved
    predicted: int = 0  # distinct contents given this model's predictions from their stored vectors
    removed: int = 0  # catalog entries whose file is gone
    skipped: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False
    rebuilt_index: bool = False

    @property
    def images_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class _Prepared:
    """What a decode thread hands back for one file: a row, plus pixels if it needs embedding."""

    row: FileRow
    pixels: NDArray[np.uint8] | None = None
    info: ImageInfo | None = None


def _prepare(
    root: Path, file: ScannedFile, known: frozenset[str], pre: Preprocess, decoders: DecodePool
) -> _Prepared:
    """Hash and (if the content is new) decode one file. Runs in a decode thread.

    The file is streamed through the hash, never held whole; its pixels are decoded in a worker
    process (decode_pool.py), so that no file can crash, hang or exhaust the run.
    """
    if file.size == 0 or file.size > MAX_FILE_BYTES:  # known from the scan: not even opened
        try:
            check_file_size(file.size)
        except ImageError as exc:
            return _Prepared(FileRow(file.relpath, file.size, file.mtime_ns, None, str(exc)))
    path = root / file.relpath
    try:
        with open_regular(path, follow_links=False) as fh:  # not a pipe or a link swapped in since the scan
            st = os.fstat(fh.fileno())
            digest = stream_hash(fh) if 0 < st.st_size <= MAX_FILE_BYTES else None
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        return _Prepared(FileRow(file.relpath, file.size, file.mtime_ns, None, reason))
    if digest is None:  # it changed since the scan
        return _prepare(root, ScannedFile(file.relpath, st.st_size, st.st_mtime_ns), known, pre, decoders)
    if digest in known:
        return _Prepared(FileRow(file.relpath, st.st_size, st.st_mtime_ns, digest, None))
    try:
        prepared = decoders.call(prepare_model_input, os.fspath(path), pre)
    except DecodeError as exc:
        prepared = str(exc)
    if isinstance(prepared, str):
        return _Prepared(FileRow(file.relpath, st.st_size, st.st_mtime_ns, digest, prepared))
    info = ImageInfo(
        digest, prepared.width, prepared.height, prepared.format, prepared.frames, prepared.layout
    )
    return _Prepared(FileRow(file.relpath, st.st_size, st.st_mtime_ns, digest, None), prepared.pixels, info)


class _BatchWriter:
    """Collects prepared files and commits them, embedding the new ones, a batch at a time."""

    def __init__(
        self, catalog: Catalog, root_id: int, embedder: Embedder, vector_key: str, batch_size: int
    ) -> None:
        self._catalog = catalog
        self._vector_key = vector_key
        self._root_id = root_id
        self._embedder = embedder
        self._batch_size = batch_size
        self._rows: list[FileRow] = []
        self._to_embed: list[_Prepared] = []
        self._embedding: set[str] = set()  # content seen new in this run: copies are embedded once
        self.embedded = 0

    def add(self, prepared: _Prepared) -> bool:
        """Queue one file; True if its vector is reused (known content, or a copy met earlier)."""
        content = prepared.row.content_hash
        if prepared.pixels is None or content in self._embedding:
            self._rows.append(prepared.row)
            reused = prepared.row.error is None
        else:
            assert content is not None
            self._embedding.add(content)
            self._to_embed.append(prepared)
            reused = False
        if len(self._to_embed) >= self._batch_size or len(self._rows) >= 4 * self._batch_size:
            self.flush()
        return reused

    def flush(self) -> None:
        vectors: list[tuple[str, NDArray[np.float32]]] = []
        predictions: list[tuple[str, str, NDArray[np.float32]]] = []
        infos: list[ImageInfo] = []
        if self._to_embed:
            batch = np.stack([p.pixels for p in self._to_embed if p.pixels is not None])
            outputs = self._embedder.run(batch)  # embedding and predictions in the same pass
            spec = self._embedder.spec
            for i, prepared in enumerate(self._to_embed):
                content = prepared.row.content_hash
                assert prepared.info is not None and content is not None
                vectors.append((content, outputs[spec.embedding_output][i]))
                predictions += [(content, head, outputs[head][i]) for head in spec.probability_heads]
                infos.append(prepared.info)
                self._rows.append(prepared.row)
        # A head that is another model's node for node answers for that model too: stored under its
        # id as well, switching to that model (or to another built on it) decodes nothing again.
        borrowed: dict[str, list[tuple[str, str, NDArray[np.float32]]]] = {}
        for row in predictions:
            if source := self._embedder.spec.answers_from.get(row[1]):
                borrowed.setdefault(source, []).append(row)
        with self._catalog.transaction():
            self._catalog.upsert_images(infos)
            self._catalog.upsert_vectors(self._vector_key, vectors)
            self._catalog.upsert_predictions(self._embedder.model_id, predictions)
            for source, rows in borrowed.items():
                self._catalog.upsert_predictions(source, rows)
            self._catalog.upsert_files(self._root_id, self._rows)  # after their vectors: copies refer to them
        self.embedded += len(vectors)
        self._rows.clear()
        self._to_embed.clear()


def index_folder(
    root: Path,
    catalog: Catalog,
    embedder: Embedder,
    index_dir: Path,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    annoy_min_items: int = ANNOY_MIN_ITEMS,
    vector_key: str | None = None,
) -> IndexReport:
    """Bring the catalog and vector index of `root` up to date with the files on disk.

    `vector_key` is the name the catalog keeps this embedding's vectors under (default: what
    `Catalog.vector_key` chooses for the model)."""
    started = time.perf_counter()
    root = root.expanduser().resolve()
    if not root.is_dir():
        raise SorterError(f"not a folder: {root}")
    is_cancelled = cancelled or (lambda: False)
    report = IndexReport(folder=str(root))
    spec = embedder.spec
    key = vector_key or catalog.vector_key(spec.embedding_names)
    root_id = catalog.root_id(root)
    assert root_id is not None

    scan = scan_folder(root, exclude=[index_dir.parent], cancelled=is_cancelled)
    known_rows = catalog.file_rows(root_id)
    known_vectors = frozenset(catalog.vector_hashes(key))
    from_vectors = embedder.heads.heads if embedder.heads is not None else []
    decoded = [head for head in spec.probability_heads if head not in from_vectors]
    if decoded:
        # Heads not in a heads graph (fed by a fine-tuned tail, or an older sidecar): content this
        # model has no answers for is decoded and run through the full model once more, unless
        # they are another model's heads whose answers the catalog holds.
        lacking = catalog.unpredicted(root_id, key, spec.model_id, decoded)
        if lacking and spec.answers_from:
            copied = 0
            for start in range(0, len(lacking), COPY_CHUNK):
                if is_cancelled():
                    break
                with catalog.transaction():
                    chunk = lacking[start : start + COPY_CHUNK]
                    copied += catalog.copy_answers(spec.model_id, spec.copied_answers, chunk)
            if copied:
                lacking = catalog.unpredicted(root_id, key, spec.model_id, decoded)
        known_vectors = known_vectors.difference(lacking)
    if not is_cancelled():
        present = {f.relpath for f in scan.files}
        gone = [p for p in known_rows if p not in present]
        catalog.remove_files(root_id, gone)
        report.removed = len(gone)

    pending: list[ScannedFile] = []
    worth_retrying = retry_rule()
    for file in scan.files:
        row = known_rows.get(file.relpath)
        if row is None or row.size != file.size or row.mtime_ns != file.mtime_ns:
            pending.append(file)
        elif row.error is None:
            if row.content_hash in known_vectors:
                report.reused += 1
            else:
                pending.append(file)  # usable, but not yet embedded by this model
        elif worth_retrying(row.error):
            pending.append(file)
        # else: an unchanged file we could not use: its reason stands, it is not read again

    writer = _BatchWriter(catalog, root_id, embedder, key, batch_size)
    pre = embedder.spec.preprocess
    done = 0
    if progress:
        progress(0, len(pending))
    n_workers = workers or min(4, os.cpu_count() or 1)
    with (
        DecodePool(n_workers) as decoders,
        ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="decode") as pool,
    ):
        queue: deque[Future[_Prepared]] = deque()
        upcoming = iter(pending)
        max_in_flight = 2 * batch_size + n_workers
        while True:
            while len(queue) < max_in_flight and (next_file := next(upcoming, None)) is not None:
                queue.append(pool.submit(_prepare, root, next_file, known_vectors, pre, decoders))
            if not queue:
                break
            if is_cancelled():
                report.cancelled = True
                for future in queue:
                    future.cancel()
                # Files already decoded are kept: the next run need not repeat them. Files still
                # decoding are dropped, not waited for (their workers are stopped, after this).
                finished = [f.result() for f in queue if f.done() and not f.cancelled()]
                decoders.close()
                for prepared in finished:
                    if writer.add(prepared):
                        report.reused += 1
                break
            if writer.add(queue.popleft().result()):
                report.reused += 1
            done += 1
            if progress:
                progress(done, len(pending))
        writer.flush()
    report.indexed = writer.embedded
    if embedder.heads is not None and not report.cancelled:
        lacking = catalog.unpredicted(root_id, key, spec.model_id, embedder.heads.heads)
        report.predicted = predict_stored(catalog, embedder.heads, key, lacking, cancelled=is_cancelled)
        report.cancelled = report.predicted < len(lacking)

    catalog.mark_indexed(root_id, spec.model_id)
    if not report.cancelled:
        report.rebuilt_index = refresh_vector_index(
            catalog, root_id, key, index_dir, min_items=annoy_min_items
        )
    report.skipped = sorted(scan.problems + [Problem(p, reason) for p, reason in catalog.errors(root_id)])
    report.seconds = time.perf_counter() - started
    return report
