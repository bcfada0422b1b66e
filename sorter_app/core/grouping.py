"""The groups a window shows and the user edits before anything moves: duplicates, clusters,
outliers, seed groups.

Core results are suggestions; what moves is what the user made of them. Every edit keeps one rule —
each image is in at most one group and none goes missing — so a move plan built from the groups never
lists a file twice and never forgets one the user did not take out. Paths are relpaths inside the
folder, '/'-separated, as the catalog stores them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .clusters import Clustering
from .duplicates import DuplicateGroup, SimilarGroup
from .keeper import in_folders
from .kinds import AnalysisKind
from .outliers import Outlier
from .plan import name_key
from .seed_groups import SeedGroup

DUPLICATES = AnalysisKind.DUPLICATES
CLUSTERS = AnalysisKind.CLUSTERS
OUTLIERS = AnalysisKind.OUTLIERS
SEED_GROUPS = AnalysisKind.SEED_GROUPS
UNSORTED = "unsorted"
CHOSEN_BY_YOU = "chosen by you"  # the end of a duplicate group's note when the user picked the keeper
# Duplicate tiers that are only look-alikes: shown to decide on, never offered to the trash.
NOT_FOR_TRASH = frozenset({"similar"})

# A folder holds a few strays, not a fixed number: 2 % scales the list with the folder, and the floor
# of 10 still fills a row of thumbnails in a small folder, where 2 % would be one or two images.
OUTLIER_SHARE = 0.02
MIN_OUTLIERS = 10


@dataclass
class Group:
    key: str  # stable id ("cluster-3"): survives renames, so a view can keep its selection
    name: str  # the folder the group's images go to
    paths: list[str]
    ticked: bool = False
    note: str = ""  # why the group is what it is, e.g. why `keep` was chosen
    keep: str | None = None  # duplicates: the copy that stays; the others go to the trash
    tier: str = ""  # duplicates: "exact", "near" (or "similar": never trashed)
    scores: dict[str, float] = field(default_factory=dict)  # per image: similarity, outlier score
    computed_name: str = ""  # the name the analysis gave it ("" = `name`): a rename differs from it

    def __post_init__(self) -> None:
        if not self.computed_name:
            self.computed_name = self.name

    @property
    def renamed(self) -> bool:
        return self.name != self.computed_name

    def keep_chosen(self, path: str) -> None:
        """The user chose `path` as the copy that stays (now, or in a stored choice applied again):
        the group says so, and is named after it unless the user named the group."""
        self.keep = path
        self.note = f"keep {PurePosixPath(path).name}: {CHOSEN_BY_YOU}"
        if not self.renamed:
            self.name = self.computed_name = duplicates_name(path)

    def copy(self) -> Group:
        """An independent copy: its lists are new objects (edits change groups in place)."""
        return Group(
            self.key,
            self.name,
            list(self.paths),
            self.ticked,
            self.note,
            self.keep,
            self.tier,
            dict(self.scores),
            self.computed_name,
        )


@dataclass
class Grouping:
    kind: str
    groups: list[Group]
    hidden: list[Group] = field(default_factory=list)  # dismissed ("not duplicates"): kept for undo

    def copy(self) -> Grouping:
        """An independent copy (what an undo step keeps): groups and their lists are new objects."""
        return Grouping(self.kind, [g.copy() for g in self.groups], [g.copy() for g in self.hidden])

    def dismiss(self, index: int) -> None:
        """The user says the group is not what the analysis thought ("not duplicates"): it leaves
        the view for good (the session remembers it by content)."""
        self.hidden.append(self.groups.pop(index))

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for group in self.groups:
            if not group.paths:
                raise ValueError(f"group {group.name!r} is empty")
            if seen & set(group.paths) or len(set(group.paths)) < len(group.paths):
                raise ValueError(f"group {group.name!r} repeats an image held elsewhere")
            if group.keep is not None and group.keep not in group.paths:
                raise ValueError(f"group {group.name!r} keeps {group.keep!r}, which it does not hold")
            seen.update(group.paths)
        if len({g.key for g in self.groups}) < len(self.groups):
            raise ValueError("two groups share a key")

    def merge(self, indices: Sequence[int]) -> int:
        """Unite groups into the first of `indices` (its name, place and keep); returns its new index."""
        if len(set(indices)) < 2 or len(set(indices)) < len(indices):
            raise ValueError("merging needs two or more different groups")
        missing = [i for i in indices if not 0 <= i < len(self.groups)]
        if missing:
            raise IndexError(f"no group {missing[0]}")
        first = self.groups[indices[0]]
        for i in indices[1:]:
            first.paths.extend(self.groups[i].paths)
        for i in sorted(indices[1:], reverse=True):
            del self.groups[i]
        return indices[0] - sum(1 for i in indices[1:] if i < indices[0])

    def split(self, index: int, paths: Iterable[str]) -> int:
        """Move `paths` into a new group right after this one; returns the new group's index."""
        group = self.groups[index]
        chosen = set(paths)
        if not chosen <= set(group.paths):
            raise ValueError(f"not in group {group.name!r}: {sorted(chosen - set(group.paths))[0]}")
        taken = [p for p in group.paths if p in chosen]
        staying = [p for p in group.paths if p not in chosen]
        if not taken or not staying:
            raise ValueError("a split must take out some of the group's images, not none or all")
        if self.kind == DUPLICATES and min(len(taken), len(staying)) < 2:
            raise ValueError(
                "each side of a split duplicate group needs two copies; drop a lone image instead"
            )
        new = Group(
            self._unused_key(f"{group.key}-split"),
            f"{group.name} (split)",
            taken,
            tier=group.tier,
            scores={p: group.scores[p] for p in taken if p in group.scores},
        )
        group.paths = staying
        if group.keep is not None:
            new.keep, new.note = group.keep, group.note
            _keep_first_if_gone(group)
            _keep_first_if_gone(new)
        self.groups.insert(index + 1, new)
        return index + 1

    def rename(self, index: int, name: str) -> None:
        if not name.strip():
            raise ValueError("a group needs a name: it becomes a folder")
        self.groups[index].name = name.strip()

    def drop(self, index: int, path: str) -> None:
        """Take one image out of a group; a group left empty, or a lone "duplicate", goes too."""
        group = self.groups[index]
        if path not in group.paths:
            raise ValueError(f"not in group {group.name!r}: {path}")
        group.paths.remove(path)
        if not group.paths or (self.kind == DUPLICATES and len(group.paths) < 2):
            del self.groups[index]
        elif group.keep is not None:
            _keep_first_if_gone(group)

    def tick(self, index: int, ticked: bool) -> None:
        self.groups[index].ticked = ticked

    def set_keep(self, index: int, path: str) -> None:
        """The user's choice of the copy that stays, over the suggested one (duplicates only)."""
        group = self.groups[index]
        if group.keep is None:
            raise ValueError(f"group {group.name!r} has no copy to keep: it is not a duplicate group")
        if path not in group.paths:
            raise ValueError(f"not in group {group.name!r}: {path}")
        group.keep_chosen(path)

    def _unused_key(self, base: str) -> str:
        keys = {g.key for g in self.groups}
        key, n = base, 1
        while key in keys:
            n += 1
            key = f"{base}-{n}"
        return key


def _keep_first_if_gone(group: Group) -> None:
    """The suggested copy left the group: keep its first image instead, and say so."""
    if group.keep not in group.paths:
        group.keep = group.paths[0]
        group.note = f"keep {PurePosixPath(group.keep).name}: the suggested copy was taken out"


def _distinct_names(kind: str, groups: list[Group]) -> Grouping:
    """Two groups whose names a case-insensitive file system confuses would share a folder:
    the later ones become "beach 2", "beach 3", as clusters.py names its clusters."""
    uses: dict[str, int] = {}
    for group in groups:
        key = name_key(group.name)
        uses[key] = uses.get(key, 0) + 1
        if uses[key] > 1:
            group.name = f"{group.name} {uses[key]}"
    return Grouping(kind, groups)


def from_clustering(clustering: Clustering) -> Grouping:
    groups = [Group(f"cluster-{c.id}", c.label, list(c.paths)) for c in clustering.clusters]
    if clustering.unsorted:
        note = "in no cluster large enough for a folder of its own"
        groups.append(Group(UNSORTED, UNSORTED, list(clustering.unsorted), note=note))
    return _distinct_names(CLUSTERS, groups)


def duplicates_name(keep: str) -> str:
    return f"duplicates of {PurePosixPath(keep).name}"


def from_duplicates(duplicates: list[DuplicateGroup], similar: Sequence[SimilarGroup] = ()) -> Grouping:
    """Exact and near groups, each with its copy to keep, then the look-alike ("similar") groups
    apart: no copy kept, never offered to the trash. An image already in a duplicate group leaves
    the look-alikes (an image is in one group at most); a look-alike group left with one is dropped.
    """
    groups = [
        Group(
            f"duplicates-{i}",
            duplicates_name(d.keep),
            list(d.paths),
            note=d.why,
            keep=d.keep,
            tier=d.tier,
        )
        for i, d in enumerate(duplicates, start=1)
    ]
    taken = {p for d in duplicates for p in d.paths}
    for i, s in enumerate(similar, start=1):
        paths = [p for p in s.paths if p not in taken]
        if len(paths) >= 2:
            note = f"alike (similarity up to {s.similarity:.2f}) but not the same picture: nothing is trashed"
            name = f"look-alikes of {PurePosixPath(paths[0]).name}"
            groups.append(Group(f"similar-{i}", name, paths, note=note, tier="similar"))
    return _distinct_names(DUPLICATES, groups)


def from_outliers(outliers: list[Outlier], limit: int | None = None) -> Grouping:
    """One group of the `limit` most unusual images (default: 2 % of the folder, at least 10).

    `outliers` is find_outliers' ranking of the whole folder, most unusual first; images that score
    0 stand out from nothing (a folder of copies of one picture) and are left out.
    """
    if limit is None:
        limit = default_outlier_count(len(outliers))
    chosen = [o for o in outliers[:limit] if o.score > 0]
    if not chosen:
        return Grouping(OUTLIERS, [])
    note = f"the {len(chosen)} most unusual of {len(outliers)} images"
    scores = {o.path: o.score for o in chosen}
    return Grouping(OUTLIERS, [Group(OUTLIERS, OUTLIERS, [o.path for o in chosen], note=note, scores=scores)])


def default_outlier_count(images: int) -> int:
    return max(MIN_OUTLIERS, math.ceil(OUTLIER_SHARE * images))


def from_seed_groups(seed_groups: list[SeedGroup]) -> Grouping:
    groups = [
        Group(f"seed-{i}", PurePosixPath(s.seed).stem, list(s.paths), note=f"images most like {s.seed}")
        for i, s in enumerate(seed_groups, start=1)
    ]
    return _distinct_names(SEED_GROUPS, groups)


def to_plan_groups(
    grouping: Grouping, root: Path, references: Sequence[str] = ()
) -> list[tuple[str, list[Path]]]:
    """What make_plan takes: the ticked groups' absolute paths; for duplicates, every copy but `keep`
    (the copies that go to the trash) and but those in a reference folder (relpaths) — and never a
    group of mere look-alikes."""
    planned = []
    for group in grouping.groups:
        if grouping.kind == DUPLICATES and group.tier in NOT_FOR_TRASH:
            continue
        spared = [p for p in group.paths if in_folders(p, references)] if grouping.kind == DUPLICATES else []
        sources = [root / p for p in group.paths if p != group.keep and p not in spared]
        if group.ticked and sources:
            planned.append((group.name, sources))
    return planned


def group_of(grouping: Grouping) -> dict[str, str]:
    """relpath → the name of its group, for images that are in one."""
    return {path: group.name for group in grouping.groups for path in group.paths}
