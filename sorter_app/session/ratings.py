"""Star ratings and rejects as undo steps (Ctrl+1…5, Ctrl+0, "Reject"), shown in every view at once.

A rating is written in a serial job that reads the images' ratings before it, so Undo puts back
exactly what each image had. The session's items take the new ratings in place — every copy of a
rated content, as the store keeps them by content — rather than the folder being read again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..core.library import Library
from ..core.ratings import REJECTED, UNRATED, check_rating, rating_text, ratings, set_ratings
from .events import Changes
from .history import RatingStep
from .serial_writes import SerialWrites
from .wording import plural

if TYPE_CHECKING:
    from .session import Session


def step_text(rating: int, n: int) -> str:
    """What the Edit menu says after "Undo ": "Rate 3 Images ★★★", "Reject 1 Image"…"""
    images = plural(n, "Image")
    if rating == REJECTED:
        return f"Reject {images}"
    return f"Rate {images} {rating_text(rating)}" if rating != UNRATED else f"Clear Rating of {images}"


def done_text(rating: int, n: int) -> str:
    """The status line's "Rated 3 images ★★★", "Rejected 1 image", "Cleared the rating of 2 images"."""
    images = plural(n, "image")
    if rating == REJECTED:
        return f"Rejected {images}"
    return f"Rated {images} {rating_text(rating)}" if rating != UNRATED else f"Cleared the rating of {images}"


class Ratings:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._writes = SerialWrites(session, "rate")

    def rate(self, paths: Iterable[str], rating: int) -> None:
        """Give the images (absolute paths) `rating`: 1–5 stars, REJECTED, or UNRATED to clear it."""
        check_rating(rating)
        items = [item for p in paths if (item := self.s.items.get(self.s.relpath(p)))]
        hashes = sorted({h for item in items if (h := item.content_hash)})
        if not hashes:
            return
        text = step_text(rating, len(items))

        def call(lib: Library, progress: object, cancelled: object) -> RatingStep:
            before = ratings(lib.catalog, hashes)
            after = dict.fromkeys(hashes, rating)
            set_ratings(lib.catalog, after)
            return RatingStep(text, {h: before.get(h, UNRATED) for h in hashes}, after)

        def done(step: RatingStep) -> None:
            self.s.groups.history.push(step)
            self._show(step.after, f"{done_text(rating, len(items))}; Undo (Ctrl+Z) takes it back")

        self._writes.write(call, done, text)

    def undo(self, step: RatingStep) -> None:
        self._replay(step, undo=True)

    def redo(self, step: RatingStep) -> None:
        self._replay(step, undo=False)

    def _replay(self, step: RatingStep, *, undo: bool) -> None:
        states = step.before if undo else step.after

        def call(lib: Library, progress: object, cancelled: object) -> None:
            set_ratings(lib.catalog, states)

        def done(_: None) -> None:
            history = self.s.groups.history
            (history.undone if undo else history.redone)(step)
            self._show(states, f"{'Undone' if undo else 'Redone'}: {step.text}")

        self._writes.replay(call, done, step.text)

    def _show(self, states: dict[str, int], message: str) -> None:
        """Every item of a rated content takes its rating (copies too: it is kept by content)."""
        items = self.s.items
        for relpath, item in items.items():
            if item.content_hash in states and item.rating != states[item.content_hash]:
                items[relpath] = replace(item, rating=states[item.content_hash])
        self.s.emit(Changes(items=True, history=True))
        self.s.message.emit(message)
