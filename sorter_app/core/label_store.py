"""Label sets of the user's own, and which image has which label, in `user.sqlite`.

A set ("style") has labels ("baroque", "realism", …); several sets live side by side, and an image
has at most one label of each set. Labels are stored by content hash, like corrections, so they
follow moved and copied files and outlive any model. Names are compared the way a case-insensitive
file system compares them (they may become folder names): "Kitchen" and "kitchen" are one label.

The tables are user_store.py's step 2; they are reached through the catalog's connection, which
has `user.sqlite` attached.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog
from .errors import SorterError
from .plan import name_key
from .predictions import UNKNOWN
from .user_store import USER_SCHEMA as U

MAX_NAME_CHARS = 100
_CHUNK = 500  # SQLite's IN-list chunk


@dataclass(frozen=True)
class LabelSet:
    id: int
    name: str
    labels: tuple[str, ...]  # in the order they were added: what keys 1–9 pick in a review

    def label(self, name: str) -> str | None:
        """The set's own spelling of `name`, matched regardless of case."""
        key = name_key(name.strip())
        return next((label for label in self.labels if name_key(label) == key), None)


def check_name(name: str, what: str) -> str:
    """`name` stripped, or why it cannot name a label or set. "unknown" is what a prediction says
    when unsure, so no label may be called that; ":" separates a set from its field in exports."""
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        raise SorterError(f"a {what} name cannot be empty")
    if len(text) > MAX_NAME_CHARS:
        raise SorterError(f"a {what} name has at most {MAX_NAME_CHARS} characters: {text[:20]!r}…")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise SorterError(f"a {what} name cannot hold control characters: {text!r}")
    if what == "label" and name_key(text) == UNKNOWN:
        raise SorterError(f"{UNKNOWN!r} is what a prediction says when unsure; choose another label name")
    if what == "set" and ":" in text:
        raise SorterError(f"a set name cannot hold ':' (exports name columns set:NAME): {text!r}")
    return text


class LabelStore:
    """Reads and writes label sets through `catalog`'s connection; every change is one transaction."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._catalog.transaction() as db:
            return list(db.execute(sql, params))

    # sets ------------------------------------------------------------------------------------

    def sets(self) -> list[LabelSet]:
        rows = self._query(f"SELECT id, name FROM {U}.label_sets ORDER BY name COLLATE NOCASE")
        return [self._with_labels(int(i), str(n)) for i, n in rows]

    def find(self, name: str) -> LabelSet | None:
        key = name_key(name.strip())
        return next((s for s in self.sets() if name_key(s.name) == key), None)

    def get(self, name: str) -> LabelSet:
        found = self.find(name)
        if found is None:
            known = ", ".join(s.name for s in self.sets()) or "none yet"
            raise SorterError(
                f"no label set named {name!r} (sets: {known}; `sorter labels create` makes one)"
            )
        return found

    def _with_labels(self, set_id: int, name: str) -> LabelSet:
        rows = self._query(f"SELECT name FROM {U}.set_labels WHERE set_id = ? ORDER BY position", (set_id,))
        return LabelSet(set_id, name, tuple(str(r[0]) for r in rows))

    def create(self, name: str, labels: Iterable[str] = ()) -> LabelSet:
        name = check_name(name, "set")
        if self.find(name) is not None:
            raise SorterError(f"a label set named {name!r} exists already")
        labels = [check_name(label, "label") for label in labels]  # a refused label leaves no empty set
        with self._catalog.user_transaction() as db:
            db.execute(f"INSERT INTO {U}.label_sets (name, created_at) VALUES (?, ?)", (name, time.time()))
        return self.add_labels(name, labels)

    def rename(self, name: str, new_name: str) -> LabelSet:
        found = self.get(name)
        new_name = check_name(new_name, "set")
        other = self.find(new_name)
        if other is not None and other.id != found.id:
            raise SorterError(f"a label set named {new_name!r} exists already")
        with self._catalog.user_transaction() as db:
            db.execute(f"UPDATE {U}.label_sets SET name = ? WHERE id = ?", (new_name, found.id))
        return self._with_labels(found.id, new_name)

    def delete(self, name: str) -> int:
        """Forget the set, its labels and every image's label of it; returns how many images had one."""
        found = self.get(name)
        labelled = self._count(found.id)
        with self._catalog.user_transaction() as db:
            db.execute(f"DELETE FROM {U}.label_sets WHERE id = ?", (found.id,))
        return labelled

    def _count(self, set_id: int) -> int:
        return int(self._query(f"SELECT COUNT(*) FROM {U}.image_labels WHERE set_id = ?", (set_id,))[0][0])

    # labels ----------------------------------------------------------------------------------

    def add_labels(self, set_name: str, labels: Iterable[str]) -> LabelSet:
        """Add the labels the set does not have yet (matched regardless of case), in the order given."""
        found = self.get(set_name)
        names = list(found.labels)
        with self._catalog.user_transaction() as db:
            for raw in labels:
                label = check_name(raw, "label")
                if any(name_key(label) == name_key(n) for n in names):
                    continue
                db.execute(
                    f"INSERT INTO {U}.set_labels (set_id, name, position) VALUES (?, ?, ?)",
                    (found.id, label, len(names)),
                )
                names.append(label)
        return LabelSet(found.id, found.name, tuple(names))

    def rename_label(self, set_name: str, label: str, new_name: str) -> LabelSet:
        found = self.get(set_name)
        old = self._existing_label(found, label)
        new_name = check_name(new_name, "label")
        clash = found.label(new_name)
        if clash is not None and clash != old:
            raise SorterError(f"set {found.name!r} has a label {clash!r} already")
        with self._catalog.user_transaction() as db:
            db.execute(
                f"UPDATE {U}.set_labels SET name = ? WHERE set_id = ? AND name = ?", (new_name, found.id, old)
            )
        return self._with_labels(found.id, found.name)

    def remove_label(self, set_name: str, label: str) -> int:
        """Take the label out of the set and off every image; returns how many images had it."""
        found = self.get(set_name)
        old = self._existing_label(found, label)
        label_id = self._label_id(found.id, old)
        had = self._query(f"SELECT COUNT(*) FROM {U}.image_labels WHERE label_id = ?", (label_id,))
        with self._catalog.user_transaction() as db:
            db.execute(f"DELETE FROM {U}.set_labels WHERE id = ?", (label_id,))
        return int(had[0][0])

    def _existing_label(self, found: LabelSet, label: str) -> str:
        name = found.label(label)
        if name is None:
            raise SorterError(
                f"set {found.name!r} has no label {label!r} (labels: {', '.join(found.labels) or 'none yet'})"
            )
        return name

    def _label_id(self, set_id: int, label: str) -> int:
        rows = self._query(f"SELECT id FROM {U}.set_labels WHERE set_id = ? AND name = ?", (set_id, label))
        return int(rows[0][0])

    # images ----------------------------------------------------------------------------------

    def label_images(self, set_name: str, label: str, hashes: Iterable[str]) -> int:
        """Give every image (by content hash) `label`, adding it to the set if new; one transaction.
        Returns how many images got a label they did not have."""
        found = self.add_labels(set_name, [label])
        label_id = self._label_id(found.id, self._existing_label(found, label))
        now = time.time()
        with self._catalog.user_transaction() as db:
            before = db.total_changes
            db.executemany(
                f"INSERT INTO {U}.image_labels (set_id, content_hash, label_id, labelled_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (set_id, content_hash) DO UPDATE SET "
                "label_id = excluded.label_id, labelled_at = excluded.labelled_at "
                "WHERE label_id != excluded.label_id",
                ((found.id, h, label_id, now) for h in dict.fromkeys(hashes)),
            )
            return db.total_changes - before

    def unlabel_images(self, set_name: str, hashes: Iterable[str]) -> int:
        """Take the set's label off the images; returns how many had one."""
        found = self.get(set_name)
        with self._catalog.user_transaction() as db:
            before = db.total_changes
            db.executemany(
                f"DELETE FROM {U}.image_labels WHERE set_id = ? AND content_hash = ?",
                ((found.id, h) for h in dict.fromkeys(hashes)),
            )
            return db.total_changes - before

    def assign(self, set_name: str, labels: Mapping[str, str | None]) -> None:
        """Give each image (by content hash) its own label of the set, None taking its label off:
        what an undo or redo of labelling writes back, a transaction per label."""
        by_label: dict[str | None, list[str]] = {}
        for content_hash, label in labels.items():
            by_label.setdefault(label, []).append(content_hash)
        for label, hashes in by_label.items():
            if label is None:
                self.unlabel_images(set_name, hashes)
            else:
                self.label_images(set_name, label, hashes)

    def image_labels(self, label_set: LabelSet, hashes: Sequence[str] | None = None) -> dict[str, str]:
        """{content hash: label} of the set, for `hashes` (every labelled image when None)."""
        sql = (
            f"SELECT i.content_hash, l.name FROM {U}.image_labels i "
            f"JOIN {U}.set_labels l ON l.id = i.label_id WHERE i.set_id = ?"
        )
        if hashes is None:
            return {str(h): str(n) for h, n in self._query(sql, (label_set.id,))}
        found: dict[str, str] = {}
        for start in range(0, len(hashes), _CHUNK):
            chunk = list(hashes[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._query(sql + f" AND i.content_hash IN ({marks})", (label_set.id, *chunk))
            found.update({str(h): str(n) for h, n in rows})
        return found

    def counts(self, label_set: LabelSet) -> dict[str, int]:
        """Images per label, every label of the set included (0 when none has it)."""
        rows = self._query(
            f"SELECT l.name, COUNT(i.content_hash) FROM {U}.set_labels l "
            f"LEFT JOIN {U}.image_labels i ON i.label_id = l.id WHERE l.set_id = ? "
            "GROUP BY l.id ORDER BY l.position",
            (label_set.id,),
        )
        return {str(n): int(c) for n, c in rows}

    def labelled_with_vectors(self, label_set: LabelSet, model_id: str) -> list[tuple[str, str]]:
        """(content hash, label) of the set's labelled images the catalog holds a vector for, by
        hash: what training reads, in a stable order."""
        rows = self._query(
            f"SELECT i.content_hash, l.name FROM {U}.image_labels i "
            f"JOIN {U}.set_labels l ON l.id = i.label_id "
            "JOIN main.vectors v ON v.content_hash = i.content_hash AND v.model_id = ? "
            "WHERE i.set_id = ? ORDER BY i.content_hash",
            (model_id, label_set.id),
        )
        return [(str(h), str(n)) for h, n in rows]
