"""A move plan: every source and its destination, decided in full before any file is touched.

The plan is the dry run the user reviews, and the only input the mover acts on. Collisions are
resolved here for the whole batch, against what is on disk and what other moves in the plan already
claim, so the outcome does not depend on the order files are moved in. Names are compared the way a
case-insensitive file system would (NFC + casefold): the destination may be a USB stick or a Mac.
Each source's size and mtime are recorded so the mover can refuse to act on a file that changed since.
A plan names the folder it was made for and its destination root (or trash): a source whose real
path is outside that folder — reached through a directory link inside it — is left out here, and a
plan file is checked against both again before it is applied (plan_check.py).
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import stat
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from .atomic import atomic_write_text
from .errors import SorterError
from .scan import is_image_name, is_utf8, printable
from .trash import INFO_SUFFIX, default_trash_root

Mode = Literal["move", "copy", "trash"]
MODES: tuple[Mode, ...] = ("move", "copy", "trash")

MAX_FOLDER_CHARS = 100
_MAX_FOLDER_BYTES = 200  # leaves room for a " (n)" suffix under the common 255-byte name limit
_MAX_NAME_BYTES = 255
_PLAN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
_FORBIDDEN = set('<>:"/\\|?*')  # Windows' list; "/" and "\\" are separators everywhere that matters
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
_RESERVED |= {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}


class PlanError(SorterError):
    """The groups cannot be planned, or a saved plan file is malformed."""


@dataclass(frozen=True)
class Move:
    src: Path
    dst: Path
    size: int  # at planning time; the mover skips the file if it differs when its turn comes
    mtime_ns: int


@dataclass(frozen=True)
class Rename:
    """A file that gets a " (n)" suffix because its own name was taken."""

    src: Path
    planned: Path  # where it would have gone
    dst: Path  # where it goes


@dataclass(frozen=True)
class Unplanned:
    """A source the plan leaves alone, with the reason: every input source is in moves or here."""

    src: Path
    reason: str


@dataclass(frozen=True)
class MovePlan:
    id: str
    mode: Mode
    created_at: str  # ISO 8601, UTC
    moves: tuple[Move, ...]
    renamed: tuple[Rename, ...] = ()
    skipped: tuple[Unplanned, ...] = ()
    folder: Path | None = None  # the folder the plan was made for: every source is inside it
    destination: Path | None = None  # the destination root (the trash, in "trash" mode)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode,
            "created_at": self.created_at,
            "folder": str(self.folder) if self.folder else None,
            "destination": str(self.destination) if self.destination else None,
            "moves": [
                {"src": str(m.src), "dst": str(m.dst), "size": m.size, "mtime_ns": m.mtime_ns}
                for m in self.moves
            ],
            "renamed": [
                {"src": str(r.src), "dst": str(r.dst), "planned": str(r.planned)} for r in self.renamed
            ],
            "skipped": [{"src": str(s.src), "reason": s.reason} for s in self.skipped],
        }

    @classmethod
    def from_json(cls, data: object) -> MovePlan:
        """Validate as well as parse: a plan file may have been edited or truncated by hand."""
        return _parse_plan(data)


def is_inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it (both absolute and normalised). Plain string tests:
    pathlib's would cost more than the move itself over 100,000 files."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def name_key(name: str) -> str:
    """How a case-insensitive, normalising file system (NTFS, APFS, exFAT) tells names apart."""
    return unicodedata.normalize("NFC", name).casefold()


def sanitize_folder_name(name: str) -> str:
    """A folder name that is valid, visible and unsurprising on Linux, macOS and Windows.

    Separators, Windows' forbidden characters and control characters become "_"; leading dots
    (hidden folders, which the scanner skips, and "..") and trailing dots and spaces (which Windows
    drops) are removed; reserved device names get a "_"; the result is cut to 100 characters.
    """
    text = unicodedata.normalize("NFC", name)
    chars = ["_" if c in _FORBIDDEN or unicodedata.category(c) in ("Cc", "Cs") else c for c in text]
    cleaned = " ".join("".join(chars).split())  # tabs/newlines already "_"; collapse runs of spaces
    cleaned = cleaned[:MAX_FOLDER_CHARS]
    while len(cleaned.encode("utf-8")) > _MAX_FOLDER_BYTES:
        cleaned = cleaned[:-1]
    cleaned = cleaned.lstrip(". ").rstrip(". ")
    base, dot, rest = cleaned.partition(".")
    if base.rstrip(" ").upper() in _RESERVED:  # "CON.txt" is the console too: mark the base
        cleaned = base + "_" + dot + rest
    return cleaned or "Unnamed"


def with_suffix_number(name: str, n: int) -> str:
    """ "beach.jpg" → "beach (n).jpg"; the stem is shortened if the name would get too long."""
    stem, ext = os.path.splitext(name)
    tail = f" ({n}){ext}"
    while stem and len((stem + tail).encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + tail


def new_plan_id(now: float | None = None) -> str:
    """Sorts by creation time (UTC); the random tail keeps two plans made in one second apart."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(3)


class _Claims:
    """Names taken in each destination folder: on disk at planning time, or by this plan."""

    def __init__(self) -> None:
        self._taken: dict[Path, set[str]] = {}

    def taken(self, folder: Path, also: Path | None = None) -> set[str]:
        names = self._taken.get(folder)
        if names is None:
            names = {name_key(n) for n in _list(folder)}
            if also is not None:  # the trash: a name is taken if files/ or info/ has it
                names |= {name_key(n[: -len(INFO_SUFFIX)]) for n in _list(also) if n.endswith(INFO_SUFFIX)}
            self._taken[folder] = names
        return names

    def claim(self, folder: Path, name: str, also: Path | None = None) -> str:
        names = self.taken(folder, also)
        chosen, n = name, 0
        while name_key(chosen) in names:
            n += 1
            chosen = with_suffix_number(name, n)
        names.add(name_key(chosen))
        return chosen


def _list(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise PlanError(f"cannot read destination folder {folder}: {exc.strerror or exc}") from None


class _GroupFolders:
    """Maps group names to folders under the destination root, reusing an existing folder whose
    name differs only in case, and stepping around a file that has the folder's name."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._existing: dict[str, tuple[str, bool]] | None = None
        self._chosen: dict[str, Path] = {}

    def folder(self, group_name: str) -> Path:
        name = sanitize_folder_name(group_name)
        key = name_key(name)
        if key in self._chosen:
            return self._chosen[key]
        if self._existing is None:
            self._existing = {}
            for entry in _list(self._root):
                is_dir = os.path.isdir(self._root / entry)
                self._existing.setdefault(name_key(entry), (entry, is_dir))
        chosen, n = name, 0
        while (hit := self._existing.get(name_key(chosen))) is not None and not hit[1]:
            n += 1
            chosen = f"{name} ({n})"
        if hit is not None:
            chosen = hit[0]  # an existing folder: use its spelling
        self._existing.setdefault(name_key(chosen), (chosen, True))
        self._chosen[key] = self._root / chosen
        return self._chosen[key]


def _absolute(path: Path | str, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute():
        raise PlanError(f"{what} must be an absolute path: {path}")
    if not is_utf8(p):
        raise PlanError(f"{what} {printable(p)}: its path is not valid UTF-8; choose or rename another")
    return Path(os.path.normpath(p))


def make_plan(
    groups: Iterable[tuple[str, Iterable[Path | str]]],
    dest_root: Path | None,
    mode: Mode = "move",
    *,
    trash_root: Path | None = None,
    folder: Path | None = None,
    now: float | None = None,
) -> MovePlan:
    """Plan `groups` of absolute source paths into folders named after the groups, under `dest_root`.

    In "trash" mode the group names and `dest_root` are ignored: every file goes to the trash
    (`trash_root`, by default the freedesktop.org trash; see trash.py). `folder` is the folder the
    plan is made for (default: the sources' deepest common folder); a source whose real path is
    outside it is left out with the reason. Nothing is written to disk.
    """
    if mode not in MODES:
        raise PlanError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    now = time.time() if now is None else now
    claims = _Claims()
    if mode == "trash":
        trash = _absolute(trash_root if trash_root is not None else default_trash_root(), "trash folder")
        destination, folders = trash, None
    else:
        if dest_root is None:
            raise PlanError(f"a destination folder is needed to {mode} files")
        destination = _absolute(dest_root, "destination folder")
        folders = _GroupFolders(destination)
    moves: list[Move] = []
    renamed: list[Rename] = []
    skipped: list[Unplanned] = []
    seen: set[Path] = set()
    listed = [(name, [_absolute(raw, "source") for raw in sources]) for name, sources in groups]
    if folder is None:
        parents = [os.fspath(src.parent) for _, sources in listed for src in sources]
        plan_folder = Path(os.path.commonpath(parents)) if parents else None
    else:
        plan_folder = _absolute(folder, "folder")
    real_folder = os.path.realpath(plan_folder) if plan_folder else None
    realpath = functools.cache(os.path.realpath)  # many sources share a few folders
    for group_name, sources in listed:
        for src in sources:
            if src in seen:
                raise PlanError(f"source listed twice: {src}")
            seen.add(src)
            try:
                st = os.lstat(src)
            except OSError as exc:
                reason = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
                skipped.append(Unplanned(src, reason))
                continue
            if stat.S_ISLNK(st.st_mode):  # moving the link would leave its target; copying it, duplicate it
                skipped.append(Unplanned(src, "a symbolic link: move its target instead"))
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.append(Unplanned(src, "not a regular file"))
                continue
            if not is_image_name(src.name):
                skipped.append(Unplanned(src, "not an image file"))
                continue
            real = os.path.join(realpath(src.parent), src.name)
            if real_folder is None or not is_inside(real, real_folder):
                reason = f"outside {plan_folder}: it is reached through a symbolic link"
                skipped.append(Unplanned(src, reason))
                continue
            if folders is None:
                folder, also = trash / "files", trash / "info"
            else:
                folder, also = folders.folder(group_name), None
            if src.parent == folder:
                skipped.append(Unplanned(src, "already in place"))
                continue
            name = claims.claim(folder, src.name, also)
            moves.append(Move(src, folder / name, st.st_size, st.st_mtime_ns))
            if name != src.name:
                renamed.append(Rename(src, folder / src.name, folder / name))
    created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    plan_id = new_plan_id(now)
    return MovePlan(
        plan_id, mode, created_at, tuple(moves), tuple(renamed), tuple(skipped), plan_folder, destination
    )


def save_plan(plan: MovePlan, path: Path) -> None:
    atomic_write_text(path, json.dumps(plan.to_json(), indent=1, ensure_ascii=False) + "\n")


def load_plan(path: Path) -> MovePlan:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read plan file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # also a 5,000-digit number, or nesting 100,000 deep
        raise PlanError(f"malformed plan file {path}: not JSON ({exc})") from None
    try:
        return _parse_plan(data)
    except PlanError as exc:
        raise PlanError(f"malformed plan file {path}: {exc}") from None


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise PlanError(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PlanError(f"{where}.{key} must be {'an integer' if kind is int else f'a {kind.__name__}'}")
    return value


def _path(obj: dict[str, Any], key: str, where: str) -> Path:
    text = cast(str, _field(obj, key, str, where))
    if not Path(text).is_absolute() or "\x00" in text or not is_utf8(text):
        raise PlanError(f"{where}.{key} must be an absolute path (in UTF-8)")
    return Path(os.path.normpath(text))


def _entries(data: dict[str, Any], key: str, *, optional: bool = False) -> Sequence[dict[str, Any]]:
    if optional and key not in data:
        return []
    items = _field(data, key, list, "plan")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise PlanError(f"{key}[{n}] must be an object")
    return cast(list[dict[str, Any]], items)


def _parse_plan(data: object) -> MovePlan:
    if not isinstance(data, dict):
        raise PlanError("a plan must be a JSON object")
    obj = cast(dict[str, Any], data)
    plan_id = _field(obj, "id", str, "plan")
    if not _PLAN_ID.match(plan_id):
        raise PlanError(f"plan id {plan_id!r} is not of the form YYYYMMDD-HHMMSS-xxxxxx")
    mode = _field(obj, "mode", str, "plan")
    if mode not in MODES:
        raise PlanError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    created_at = _field(obj, "created_at", str, "plan")
    moves: list[Move] = []
    sources: set[Path] = set()
    targets: set[str] = set()
    for n, item in enumerate(_entries(obj, "moves")):
        where = f"moves[{n}]"
        move = Move(
            _path(item, "src", where),
            _path(item, "dst", where),
            _field(item, "size", int, where),
            _field(item, "mtime_ns", int, where),
        )
        if move.size < 0:
            raise PlanError(f"{where}.size must not be negative")
        if move.src in sources:
            raise PlanError(f"{where}: source listed twice: {move.src}")
        if name_key(str(move.dst)) in targets:
            raise PlanError(f"{where}: destination listed twice: {move.dst}")
        if move.src == move.dst:
            raise PlanError(f"{where}: source and destination are the same")
        if mode == "trash" and move.dst.parent.name != "files":
            raise PlanError(f"{where}.dst is not inside a trash's files/ folder")
        sources.add(move.src)
        targets.add(name_key(str(move.dst)))
        moves.append(move)
    renamed = [
        Rename(
            _path(item, "src", f"renamed[{n}]"),
            _path(item, "planned" if "planned" in item else "dst", f"renamed[{n}]"),
            _path(item, "dst", f"renamed[{n}]"),
        )
        for n, item in enumerate(_entries(obj, "renamed"))
    ]
    skipped = [
        Unplanned(_path(item, "src", f"skipped[{n}]"), _field(item, "reason", str, f"skipped[{n}]"))
        for n, item in enumerate(_entries(obj, "skipped", optional=True))
    ]
    # Plans journaled before plans named their folder have neither: they can still be undone.
    folder = _path(obj, "folder", "plan") if obj.get("folder") is not None else None
    destination = _path(obj, "destination", "plan") if obj.get("destination") is not None else None
    return MovePlan(
        plan_id,
        cast(Mode, mode),
        created_at,
        tuple(moves),
        tuple(renamed),
        tuple(skipped),
        folder,
        destination,
    )
