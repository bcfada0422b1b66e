"""Star ratings and rejects: how good the user says a photo is, as digiKam, Bridge and Lightroom let
people cull a shoot (one to five stars; "rejected" for the ones to throw out).

Kept in `user.sqlite` by content hash, so a rating follows a moved, renamed or copied file and
survives re-indexing; an unrated image has no row. Bridge's convention: a reject is a rating of
its own (−1), below every star, and rating an image again replaces it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from .catalog import Catalog
from .errors import SorterError
from .user_store import USER_SCHEMA

REJECTED = -1
UNRATED = 0
MAX_STARS = 5
_CHUNK = 500


def check_rating(rating: int) -> int:
    """`rating` if it is one: −1 (rejected), 0 (none) or 1–5 stars."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not REJECTED <= rating <= MAX_STARS:
        raise SorterError(f"a rating is 0 to {MAX_STARS} stars, or rejected ({REJECTED}); not {rating!r}")
    return rating


def rating_text(rating: int) -> str:
    """ "★★★", "rejected", or "" for an unrated image."""
    if rating == REJECTED:
        return "rejected"
    return "★" * max(rating, 0)


def with_rating(rating: int, detail: str) -> str:
    """A grid cell's second line: "★★★ · kitchen 97 %", "rejected · similarity 0.91", or the
    detail alone for an unrated image."""
    return " · ".join(filter(None, (rating_text(rating), detail)))


def rating_name(rating: int) -> str:
    """What a menu or a message calls it: "3 stars", "1 star", "rejected", "no rating"."""
    if rating == REJECTED:
        return "rejected"
    if rating == UNRATED:
        return "no rating"
    return f"{rating} star" + ("s" if rating > 1 else "")


def ratings(catalog: Catalog, hashes: Iterable[str] | None = None) -> dict[str, int]:
    """{content hash: rating} of the rated ones among `hashes` (None: every rated image)."""
    query = f"SELECT content_hash, rating FROM {USER_SCHEMA}.ratings"
    with catalog.transaction() as db:
        if hashes is None:
            return {str(h): int(r) for h, r in db.execute(query)}
        wanted = sorted(set(hashes))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = db.execute(f"{query} WHERE content_hash IN ({','.join('?' * len(chunk))})", chunk)
            found.update((str(h), int(r)) for h, r in rows)
        return found


def set_ratings(catalog: Catalog, states: Mapping[str, int]) -> None:
    """Each image's rating becomes `states[hash]` (0: none), in one transaction: a rating, and what
    Undo and Redo of one put back."""
    for rating in states.values():
        check_rating(rating)
    now = time.time()
    with catalog.user_transaction() as db:
        db.executemany(f"DELETE FROM {USER_SCHEMA}.ratings WHERE content_hash = ?", ((h,) for h in states))
        db.executemany(
            f"INSERT INTO {USER_SCHEMA}.ratings (content_hash, rating, rated_at) VALUES (?, ?, ?)",
            ((h, r, now) for h, r in states.items() if r != UNRATED),
        )
