"""WebDataset-style `.tar` shards as curate input: what img2dataset and the WIT extraction write.

Members that share a key (the member name up to the first dot of its base name) are one sample:
one image (any extension the app decodes; the first by name if there are several) and, optionally,

- `key.json`: an object whose `scene`, `room`, `kind` and `source` are read when present (the
  manifest's vocabulary), and `teacher` as `{head: {label: p}}`; anything else in it (url,
  caption, status, …) is ignored;
- `key.cls`: text, one label name as a folder would give it (`indoor`, `kitchen`, `non_photo`).

The source is the json's `source`, else the name of the folder holding the tars. Paths are recorded
as `<that folder's name>/<tar path below it>/<member>`. A tar is read start to end by one worker, so
each tar is one unit of work whatever `--shard-size` says.
"""

from __future__ import annotations

import json
import tarfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from sorter_app.core.images import IMAGE_EXTENSIONS

from ..errors import TrainingError
from .inputs import HEADS, Item, apply_label_name, validate


def list_tars(path: Path) -> tuple[Path, list[Path]]:
    """(the folder that names the source, the .tar files): a single .tar, or every .tar under a folder."""
    if path.is_file() and path.suffix == ".tar":
        return path.parent, [path]
    if path.is_dir():
        tars = sorted(p for p in path.rglob("*.tar") if p.is_file())
        if not tars:
            raise TrainingError(f"no .tar files under {path}")
        return path, tars
    raise TrainingError(f"not a .tar file or a folder of them: {path}")


def read_tar(tar: Path, root: Path) -> list[Item]:
    """One `Item` per sample of `tar` that has an image, in member order."""
    prefix = f"{root.resolve().name}/{tar.relative_to(root).as_posix()}"
    samples: dict[str, dict[str, tarfile.TarInfo]] = {}
    try:
        with tarfile.open(tar, "r:") as archive:
            for info in archive:
                if not info.isfile():
                    continue
                name = PurePosixPath(info.name)
                stem, _, ext = name.name.partition(".")
                samples.setdefault(str(name.parent / stem), {})[ext.lower()] = info
            items = []
            for parts in samples.values():
                images = sorted(
                    (
                        info.name
                        for ext, info in parts.items()
                        if f".{ext.rsplit('.', 1)[-1]}" in IMAGE_EXTENSIONS
                    )
                )
                if not images:
                    continue
                item = Item(
                    path=f"{prefix}/{images[0]}", file=tar, source=root.resolve().name, member=images[0]
                )
                try:
                    if "cls" in parts:
                        label = _read(archive, parts["cls"]).decode("utf-8")
                        if not apply_label_name(item, label):
                            raise ValueError(f"unknown label {label.strip()!r} in .cls")
                    if "json" in parts:
                        _apply_json(item, json.loads(_read(archive, parts["json"])))
                    validate(item)
                except (ValueError, UnicodeDecodeError, TrainingError) as exc:
                    raise TrainingError(f"{tar}, sample {images[0]}: {exc}") from exc
                items.append(item)
    except (OSError, tarfile.TarError) as exc:
        raise TrainingError(f"cannot read {tar}: {exc}") from exc
    return items


def _read(archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(info)
    if handle is None:
        raise ValueError(f"cannot read member {info.name}")
    return handle.read()


def _apply_json(item: Item, data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError("the .json member is not an object")
    for key in ("scene", "room", "kind", "source"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            setattr(item, key, value.strip())
    teacher = data.get("teacher")
    if isinstance(teacher, dict):
        for head, probs in teacher.items():
            if head not in HEADS or not isinstance(probs, dict):
                raise ValueError(f"teacher head {head!r} is not one of {sorted(HEADS)}")
            item.teacher[head] = {str(k): float(v) for k, v in probs.items() if str(k) in HEADS[head]}


class TarReader:
    """Reads members of tars, keeping each tar open once (thread-safe: decoding threads share it)."""

    def __init__(self) -> None:
        self._open: dict[Path, tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]] = {}
        self._lock = threading.Lock()

    def read(self, tar: Path, member: str) -> bytes:
        with self._lock:
            if tar not in self._open:
                archive = tarfile.open(tar, "r:")  # noqa: SIM115 (kept open for the shard; closed in close())
                self._open[tar] = (archive, {m.name: m for m in archive.getmembers()})
            archive, members = self._open[tar]
            if member not in members:
                raise OSError(f"no member {member} in {tar.name}")
            return _read(archive, members[member])

    def close(self) -> None:
        with self._lock:
            for archive, _ in self._open.values():
                archive.close()
            self._open.clear()
