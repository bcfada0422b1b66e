"""Which copy of a duplicate stays: the original, for a reason that is true.

The old rule kept the largest file, then the oldest — so a PNG re-encode (bigger) beat the camera
JPEG, and between two byte-identical copies with the same mtime it kept `Backup/copy_of_…` and
called it "oldest". Here each rule only decides when it actually tells the candidates apart; a rule
they tie on is skipped, and the reason given is the rule that separated them:

1. in a reference folder (the user's "these are the originals": always kept, never trashed);
2. the largest resolution (a downscaled or cropped copy lost pixels); a copy that is another one
   inside a border, or another one scaled up, counts as that one; sizes within 2 % are alike;
3. not made from another copy: not the other one with a border, nor it enlarged;
4. the original format (a camera's JPEG/HEIC/RAW over a PNG, WebP or BMP re-encode);
5. camera EXIF (editors and messengers strip it);
6. a name without "copy", "(1)", "- Kopie"… (what file managers add to a duplicate);
7. the older file, when the times differ by more than a minute and the files are not byte copies
   (an edit or a messenger's copy is saved after its original, whatever its quality);
8. the larger file (same dimensions and format: the higher-quality encode);
9. the shorter path (fewer folders deep, then fewer characters);
10. the older file — only when the times differ;
11. otherwise the first by name, and the reason says they are the same by every rule.

Rules 4 and 5 read the file's header (format, EXIF make/model). Borders come from the layout the
indexer stored (layout.py: the box left after trimming uniform margins); only copies of one shape
and different sizes are decoded, to tell an enlargement from an original (enlarged.py).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from PIL import Image

from . import enlarged
from .catalog import FileFacts
from .errors import ImageError
from .images import load_image_file
from .layout import Layout, parse_layout

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
    box: tuple[float, float, float, float] | None = None  # inside uniform margins the indexer trimmed,
    # as fractions of the image (left, top, right, bottom); None: none trimmed. Natural margins
    # (a clear sky, a studio wall) are trimmed too, so a box alone says nothing of an edit.
    bordered_from: tuple[int, int] | None = None  # another copy's size, which this one holds inside margins
    enlarged_from: tuple[int, int] | None = None  # another copy's size, which this one is scaled up from

    @property
    def picture_size(self) -> tuple[int, int]:
        """The resolution of what it shows: its own, or that of the copy it was made from."""
        return self.enlarged_from or self.bordered_from or (self.width, self.height)

    @property
    def picture_pixels(self) -> int:
        width, height = self.picture_size
        return width * height

    @property
    def inner_size(self) -> tuple[int, int]:
        """Its size inside the trimmed margins (all of it when none were trimmed)."""
        if self.box is None:
            return self.width, self.height
        left, top, right, bottom = self.box
        return max(1, round((right - left) * self.width)), max(1, round((bottom - top) * self.height))


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
    layouts: Mapping[str, bytes | None] | None = None,
) -> list[Candidate]:
    """The copies as the rules see them; with `root`, format and camera come from each header and
    copies of one shape are compared for an enlargement; `layouts` (relpath → the stored layout
    signature) tell where uniform margins surround the picture."""
    references = list(references)
    found = []
    for path in paths:
        f = facts.get(path)
        fmt, camera = read_header(root / path) if root is not None else (None, None)
        width, height = (f.width, f.height) if f else (0, 0)
        layout = parse_layout(layouts.get(path) or b"") if layouts is not None else None
        found.append(
            Candidate(
                path,
                f.size if f else 0,
                f.mtime_ns if f else 0,
                width,
                height,
                fmt,
                camera,
                in_folders(path, references),
                _box(layout),
            )
        )
    found = _find_borders(found)
    return _find_enlargements(found, root) if root is not None else found


def _find_borders(found: list[Candidate]) -> list[Candidate]:
    """Each copy whose picture inside margins is another, smaller copy (its whole, or inside its
    own margins) is that copy with a border: it takes that copy's size."""
    out = []
    for c in found:
        if c.box is not None:
            inner = c.inner_size
            for other in found:
                if other.width * other.height < c.width * c.height and any(
                    _alike(inner, size) for size in ((other.width, other.height), other.inner_size)
                ):
                    c = replace(c, bordered_from=(other.width, other.height))
                    break
        out.append(c)
    return out


def _alike(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Sizes within PICTURE_TOLERANCE on each side (a pixel of trimming, JPEG ringing at the edge)."""
    return all(abs(x - y) <= PICTURE_TOLERANCE * max(x, y) + 1 for x, y in zip(a, b, strict=True))


def _box(layout: Layout | None) -> tuple[float, float, float, float] | None:
    """Where the picture lies inside trimmed margins, as fractions (the layout's box is in decoded
    pixels, which may be a reduced decode)."""
    if layout is None or not layout.trimmed:
        return None
    width, height = layout.size
    left, top, right, bottom = layout.box
    return left / width, top / height, right / width, bottom / height


MAX_COMPARED = 6  # a bigger group of copies is not decoded (rare, and the test is pairwise)


def _find_enlargements(found: list[Candidate], root: Path) -> list[Candidate]:
    """Each copy that is a smaller copy scaled up takes that copy's picture size, marked enlarged."""
    if len(found) > MAX_COMPARED:
        return found
    largest_first = sorted(range(len(found)), key=lambda i: -found[i].picture_pixels)
    pictures: dict[str, Image.Image | None] = {}

    def picture(c: Candidate) -> Image.Image | None:
        if c.relpath not in pictures:
            pictures[c.relpath] = _read_whole(root / c.relpath)
        return pictures[c.relpath]

    for n, i in enumerate(largest_first):
        big = found[i]
        for j in reversed(largest_first[n + 1 :]):  # the smallest first: the likeliest source
            small = found[j]
            whole_big, whole_small = (big.width, big.height), (small.width, small.height)
            made = big.bordered_from or small.bordered_from or small.enlarged_from
            camera_file = big.camera is not None and small.camera is None  # a stripped reduction
            if made or camera_file or not enlarged.worth_testing(whole_big, whole_small):
                continue
            big_pixels, small_pixels = picture(big), picture(small)
            if big_pixels and small_pixels and enlarged.enlarged_from(big_pixels, small_pixels):
                found[i] = replace(big, enlarged_from=whole_small)
                break
    return found


def _read_whole(path: Path) -> Image.Image | None:
    """The copy decoded whole (oriented, RGB), or None when it cannot be."""
    try:
        return load_image_file(path).image
    except ImageError:
        return None


@dataclass(frozen=True)
class _Rule:
    score: Callable[[Candidate], tuple[float | str, ...]]  # lower is better
    reason: Callable[[Candidate, list[Candidate]], str]  # (winner, the ones it beat)
    applies: Callable[[list[Candidate]], bool] = lambda cs: True
    # does a score count as the best one? Exact by default; a tolerance where small differences say nothing
    as_good: Callable[[tuple[float | str, ...], tuple[float | str, ...]], bool] = lambda score, best: (
        score == best
    )


PICTURE_TOLERANCE = 0.02  # sizes within 2 % are alike (a pixel of trimming, rounding, JPEG ringing)
CLEARLY_OLDER_NS = 60 * 10**9  # times closer than a minute say nothing of which came first


def _day(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / 1e9))


def _dims(c: Candidate) -> str:
    made = "enlarged from" if c.enlarged_from else "a border around" if c.bordered_from else ""
    width, height = c.picture_size
    return f"{c.width}×{c.height}, {made} {width}×{height}" if made else f"{width}×{height}"


def _made_from(lost: Candidate) -> str:
    name = PurePosixPath(lost.relpath).name
    if lost.enlarged_from is not None:
        return f"the original of an enlarged copy ({name} is it scaled up)"
    return f"no added margins ({name} has a border around the same picture)"


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"


RULES: tuple[_Rule, ...] = (
    _Rule(
        lambda c: (not c.reference,),
        lambda w, _: f"in a reference folder ({PurePosixPath(w.relpath).parent})",
    ),
    _Rule(
        lambda c: (-c.picture_pixels,),
        lambda w, lost: f"largest resolution ({_dims(w)} vs {_dims(lost[0])})",
        as_good=lambda score, best: float(score[0]) <= float(best[0]) * (1 - PICTURE_TOLERANCE),
    ),
    _Rule(
        lambda c: (c.enlarged_from is not None, c.bordered_from is not None),
        lambda w, lost: _made_from(lost[0]),
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
        lambda c: (c.mtime_ns,),
        lambda w, lost: f"older ({_day(w.mtime_ns)} vs {_day(lost[0].mtime_ns)})",
        as_good=lambda score, best: float(score[0]) <= float(best[0]) + CLEARLY_OLDER_NS,
        applies=lambda cs: len({c.size for c in cs}) > 1,  # different encodes: byte copies go by path
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
    decided: list[tuple[_Rule, list[Candidate]]] = []  # each rule that separated them, and whom it set aside
    for rule in RULES:
        if len(remaining) == 1:
            break
        if not rule.applies(remaining):
            continue
        best = min(rule.score(c) for c in remaining)
        winners = [c for c in remaining if rule.as_good(rule.score(c), best)]
        if len(winners) < len(remaining):
            decided.append((rule, [c for c in remaining if c not in winners]))
            remaining = winners
    kept = remaining[0]  # each reason is said of the copy kept, not of another the rule let through
    reasons = [rule.reason(kept, losers) for rule, losers in decided]
    if len(remaining) > 1:
        reasons.append("the copies are alike by every rule; first by name")
    return KeepChoice(kept.relpath, "; then ".join(reasons))


def suggest_keep(paths: list[str], facts: Mapping[str, FileFacts]) -> tuple[str, str]:
    """The copy to keep and why, from the catalog's facts alone (no file is opened)."""
    choice = choose_keep(candidates(paths, facts))
    return choice.keep, choice.why


def keep_choices(
    groups: Iterable[Sequence[str]],
    facts: Mapping[str, FileFacts],
    root: Path,
    references: Iterable[str] = (),
    layouts: Mapping[str, bytes | None] | None = None,
) -> list[KeepChoice]:
    """The keeper of each group of copies by every rule, headers read from `root`; `layouts`:
    relpath → stored layout signature (where margins surround the picture)."""
    references = list(references)
    return [
        choose_keep(candidates(paths, facts, root=root, references=references, layouts=layouts))
        for paths in groups
    ]
