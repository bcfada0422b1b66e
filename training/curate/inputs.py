"""What `curate` reads: a labelled CSV manifest, image folders whose names are the labels, or
WebDataset-style `.tar` shards (tars.py).

Every image becomes one `Item` with a recorded path, a source and its given labels, checked
against the single vocabulary in `training.labels`. A manifest may also carry a teacher's
probabilities per row, in columns named `teacher_<head>_<label>` (e.g. `teacher_scene_indoor`,
`teacher_room_kitchen`); rows with those cells empty have no teacher opinion.

Any other labels ride in label-set columns, as `sorter labels export` writes them: `set:NAME` holds
the image's label in set NAME. Where the export also says where the label came from
(`set:NAME:source`), only what a person labelled is taken: the app's own guesses would teach the
new head to copy the in-app classifier, and would be scored as if they were truth.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from sorter_app.core.images import IMAGE_EXTENSIONS

from ..errors import TrainingError
from ..labels import ROOMS, SCENES, SETTINGS, room_index, scene_index

KINDS = ("photo", "non_photo")
# The app's kind head answers photo / graphic / artwork, and `sorter export` writes that answer in
# the kind column: both non-photo kinds are what curate calls non_photo.
NON_PHOTO_KINDS = ("graphic", "artwork")
HEADS: dict[str, tuple[str, ...]] = {"scene": SCENES, "room": ROOMS}
_TEACHER_COLUMN = re.compile(r"^teacher_(scene|room)_(\w+)$")
_REQUIRED_COLUMNS = ("path", "source", "scene", "room", "kind")
SET_PREFIX = "set:"
_SET_DETAILS = (":source", ":predicted", ":confidence")  # label_export.set_columns


@dataclass(slots=True)  # no __dict__: the driver holds one per image (6.5 million at WIT scale)
class Item:
    """One input image. `scene`/`room` are labels from the vocabularies, '' when not given."""

    path: str  # as recorded in the output: relative to the manifest's folder, or source/relpath
    file: Path  # where to read it (for a tar member: the .tar)
    source: str
    scene: str = ""
    room: str = ""
    kind: str = "photo"
    setting: str = ""  # home / not_a_home, from an optional `setting` column (`sorter export` writes one)
    teacher: dict[str, dict[str, float]] = field(default_factory=dict)  # head → label → probability
    member: str | None = None  # the member's name when `file` is a WebDataset .tar
    sets: dict[str, str] = field(default_factory=dict)  # label set name → this image's label

    def label(self, head: str) -> str:
        return self.scene if head == "scene" else self.room

    def set_label(self, head: str, value: str) -> None:
        if head == "scene":
            self.scene = value
        else:
            self.room = value


def read_manifest(manifest: Path) -> list[Item]:
    """Rows of a CSV with columns path, source, scene, room, kind (+ optional setting and teacher_*
    columns)."""
    try:
        with manifest.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except OSError as exc:
        raise TrainingError(f"cannot read manifest {manifest}: {exc.strerror or exc}") from exc
    missing = [c for c in _REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise TrainingError(f"manifest {manifest} lacks column(s) {', '.join(missing)}")
    teacher_columns = _teacher_columns(columns, manifest)
    set_names = label_set_columns(columns)
    root = manifest.parent
    items = []
    for line, row in enumerate(rows, start=2):
        try:
            item = Item(
                path=row["path"],
                file=root / row["path"],
                source=row["source"],
                scene=row["scene"].strip(),
                room=row["room"].strip(),
                kind=_kind(row["kind"]),
                setting=(row.get("setting") or "").strip(),
                teacher=_teacher_probabilities(row, teacher_columns),
                sets=_set_labels(row, set_names),
            )
            validate(item)
        except (ValueError, TrainingError) as exc:
            raise TrainingError(f"{manifest}, line {line}: {exc}") from exc
        items.append(item)
    return items


def label_set_columns(columns: list[str]) -> list[str]:
    """The label sets a manifest carries: NAME of every `set:NAME` column."""
    return [
        c.removeprefix(SET_PREFIX)
        for c in columns
        if c.startswith(SET_PREFIX) and not c.endswith(_SET_DETAILS) and len(c) > len(SET_PREFIX)
    ]


def _set_labels(row: dict[str, str], names: list[str]) -> dict[str, str]:
    labels = {}
    for name in names:
        label = (row.get(f"{SET_PREFIX}{name}") or "").strip()
        said_by = row.get(f"{SET_PREFIX}{name}:source")
        if label and (said_by is None or said_by.strip() == "labelled"):
            labels[name] = label
    return labels


def read_folder(folder: Path) -> list[Item]:
    """Every image under `folder`; labels come from the folder names on the way to it.

    A folder named `indoor` or `outdoor` sets the scene, one named after a room (`kitchen`,
    `living_room`, …) sets the room (and the scene to indoor), `non_photo` sets the kind. The
    source is `folder`'s own name, and paths are recorded as `source/relative/path`.
    """
    if not folder.is_dir():
        raise TrainingError(f"not a folder: {folder}")
    source = folder.resolve().name
    items = []
    for file in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS):
        if not file.is_file():
            continue
        rel = file.relative_to(folder)
        item = Item(path=f"{source}/{rel.as_posix()}", file=file, source=source)
        for part in rel.parts[:-1]:
            apply_label_name(item, part)
        items.append(item)
    return items


def apply_label_name(item: Item, name: str) -> bool:
    """Set what a folder (or a WebDataset `.cls`) name says: a scene, a room, or non_photo."""
    name = name.strip().lower()
    if name in SCENES:
        item.scene = name
    elif name in ROOMS:
        item.room, item.scene = name, "indoor"
    elif name == "non_photo":
        item.kind = "non_photo"
    else:
        return False
    return True


def validate(item: Item) -> None:
    scene_index(item.scene)
    room_index(item.room)
    if item.kind not in KINDS:
        raise ValueError(f"unknown kind {item.kind!r} (expected one of {', '.join(KINDS)})")
    if item.room and item.scene == "outdoor":
        raise ValueError(f"room {item.room!r} given for an outdoor scene")
    if item.setting and item.setting not in SETTINGS:
        raise ValueError(f"unknown setting {item.setting!r} (expected {', '.join(SETTINGS)} or nothing)")
    if item.setting == "not_a_home" and item.room:
        raise ValueError(f"room {item.room!r} given for a photo that is not of a home")


def _kind(cell: str) -> str:
    kind = cell.strip() or "photo"
    return "non_photo" if kind in NON_PHOTO_KINDS else kind


def check_unique_paths(items: list[Item]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.path in seen:
            raise TrainingError(f"image listed twice: {item.path}")
        seen.add(item.path)


def _teacher_columns(columns: list[str], manifest: Path) -> dict[str, tuple[str, str]]:
    found = {}
    for column in columns:
        if column.startswith("teacher_"):
            match = _TEACHER_COLUMN.match(column)
            if not match or match.group(2) not in HEADS[match.group(1)]:
                raise TrainingError(f"manifest {manifest}: column {column!r} is not teacher_<head>_<label>")
            found[column] = (match.group(1), match.group(2))
    return found


def _teacher_probabilities(
    row: dict[str, str], columns: dict[str, tuple[str, str]]
) -> dict[str, dict[str, float]]:
    probs: dict[str, dict[str, float]] = {}
    for column, (head, label) in columns.items():
        cell = (row.get(column) or "").strip()
        if cell:
            value = float(cell)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{column}={cell} is not a probability")
            probs.setdefault(head, {})[label] = value
    return probs
