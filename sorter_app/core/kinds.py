"""The names that cross every layer: which analysis a view shows, and what a plan does with files.

They were bare strings ("seeds" in the window, "seed groups" in the grouping), so a typo compiled
and failed at run time. `StrEnum` keeps the values the catalog, plan files and CLI already use
("move", "copy", "trash"), so an enum member is accepted wherever the old string was.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class AnalysisKind(StrEnum):
    """A view computed from the folder's vectors; the value is the grouping's kind."""

    DUPLICATES = "duplicates"
    CLUSTERS = "clusters"
    OUTLIERS = "outliers"
    SEED_GROUPS = "seed groups"
    MAP = "map"

    @property
    def is_grouping(self) -> bool:
        """Every analysis but the map gives groups a user edits and acts on."""
        return self is not AnalysisKind.MAP


class MoveMode(StrEnum):
    """What a plan does with each file; the values are plan.py's modes."""

    MOVE = "move"
    COPY = "copy"
    TRASH = "trash"

    @property
    def plan_mode(self) -> Literal["move", "copy", "trash"]:
        """The same value, typed as plan.py's `Mode`."""
        if self is MoveMode.MOVE:
            return "move"
        return "copy" if self is MoveMode.COPY else "trash"


GROUPING_KINDS = tuple(kind for kind in AnalysisKind if kind.is_grouping)
