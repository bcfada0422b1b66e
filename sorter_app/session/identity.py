"""Groups keep their identity when files move: paths follow content, nothing is computed again.

After a move, copy, trash or undo nothing about the pictures changed, only where some of them are.
Each member of a group is followed by its content hash to where it is now; a member whose content
left the folder (moved out, trashed) leaves its group. Names, ticks, keep choices and the user's
edits stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..core.grouping import DUPLICATES, Group, Grouping


def follow(
    grouping: Grouping,
    hash_before: Mapping[str, str],
    paths_now: Mapping[str, Sequence[str]],
) -> Grouping:
    """`grouping` with every path rewritten to where its content is now.

    `hash_before`: relpath → content hash before the files moved; `paths_now`: content hash →
    relpaths now. A path still holding its content stays; one that moved takes a new path of the
    same content that did not exist before (a copy left behind is not claimed twice).
    """
    mover = _Follower(hash_before, paths_now)
    groups = [g for g in (mover.follow(group) for group in grouping.groups) if g is not None]
    if grouping.kind == DUPLICATES:
        groups = [g for g in groups if len(g.paths) >= 2]
    hidden = [g for g in (_Follower(hash_before, paths_now).follow(h) for h in grouping.hidden) if g]
    return Grouping(grouping.kind, groups, hidden)


class _Follower:
    def __init__(self, hash_before: Mapping[str, str], paths_now: Mapping[str, Sequence[str]]) -> None:
        self.hash_before = hash_before
        self.paths_now = paths_now
        self.existing_before = set(hash_before)
        self.now = {p for paths in paths_now.values() for p in paths}
        self.claimed: set[str] = set()

    def _where(self, path: str) -> str | None:
        if path in self.now and path not in self.claimed:
            return path
        content = self.hash_before.get(path)
        arrived = [
            p
            for p in self.paths_now.get(content or "", ())
            if p not in self.existing_before and p not in self.claimed
        ]
        # Byte copies arrive together (an undo puts `s1.jpg` and `Backup/copy_of_s1.jpg` back at
        # once): the one of the same name is this file; the first by path was taken before, and a
        # later step then moved or trashed the copy in the member's place (a property test's find).
        name = path.rpartition("/")[2]
        return next((p for p in arrived if p.rpartition("/")[2] == name), arrived[0] if arrived else None)

    def follow(self, group: Group) -> Group | None:
        mapping: dict[str, str] = {}
        for path in group.paths:
            where = self._where(path)
            if where is not None:
                mapping[path] = where
                self.claimed.add(where)
        paths = [mapping[p] for p in group.paths if p in mapping]
        if not paths:
            return None
        keep = mapping.get(group.keep) if group.keep is not None else None
        note = group.note
        if group.keep is not None and keep is None:
            keep, note = paths[0], f"keep {paths[0].rpartition('/')[2]}: the kept copy is gone"
        return Group(
            group.key,
            group.name,
            paths,
            group.ticked,
            note,
            keep,
            group.tier,
            {mapping[p]: s for p, s in group.scores.items() if p in mapping},
            group.computed_name,
        )
