"""Which copy of a duplicate stays: the original, for a reason that is true.

The old rule kept the largest file, then the oldest — so a PNG re-encode (bigger) beat the camera
JPEG, and between two byte-identical copies with the same mtime it kept `Backup/copy_of_…` and
called it "oldest". Here each rule only decides when it actually tells the candidates apart; a rule
they tie on is skipped, and the reason given is the rule that separated them:

1. in a reference folder (the user's "these are the originals": always kept, never trashed);
2. the largest resolution (a downscaled copy lost pixels);
3. the original format (a camera's JPEG/HEIC/RAW over a PNG, WebP or BMP re-encode);
4. camera EXIF (editors and messengers strip it);
5. a name without "copy", "(1)", "- Kopie"… (what file managers add to a duplicate);
6. the larger file (same dimensions and format: the higher-quality encode);
7. the shorter path (fewer folders deep, then fewer characters);
8. the older file — only when the times differ;
9. otherwise the first by name, and the reason says they are the same by every rule.

Rules 3 and 4 read the file's header (format, EXIF make/model), never its pixels.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from .catalog import FileFacts

# Formats cameras and phones write; anything else beside one of these is a re-encode.
ORIGINAL_FORMATS = frozenset(
    {"JPEG", "MPO", "HEIF", "HEIC", "AVIF", "DNG", "CR2", "NEF", "ARW", "ORF", "RAF"}
)
_MAKE, _MODEL = 0x010F, 0x0110
# "x copy.jpg", "x - Copy (2).jpg", "copy_of_x.jpg", "x (1).jpg", "Kopie von x", "x_copy3", "x-kopie"
_COPY_NAME = re.compile(
    r"(^|[\s_\-.(])(copy|kopie|copie|copia)([\s_\-.)]|\d|$)|\(\d+\)|(^|[\s_\-])copy[\s_-]?of[\s_-]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """One copy, with what the rules look at. `format` and `camera` are None when unknown."""

    relpath: str
    size: int
    mtime_ns: int
    width: int
    height: int
    format: str | None = None
    camera: str | None = None
    reference: bool = False  # inside one of the user's reference folders


@dataclass(frozen=True)
class KeepChoice:
    keep: str
    why: str


def is_copy_name(relpath: str) -> bool:
    """True for names file managers and downloads give to a second copy."""
    return bool(_COPY_NAME.search(PurePosixPath(relpath).stem))


def in_folders(relpath: str, folders: Iterable[str]) -> bool:
    """`relpath` lies inside one of `folders` (relpaths, '' = the whole folder)."""
    return any(not f or relpath == f or relpath.startswith(f.rstrip("/") + "/") for f in folders)


def read_header(path: Path) -> tuple[str | None, str | None]:
    """(format, camera "Make Model") from the file's header; (None, None) if it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                exif = img.getexif()
                camera = " ".join(str(exif.get(tag, "")).strip("\x00 ") for tag in (_MAKE, _MODEL)).strip()
                return img.format, camera or None
    except Exception:  # a hostile or vanished file: the rules that need it simply do not apply
        return None, None


def candidates(
    paths: Sequence[str],
    facts: Mapping[str, FileFacts],
    *,
    root: Path | None = None,
    references: Iterable[str] = (),
) -> list[Candidate]:
    """The copies as the rules see them; with `root`, format and camera come from each header."""
    references = list(references)
    found = []
    for path in paths:
        f = facts.get(path)
        fmt, camera = read_header(root / path) if root is not None else (None, None)
        found.append(
            Candidate(
                path,
                f.size if f else 0,
                f.mtime_ns if f else 0,
                f.width if f else 0,
                f.height if f else 0,
                fmt,
                camera,
                in_folders(path, references),
            )
        )
    return found


@dataclass(frozen=True)
class _Rule:
    score: Callable[[Candidate], tuple[float | str, ...]]  # lower is better
    reason: Callable[[Candidate, list[Candidate]], str]  # (winner, the ones it beat)
    applies: Callable[[list[Candidate]], bool] = lambda cs: True


def _day(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / 1e9))


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"


RULES: tuple[_Rule, ...] = (
    _Rule(
        lambda c: (not c.reference,),
        lambda w, _: f"in a reference folder ({PurePosixPath(w.relpath).parent})",
    ),
    _Rule(
        lambda c: (-(c.width * c.height),),
        lambda w, lost: f"largest resolution ({w.width}×{w.height} vs {lost[0].width}×{lost[0].height})",
    ),
    _Rule(
        lambda c: (c.format not in ORIGINAL_FORMATS,),
        lambda w, lost: f"original format ({w.format}; {lost[0].format} is a re-encode)",
        applies=lambda cs: all(c.format is not None for c in cs),
    ),
    _Rule(lambda c: (c.camera is None,), lambda w, _: f"has the camera's EXIF ({w.camera})"),
    _Rule(
        lambda c: (is_copy_name(c.relpath),),
        lambda w, lost: f"name without “copy” ({PurePosixPath(lost[0].relpath).name} is named as a copy)",
    ),
    _Rule(
        lambda c: (-c.size,),
        lambda w, lost: f"same dimensions and format; larger file ({_size(w.size)} vs {_size(lost[0].size)})",
    ),
    _Rule(
        lambda c: (c.relpath.count("/"), len(c.relpath)),
        lambda w, lost: f"shorter path ({w.relpath} vs {lost[0].relpath})",
    ),
    _Rule(
        lambda c: (c.mtime_ns,),
        lambda w, lost: f"older ({_day(w.mtime_ns)} vs {_day(lost[0].mtime_ns)})",
    ),
)


def choose_keep(found: Sequence[Candidate]) -> KeepChoice:
    """Apply the rules in order; the first that separates the candidates is the reason given."""
    if not found:
        raise ValueError("no copies to choose from")
    remaining = sorted(found, key=lambda c: c.relpath)
    reasons: list[str] = []
    for rule in RULES:
        if len(remaining) == 1:
            break
        if not rule.applies(remaining):
            continue
        best = min(rule.score(c) for c in remaining)
        winners = [c for c in remaining if rule.score(c) == best]
        if len(winners) < len(remaining):
            losers = [c for c in remaining if rule.score(c) != best]
            reasons.append(rule.reason(winners[0], losers))
            remaining = winners
    if len(remaining) > 1:
        reasons.append("the copies are alike by every rule; first by name")
    return KeepChoice(remaining[0].relpath, "; then ".join(reasons))


def suggest_keep(paths: list[str], facts: Mapping[str, FileFacts]) -> tuple[str, str]:
    """The copy to keep and why, from the catalog's facts alone (no file is opened)."""
    choice = choose_keep(candidates(paths, facts))
    return choice.keep, choice.why


def keep_choices(
    groups: Iterable[Sequence[str]],
    facts: Mapping[str, FileFacts],
    root: Path,
    references: Iterable[str] = (),
) -> list[KeepChoice]:
    """The keeper of each group of copies by every rule, headers read from `root`."""
    references = list(references)
    return [choose_keep(candidates(paths, facts, root=root, references=references)) for paths in groups]
