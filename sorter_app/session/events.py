"""Change notifications without Qt: what the session tells the views after every command.

Modelled on napari's evented models and Anki's `OpChanges`: a command changes the session's
state, then one `Changes` value says *what* changed, so each view redraws only its part. Views
connect plain callables; the Qt layer never needs to poll.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..core.kinds import AnalysisKind

T = TypeVar("T")


class Event(Generic[T]):
    """A list of callbacks, called in the order they connected, on the thread that emits."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[T], None]] = []

    def connect(self, callback: Callable[[T], None]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[[T], None]) -> None:
        self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for callback in list(self._callbacks):
            callback(value)


@dataclass(frozen=True)
class Changes:
    """What one command changed. Views redraw the parts flagged here, nothing else."""

    folder: bool = False  # another folder (or none): every view starts over
    items: bool = False  # the images, their labels or hashes
    filter: bool = False  # what Browse shows and in which order
    groupings: frozenset[AnalysisKind] = field(default_factory=frozenset)  # groups or their edits
    analyses: frozenset[AnalysisKind] = field(default_factory=frozenset)  # an analysis' state line
    history: bool = False  # what Undo / Redo would do
    skipped: bool = False  # the files indexing could not use
    seeds: bool = False  # the seeds or the seed threshold
    indexing: bool = False  # whether the folder is fully indexed (Resume)
    labels: bool = False  # the user's label sets, their counts, model, answers or review queue

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            self.folder or other.folder,
            self.items or other.items,
            self.filter or other.filter,
            self.groupings | other.groupings,
            self.analyses | other.analyses,
            self.history or other.history,
            self.skipped or other.skipped,
            self.seeds or other.seeds,
            self.indexing or other.indexing,
            self.labels or other.labels,
        )


def grouping_changed(*kinds: AnalysisKind) -> Changes:
    return Changes(groupings=frozenset(kinds))


def analysis_changed(*kinds: AnalysisKind) -> Changes:
    return Changes(analyses=frozenset(kinds))
