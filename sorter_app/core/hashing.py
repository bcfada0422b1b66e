"""The content hash: how the catalog recognises a file whatever its name or folder.

128-bit BLAKE2b is fast on multi-megabyte photos, and collisions are not a practical concern.
The indexer, the mover's verified copies and the catalog must all agree on it: it lives here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1 << 20


def new_digest() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16)


def content_hash(data: bytes) -> str:
    digest = new_digest()
    digest.update(data)
    return digest.hexdigest()


def file_hash(path: Path) -> str:
    """The same digest as `content_hash`, read in chunks."""
    with path.open("rb") as fh:
        return stream_hash(fh)


def stream_hash(fh: BinaryIO) -> str:
    """The same digest as `content_hash`, of what is left in an open file, a chunk at a time."""
    digest = new_digest()
    while chunk := fh.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file: how sidecars, manifests and shards name exact bytes (model files, data)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
