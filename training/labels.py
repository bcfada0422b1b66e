"""The label vocabularies, defined once: curated shards store indices into these tuples.

`sorter-train curate` writes `scene` and `room` as int8 indices (−1 = unknown / none), and the
train, evaluate and export steps read them back and name the model's outputs with the same lists.
Changing the order of either tuple changes the meaning of every shard already written.
"""

from __future__ import annotations

SCENES: tuple[str, ...] = ("indoor", "outdoor")
ROOMS: tuple[str, ...] = ("bathroom", "bedroom", "dining_room", "entrance_hall", "kitchen", "living_room")
# An indoor photo's setting (training/setting_head.py); manifests may carry it in a `setting` column.
SETTINGS: tuple[str, ...] = ("home", "not_a_home")
UNKNOWN = -1  # the index stored for "no label" (room: not one of ROOMS, or not known)

SCENE_INDEX: dict[str, int] = {name: i for i, name in enumerate(SCENES)}
ROOM_INDEX: dict[str, int] = {name: i for i, name in enumerate(ROOMS)}


def scene_index(label: str) -> int:
    """'indoor' → 0, 'outdoor' → 1, '' → −1; anything else is a ValueError."""
    return _index(label, SCENE_INDEX, "scene")


def room_index(label: str) -> int:
    """Index into ROOMS, '' → −1; anything else is a ValueError."""
    return _index(label, ROOM_INDEX, "room")


def _index(label: str, table: dict[str, int], what: str) -> int:
    if not label:
        return UNKNOWN
    try:
        return table[label]
    except KeyError:
        raise ValueError(f"unknown {what} label {label!r} (expected one of {', '.join(table)})") from None
