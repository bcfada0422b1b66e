"""The user's stored decisions laid over freshly computed groups, and written back after edits.

Reading runs inside an analysis job (it has the catalog); writing runs as a serial job after each
edit, undo or redo. Both go by content hash (the session's map of relpath → hash), so a name, a
keep choice or a "not duplicates" made before files moved applies after.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from ..core import user_choices as store
from ..core.catalog import Catalog
from ..core.grouping import CHOSEN_BY_YOU, DUPLICATES, Group, Grouping


def hashes_of(group: Group, hash_of: Mapping[str, str]) -> list[str]:
    return [h for p in group.paths if (h := hash_of.get(p))]


def apply_stored(catalog: Catalog, grouping: Grouping, hash_of: Mapping[str, str]) -> Grouping:
    """Names the user gave (by majority of members), and for duplicates the kept copies and the
    dismissed groups, from user.sqlite."""
    every = [h for g in grouping.groups for h in hashes_of(g, hash_of)]
    names = store.group_names(catalog, str(grouping.kind), every)
    for group in grouping.groups:
        name = store.majority_name(hashes_of(group, hash_of), names)
        if name is not None:
            group.name = name
    if grouping.kind != DUPLICATES:
        return grouping
    dismissed = store.dismissed(catalog)
    keeps = store.keep_choices(catalog, every)
    shown: list[Group] = []
    for group in grouping.groups:
        if store.is_dismissed(hashes_of(group, hash_of), dismissed):
            grouping.hidden.append(group)
            continue
        chosen = [(keeps[h][1], p, keeps[h][0]) for p in group.paths if (h := hash_of.get(p)) in keeps]
        if chosen and group.keep is not None:  # look-alike groups keep nothing
            latest = max(when for when, _, _ in chosen)
            candidates = [(p, name) for when, p, name in chosen if when == latest]
            path = next((p for p, name in candidates if PurePosixPath(p).name == name), candidates[0][0])
            group.keep_chosen(path)
        shown.append(group)
    grouping.groups = shown
    return grouping


def write_changes(catalog: Catalog, before: Grouping, after: Grouping, hash_of: Mapping[str, str]) -> None:
    """Store what the user changed between two states of one view: names, keeps, dismissals."""
    view = str(after.kind)
    old = {g.key: g for g in before.groups}
    for group in after.groups:
        previous = old.get(group.key)
        hashes = hashes_of(group, hash_of)
        if previous is None or previous.name != group.name or previous.paths != group.paths:
            store.set_group_name(catalog, view, hashes, group.name if group.renamed else None)
        if after.kind == DUPLICATES and (previous is None or previous.keep != group.keep):
            chosen_by_user = group.note.endswith(CHOSEN_BY_YOU)
            kept = hash_of.get(group.keep or "") if chosen_by_user else None
            store.set_keep(catalog, hashes, kept, PurePosixPath(group.keep or "").name)
    hidden_before = {g.key for g in before.hidden}
    hidden_after = {g.key for g in after.hidden}
    for group in after.hidden:
        if group.key not in hidden_before:
            store.set_dismissed(catalog, hashes_of(group, hash_of), True)
    for group in before.hidden:
        if group.key not in hidden_after:
            store.set_dismissed(catalog, hashes_of(group, hash_of), False)
