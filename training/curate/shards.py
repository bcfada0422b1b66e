"""`.npz` shards that are byte-for-byte reproducible and hold no pickled objects.

`numpy.savez` stamps every member with the current time, so two identical runs would produce
different files; here each array is written with `numpy.lib.format` into a zip member with a fixed
timestamp, in a fixed order, uncompressed (photos barely compress, and stored members load
fastest). The result is an ordinary `.npz`: `numpy.load(path)` reads it, `allow_pickle` left off.
Each shard is written atomically and its sha256 recorded.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_app.core.atomic import atomic_path
from sorter_app.core.hashing import file_sha256

SHARD_SIZE = 1000  # images per shard: ~150 MB, small enough to hold one in memory while writing
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# The arrays every shard holds, in the order they are written; dtypes are checked on write.
SHARD_ARRAYS: dict[str, str] = {
    "pixels": "uint8 [N, 224, 224, 3]: the model input before normalisation (RGB, HWC)",
    "embedding": "float32 [N, 1280]: the embedder's L2-normalised output for exactly these pixels",
    "scene": "int8 [N]: index into training.labels.SCENES, -1 unknown",
    "room": "int8 [N]: index into training.labels.ROOMS, -1 none or unknown",
    "source": "<U* [N]: the input source (dataset sub-folder or --folder name)",
    "content_hash": "<U32 [N]: BLAKE2b-128 of the file's bytes (sorter_app.core.hashing)",
    "path": "<U* [N]: relative to the input manifest's folder, or <folder name>/<relative path>",
    "label_sets": "int16 [N, S]: per label set of the manifest's label_sets, index into its labels, -1 none",
}
_KINDS = {
    "pixels": "u",
    "embedding": "f",
    "scene": "i",
    "room": "i",
    "source": "U",
    "content_hash": "U",
    "path": "U",
    "label_sets": "i",
}


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.npz"


def write_shard(target: Path, arrays: Mapping[str, NDArray[Any]]) -> str:
    """Write the arrays of SHARD_ARRAYS to `target` atomically; returns the file's sha256."""
    if list(arrays) != list(SHARD_ARRAYS):
        raise ValueError(f"shard arrays must be exactly {list(SHARD_ARRAYS)}, in order")
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"shard arrays differ in length: {sorted(lengths)}")
    for name, array in arrays.items():
        if array.dtype.kind != _KINDS[name] or array.dtype.hasobject:
            raise ValueError(f"shard array {name} has dtype {array.dtype}")
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
        digest = file_sha256(tmp)
    return digest


def fixed_width(values: list[str], width: int) -> NDArray[np.str_]:
    """A '<U{width}' array (no object arrays in a shard); the same width in every shard of a run."""
    if any(len(v) > width for v in values):
        raise ValueError(f"a value is longer than the fixed width {width}")
    return np.array(values, dtype=f"<U{max(width, 1)}")
