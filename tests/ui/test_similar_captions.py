"""Similar's captions: copies of one picture in two folders must not look like one image twice."""

from __future__ import annotations

from collections import Counter

from sorter_app.ui.similar_page import _caption


def test_a_name_two_results_share_gets_its_folder() -> None:
    relpaths = ["rooms/places/00000066.jpg", "backup/00000066.jpg", "00000066.jpg", "kitchen.jpg"]
    names = Counter(relpath.rsplit("/", 1)[-1] for relpath in relpaths)
    assert [_caption(r, names) for r in relpaths] == [
        "00000066.jpg · rooms/places",
        "00000066.jpg · backup",
        "00000066.jpg · top folder",
        "kitchen.jpg",
    ]
