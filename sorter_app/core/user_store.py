"""The user's own words, in `user.sqlite`: what indexing can never rebuild.

`catalog.sqlite` is a cache of what the folders and the model say; it can be thrown away and
rebuilt by indexing again. What the user said — corrections today, and every other choice a person
makes that must outlive a session — is kept apart in this small file, attached to the catalog's
connection as the schema `user` (see `Catalog`). Its tables are keyed by content hash, never by
path, so choices follow moved and copied files.

A table the user's choices need is a new step at the end of `USER_SCHEMA_STEPS`; a shipped step
never changes. Statements name their tables with the `user.` schema.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .errors import SorterError

USER_SCHEMA = "user"


class NewerFileError(SorterError, RuntimeError):
    """A data file written by a newer Image Sorter: refused untouched, with what to do about it."""


USER_SCHEMA_STEPS: tuple[tuple[str, ...], ...] = (
    (  # 1: what the user says an image shows, for any model (moved here from catalog schema 2)
        f"""CREATE TABLE {USER_SCHEMA}.corrections (
            content_hash TEXT NOT NULL,
            head TEXT NOT NULL,
            label TEXT NOT NULL,
            corrected_at REAL NOT NULL,
            PRIMARY KEY (content_hash, head)
        )""",
    ),
    (  # 2: label sets of the user's own (label_store.py): their labels, and which image has which
        f"""CREATE TABLE {USER_SCHEMA}.label_sets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        )""",
        f"""CREATE TABLE {USER_SCHEMA}.set_labels (
            id INTEGER PRIMARY KEY,
            set_id INTEGER NOT NULL REFERENCES label_sets(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            UNIQUE (set_id, name),
            UNIQUE (set_id, id)
        )""",
        f"""CREATE TABLE {USER_SCHEMA}.image_labels (
            set_id INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            label_id INTEGER NOT NULL,
            labelled_at REAL NOT NULL,
            PRIMARY KEY (set_id, content_hash),
            FOREIGN KEY (set_id, label_id) REFERENCES set_labels(set_id, id) ON DELETE CASCADE
        )""",
        f"CREATE INDEX {USER_SCHEMA}.image_labels_by_label ON image_labels (label_id)",
    ),
    (  # 3: the window's decisions about groups (user_choices.py), by content so they follow moves
        f"""CREATE TABLE {USER_SCHEMA}.keep_choices (
            content_hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            chosen_at REAL NOT NULL
        )""",
        f"""CREATE TABLE {USER_SCHEMA}.not_duplicates (
            hashes TEXT PRIMARY KEY,
            decided_at REAL NOT NULL
        )""",
        f"""CREATE TABLE {USER_SCHEMA}.group_names (
            view TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            named_at REAL NOT NULL,
            PRIMARY KEY (view, content_hash)
        )""",
        f"""CREATE TABLE {USER_SCHEMA}.reference_folders (
            path TEXT PRIMARY KEY,
            added_at REAL NOT NULL
        )""",
    ),
    (  # 4: star ratings and rejects (ratings.py); an unrated image has no row
        f"""CREATE TABLE {USER_SCHEMA}.ratings (
            content_hash TEXT PRIMARY KEY,
            rating INTEGER NOT NULL CHECK (rating BETWEEN -1 AND 5 AND rating != 0),
            rated_at REAL NOT NULL
        )""",
    ),
)
USER_SCHEMA_VERSION = len(USER_SCHEMA_STEPS)


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute(f"PRAGMA {USER_SCHEMA}.user_version").fetchone()[0])


def migrate_user_store(db: sqlite3.Connection, path: Path) -> None:
    """Bring the attached user file up to USER_SCHEMA_VERSION in place, all or nothing.

    Taken under the write lock before the version is read, as the catalog's own migration is, so
    two programs opening an old file at once upgrade it once. A file whose tables do not match its
    version (a step's tables there before the step, or missing after it: a copy pieced together,
    a development build) gets whatever is missing; tables it has are kept with their rows. Before,
    such a file ended every job with "table … already exists" or "no such table".
    """
    if user_version(db) == USER_SCHEMA_VERSION and not _missing(db):
        return
    with db:
        db.execute("BEGIN IMMEDIATE")
        version = user_version(db)
        if version > USER_SCHEMA_VERSION:
            raise NewerFileError(
                f"{path} was written by a newer Image Sorter (schema {version}); "
                "update the app or choose another data folder"
            )
        missing = _missing(db)
        for step in USER_SCHEMA_STEPS:
            for statement in step:
                if _created(statement) in missing:
                    db.execute(statement)
        db.execute(f"PRAGMA {USER_SCHEMA}.user_version = {USER_SCHEMA_VERSION}")


_CREATED = re.compile(rf"CREATE (?:TABLE|INDEX) {USER_SCHEMA}\.(\w+)")


def _created(statement: str) -> str:
    """The table or index a step's statement creates."""
    found = _CREATED.match(statement)
    assert found is not None, f"a user schema step must create a {USER_SCHEMA}. table or index"
    return found.group(1)


def _missing(db: sqlite3.Connection) -> set[str]:
    """The steps' tables and indexes the file does not have."""
    present = {name for (name,) in db.execute(f"SELECT name FROM {USER_SCHEMA}.sqlite_master")}
    return {_created(statement) for step in USER_SCHEMA_STEPS for statement in step} - present
