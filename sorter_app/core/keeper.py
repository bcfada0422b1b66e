"""Which copy of a duplicate stays: the original, for a reason that is true.

The old rule kept the largest file, then the oldest — so a PNG re-encode (bigger) beat the camera
JPEG, and between two byte-identical copies with the same mtime it kept `Backup/copy_of_…` and
called it "oldest". Here each rule only decides when it actually tells the candidates apart; a rule
they tie on is skipped, and the reason given is the rule that separated them:

1. in a reference folder (the user's "these are the originals": always kept, never trashed);
2. the largest resolution (a downscaled or cropped copy lost pixels); a copy found to be another
   one inside an added border, or another one scaled up, has that one's resolution;
3. not made from another copy: not the other one inside a border, nor it scaled up, nor it saved
   again as a JPEG at a finer quality (reencoded.py: the re-save's coefficients sit on the other's
   quantisation lattice; only copies of one stored size, only tables that can tell);
4. the original format (a camera's JPEG/HEIC/RAW over a PNG, WebP or BMP re-encode);
5. camera EXIF (editors and messengers strip it);
6. a name without "copy", "(1)", "- Kopie"… (what file managers add to a duplicate);
7. the larger file (same dimensions and format: the higher-quality encode);
8. not in a backup or copy folder ("Backup", "old backups", "Photos - Copy", "Kopie von …") inside
   the folder opened: where a duplicate tree lies shallower than the organised one, "shorter path"
   would keep the backup (after "larger file": a better copy in a backup folder is still kept);
9. the shorter path (fewer folders deep, then fewer characters);
10. the older file — only when the times differ;
11. otherwise the first by name, and the reason says they are the same by every rule.

Rules 4 and 5 read the file's header (format, EXIF make/model). What rule 2 counts as made from
another copy errs towards "no": calling an original a copy would trash it for a worse one.
- A border: the copy is another one's size plus a frame, the stored layout (layout.py) trimmed
  all of that frame as uniform margins (an editor's border, letterboxing), and what it holds is
  the other copy's picture at the same scale. A clear sky along one side leaves the trimmed box
  off centre; a page or a mounted photo with margins of its own holds a larger picture than its
  reduction. A border added on one side only (a caption bar) is not recognised.
- An enlargement: only a re-encode format (PNG, WebP…) over a smaller camera-format copy, the
  small one with enough fine detail to tell (enlarged.py; a smooth or blurred picture is as
  sharp as its own reduction), both decoded whole.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from PIL import Image

from . import enlarged, reencoded
from .camera_facts import camera_name
from .catalog import FileFacts
from .errors import ImageError
from .images import load_image_file
from .layout import Layout, parse_layout
from .scan import open_regular

# Formats cameras and phones write; anything else beside one of these is a re-encode.
ORIGINAL_FORMATS = frozenset(
    {"JPEG", "MPO", "HEIF", "HEIC", "AVIF", "DNG", "CR2", "NEF", "ARW", "ORF", "RAF"}
)
# "x copy.jpg", "x - Copy (2).jpg", "copy_of_x.jpg", "x (1).jpg", "Kopie von x", "x_copy3", "x-kopie"
# (a number in brackets of one or two digits: "(1)", not a year: "Party (2019)")
_COPY_WORDS = r"(^|[\s_\-.(])(copy|kopie|copie|copia)([\s_\-.)]|\d|$)|(^|[\s_\-])copy[\s_-]?of[\s_-]"
_COPY_NAME = re.compile(rf"{_COPY_WORDS}|\(\d{{1,2}}\)", re.IGNORECASE)


# "Backup", "backups 2019", "old_backup", "Sicherung", "Sauvegarde", "copies", "Duplicates"
# (a folder's "(2)" is as often "Kids (2)" or "Season 2 (03)" as a copy: only words count there)
_BACKUP_FOLDER = re.compile(
    r"(^|[\s_\-.])(back[\s_-]?ups?|sicherung(en)?|sauvegardes?|copies|duplicates|dupes)([\s_\-.]|\d|$)"
    rf"|{_COPY_WORDS}",
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
    box_unit: float = 1.0  # file pixels per pixel the box was measured in (the indexer may decode reduced)
    bordered_from: tuple[int, int] | None = None  # another copy's size, which this one holds inside margins
    enlarged_from: tuple[int, int] | None = None  # another copy's size, which this one is scaled up from
    resaved_from: str | None = None  # another copy of its size, which this JPEG is saved again from

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
        """Its size inside the margins the indexer trimmed (all of it when none were)."""
        if self.box is None:
            return self.width, self.height
        left, top, right, bottom = self.box
        return round((right - left) * self.width), round((bottom - top) * self.height)


@dataclass(frozen=True)
class KeepChoice:
    keep: str
    why: str


def is_copy_name(relpath: str) -> bool:
    """True for names file managers and downloads give to a second copy."""
    return bool(_COPY_NAME.search(PurePosixPath(relpath).stem))


def copy_folder(relpath: str) -> str | None:
    """The first folder of `relpath` (inside the folder opened) named as a backup or a copy, or None."""
    parents = PurePosixPath(relpath).parent.parts
    for i, name in enumerate(parents):
        if _BACKUP_FOLDER.search(name):
            return "/".join(parents[: i + 1])
    return None


def in_folders(relpath: str, folders: Iterable[str]) -> bool:
    """`relpath` lies inside one of `folders` (relpaths, '' = the whole folder)."""
    return any(not f or relpath == f or relpath.startswith(f.rstrip("/") + "/") for f in folders)


def read_header(path: Path) -> tuple[str | None, str | None]:
    """(format, camera "Make Model") from the file's header; (None, None) if it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_regular(path) as fh, Image.open(fh) as img:  # not a pipe swapped in since
                exif = img.getexif()
                return img.format, camera_name(exif)
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
                width / layout.size[0] if layout is not None and width else 1.0,
            )
        )
    found = _find_borders(found)
    return _find_resaves(_find_enlargements(found, root), root) if root is not None else found


def _find_borders(found: list[Candidate]) -> list[Candidate]:
    """Each copy that is another, smaller copy's size plus a uniform frame is that copy inside a
    border: it takes that copy's size."""
    out = []
    for c in found:
        for other in found:
            if _frames(c, other):
                c = replace(c, bordered_from=(other.width, other.height))
                break
        out.append(c)
    return out


def _frames(c: Candidate, other: Candidate) -> bool:
    """`c` is `other` with a uniform frame added: larger, everything outside an `other`-sized area
    at its centre was trimmed as uniform margins, and what is left is the picture `other` holds
    at the same scale (its own trimmed box, of the same size). So a photo or a page with margins
    of its own is not a frame around a reduction of itself (that picture is smaller), nor is one
    with a clear sky along one side around a crop without it (the box is off centre)."""
    if c.box is None or other.width * other.height >= c.width * c.height:
        return False
    dx, dy = (c.width - other.width) / 2, (c.height - other.height) / 2
    slack = FRAME_SLACK * max(c.box_unit, other.box_unit)  # trimming is a pixel or two off at JPEG ringing
    if dx < 0 or dy < 0 or max(dx, dy) < 2 * slack:  # no frame, or one too thin to tell from that
        return False
    left, top, right, bottom = c.box
    centred = (
        left * c.width >= dx - slack
        and top * c.height >= dy - slack
        and right * c.width <= c.width - dx + slack
        and bottom * c.height <= c.height - dy + slack
    )
    same_picture = all(abs(a - b) <= slack for a, b in zip(c.inner_size, other.inner_size, strict=True))
    return centred and same_picture


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
    """The largest copy, if it is a smaller copy scaled up, takes that copy's size."""
    if len(found) > MAX_COMPARED:
        return found
    order = sorted(range(len(found)), key=lambda i: -found[i].picture_pixels)
    big = found[order[0]]
    if big.bordered_from or big.format is None or big.format in ORIGINAL_FORMATS:
        return found
    big_pixels: Image.Image | None = None
    for j in reversed(order[1:]):  # the smallest first: the likeliest source
        small = found[j]
        whole_big, whole_small = (big.width, big.height), (small.width, small.height)
        if small.format not in ORIGINAL_FORMATS or not enlarged.worth_testing(whole_big, whole_small):
            continue
        big_pixels = big_pixels or _read_whole(root / big.relpath, whole_big)
        if big_pixels is None:
            return found
        small_pixels = _read_whole(root / small.relpath, whole_small)
        if small_pixels is not None and enlarged.enlarged_from(big_pixels, small_pixels):
            found[order[0]] = replace(big, enlarged_from=whole_small)
            break
    return found


def _find_resaves(found: list[Candidate], root: Path) -> list[Candidate]:
    """Each JPEG that is another JPEG of its size decoded and saved again at a finer quality
    (reencoded.py) is marked as made from it. Only tables that can tell are decoded: byte-identical
    copies and re-saves at the same quality share a table and are left to the later rules."""
    if len(found) > MAX_COMPARED:
        return found
    steps = {
        i: reencoded.luminance_steps(root / c.relpath, (c.width, c.height))
        for i, c in enumerate(found)
        if c.format == "JPEG"
    }
    pairs = [
        (i, j)
        for i, a in steps.items()
        for j, b in steps.items()
        if a is not None and b is not None and i != j and reencoded.can_tell(a, b)
    ]
    read: dict[int, reencoded.Quantised | None] = {}
    for i, j in pairs:
        if found[i].resaved_from is not None:
            continue
        for k in (i, j):
            if k not in read:
                read[k] = reencoded.read_quantised(root / found[k].relpath, (found[k].width, found[k].height))
        finer, coarser = read[i], read[j]
        if finer is not None and coarser is not None and reencoded.resaved_from(finer, coarser):
            found[i] = replace(found[i], resaved_from=found[j].relpath)
    return found


def _read_whole(path: Path, size: tuple[int, int]) -> Image.Image | None:
    """The copy decoded whole (oriented, RGB), or None when it cannot be or is no longer of the
    size indexed (changed since: its facts would not describe it)."""
    try:
        img = load_image_file(path).image
    except (ImageError, OSError):
        return None
    return img if img.size == size else None


@dataclass(frozen=True)
class _Rule:
    score: Callable[[Candidate], tuple[float | str, ...]]  # lower is better
    reason: Callable[[Candidate, list[Candidate]], str]  # (winner, the ones it beat)
    applies: Callable[[list[Candidate]], bool] = lambda cs: True


FRAME_SLACK = 2.0  # measured pixels a trimmed frame may be off the size difference of two copies


def _day(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / 1e9))


def _dims(c: Candidate) -> str:
    made = "enlarged from" if c.enlarged_from else "a border around" if c.bordered_from else ""
    width, height = c.picture_size
    return f"{c.width}×{c.height}, {made} {width}×{height}" if made else f"{width}×{height}"


def _made_from(lost: list[Candidate]) -> str:
    """Every copy set aside as made from the kept one, by how it was made."""
    enlarged = [_name(c.relpath) for c in lost if c.enlarged_from is not None]
    bordered = [_name(c.relpath) for c in lost if c.enlarged_from is None and c.bordered_from is not None]
    resaved = [
        f"{_name(c.relpath)} carries {_name(c.resaved_from)}'s JPEG compression, "
        "saved again at a higher quality"
        for c in lost
        if c.enlarged_from is None and c.bordered_from is None and c.resaved_from is not None
    ]
    parts = []
    if enlarged:
        parts.append(
            f"the original of an enlarged copy ({', '.join(enlarged)} {_is(enlarged)} this copy scaled up)"
        )
    if bordered:
        has = "has" if len(bordered) == 1 else "have"
        parts.append(f"no added margins ({', '.join(bordered)} {has} a border around the same picture)")
    if resaved:
        parts.append(f"not saved again from another copy ({'; '.join(resaved)})")
    return "; and ".join(parts)


def _name(relpath: str) -> str:
    return PurePosixPath(relpath).name


def _is(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


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
    ),
    _Rule(
        lambda c: (c.enlarged_from is not None, c.bordered_from is not None, c.resaved_from is not None),
        lambda w, lost: _made_from(lost),
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
        lambda c: (copy_folder(c.relpath) is not None,),
        lambda w, lost: f"not in a backup or copy folder ({copy_folder(lost[0].relpath)}/ is one)",
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
        winners = [c for c in remaining if rule.score(c) == best]
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
