"""The user's decisions about groups, kept in `user.sqlite` so they outlive the session.

- **Keep choices**: "of these duplicates, keep this one". Stored by the kept file's content hash,
  plus its file name to tell byte-identical copies apart; choosing again in a group replaces
  the choices of every other copy in it.
- **Not duplicates**: a group the user dismissed, stored as its set of content hashes; a group is
  hidden while all its contents lie within one dismissed set (a new copy arriving shows it again).
- **Group names**: each member's content hash remembers the name the user gave its group, per
  view; a group found again takes the name most of its members carry (see `majority_name`), so a
  renamed "Bamboo forest" survives re-clustering even when membership shifts a little.
- **Reference folders**: absolute folders whose files are the originals: always kept.

Keyed by content, never by path, so all of it follows moved and renamed files. Every write goes
through `Catalog.user_transaction`, which keeps user.sqlite's verified backup up to date.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from .catalog import Catalog
from .user_store import USER_SCHEMA

_CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


# keep choices -------------------------------------------------------------------------------------


def keep_choices(catalog: Catalog, hashes: Iterable[str]) -> dict[str, tuple[str, float]]:
    """{content hash: (file name, when)} for those of `hashes` the user chose to keep."""
    found: dict[str, tuple[str, float]] = {}
    with catalog.transaction() as db:
        for chunk in _chunks(sorted(set(hashes))):
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT content_hash, name, chosen_at FROM {USER_SCHEMA}.keep_choices "
                f"WHERE content_hash IN ({marks})"
            )
            for content_hash, name, when in db.execute(query, chunk):
                found[content_hash] = (str(name), float(when))
    return found


def set_keep(catalog: Catalog, group_hashes: Iterable[str], kept_hash: str | None, name: str = "") -> None:
    """The user keeps the copy with `kept_hash` (named `name`) in the group of `group_hashes`;
    None forgets the group's choice, so the suggestion stands again."""
    others = sorted(set(group_hashes) | ({kept_hash} if kept_hash else set()))
    with catalog.user_transaction() as db:
        db.executemany(
            f"DELETE FROM {USER_SCHEMA}.keep_choices WHERE content_hash = ?", ((h,) for h in others)
        )
        if kept_hash is not None:
            db.execute(
                f"INSERT INTO {USER_SCHEMA}.keep_choices (content_hash, name, chosen_at) VALUES (?, ?, ?)",
                (kept_hash, name, time.time()),
            )


# not duplicates -------------------------------------------------------------------------------------


def _key(hashes: Iterable[str]) -> str:
    return " ".join(sorted(set(hashes)))


def dismissed(catalog: Catalog) -> list[frozenset[str]]:
    """Every set of contents the user said are not duplicates of each other."""
    with catalog.transaction() as db:
        rows = db.execute(f"SELECT hashes FROM {USER_SCHEMA}.not_duplicates").fetchall()
    return [frozenset(str(r[0]).split()) for r in rows]


def set_dismissed(catalog: Catalog, hashes: Iterable[str], dismissed_: bool) -> None:
    key = _key(hashes)
    with catalog.user_transaction() as db:
        if dismissed_:
            db.execute(
                f"INSERT OR REPLACE INTO {USER_SCHEMA}.not_duplicates (hashes, decided_at) VALUES (?, ?)",
                (key, time.time()),
            )
        else:
            db.execute(f"DELETE FROM {USER_SCHEMA}.not_duplicates WHERE hashes = ?", (key,))


def is_dismissed(hashes: Iterable[str], decisions: Sequence[frozenset[str]]) -> bool:
    contents = set(hashes)
    return bool(contents) and any(contents <= decided for decided in decisions)


# group names ---------------------------------------------------------------------------------------


def group_names(catalog: Catalog, view: str, hashes: Iterable[str]) -> dict[str, str]:
    """{content hash: the name the user gave its group in `view`}."""
    found: dict[str, str] = {}
    with catalog.transaction() as db:
        for chunk in _chunks(sorted(set(hashes))):
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT content_hash, name FROM {USER_SCHEMA}.group_names "
                f"WHERE view = ? AND content_hash IN ({marks})"
            )
            found.update((str(h), str(n)) for h, n in db.execute(query, [view, *chunk]))
    return found


def set_group_name(catalog: Catalog, view: str, hashes: Iterable[str], name: str | None) -> None:
    """Remember `name` for the group of these contents; None forgets it (the computed name returns)."""
    rows = sorted(set(hashes))
    now = time.time()
    with catalog.user_transaction() as db:
        if name is None:
            db.executemany(
                f"DELETE FROM {USER_SCHEMA}.group_names WHERE view = ? AND content_hash = ?",
                ((view, h) for h in rows),
            )
        else:
            db.executemany(
                f"INSERT OR REPLACE INTO {USER_SCHEMA}.group_names (view, content_hash, name, named_at) "
                "VALUES (?, ?, ?, ?)",
                ((view, h, name, now) for h in rows),
            )


def majority_name(member_hashes: Sequence[str], names: Mapping[str, str]) -> str | None:
    """The name more than half of a group's contents carry, if one does."""
    counts = Counter(names[h] for h in set(member_hashes) if h in names)
    if not counts:
        return None
    name, count = counts.most_common(1)[0]
    return name if count * 2 > len(set(member_hashes)) else None


# reference folders ---------------------------------------------------------------------------------


def reference_folders(catalog: Catalog) -> list[str]:
    with catalog.transaction() as db:
        rows = db.execute(f"SELECT path FROM {USER_SCHEMA}.reference_folders ORDER BY path").fetchall()
    return [str(r[0]) for r in rows]


def set_reference_folder(catalog: Catalog, path: str, reference: bool) -> None:
    with catalog.user_transaction() as db:
        if reference:
            db.execute(
                f"INSERT OR IGNORE INTO {USER_SCHEMA}.reference_folders (path, added_at) VALUES (?, ?)",
                (path, time.time()),
            )
        else:
            db.execute(f"DELETE FROM {USER_SCHEMA}.reference_folders WHERE path = ?", (path,))
