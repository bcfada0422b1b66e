"""Star ratings and rejects in the real user store: by content, so they follow copies and moves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sorter_app.core.browse import BrowseFilter, BrowseItem, apply_filter, section_of, sort_items
from sorter_app.core.errors import SorterError
from sorter_app.core.library import Library
from sorter_app.core.ratings import REJECTED, rating_name, rating_text, ratings, set_ratings


def _items(library: Library, photos: Path) -> dict[str, BrowseItem]:
    return {item.relpath: item for item in library.browse_items(photos)}


def test_a_rating_is_kept_by_content_and_follows_a_copy_and_a_move(
    colour_lib: Library, colour_photos: Path
) -> None:
    items = _items(colour_lib, colour_photos)
    red, blue = items["red.png"].content_hash, items["blue.png"].content_hash
    assert red and blue and {i.rating for i in items.values()} == {0}
    set_ratings(colour_lib.catalog, {red: 4, blue: REJECTED})
    assert ratings(colour_lib.catalog) == {red: 4, blue: REJECTED}
    assert ratings(colour_lib.catalog, [red, "no such hash"]) == {red: 4}

    shutil.copyfile(colour_photos / "red.png", colour_photos / "red copy.png")
    (colour_photos / "later").mkdir()
    (colour_photos / "blue.png").rename(colour_photos / "later" / "blue.png")
    colour_lib.index(colour_photos)
    items = _items(colour_lib, colour_photos)
    assert [items[p].rating for p in ("red.png", "red copy.png", "later/blue.png")] == [4, 4, -1]

    set_ratings(colour_lib.catalog, {red: 0, blue: 5})  # 0: no rating, and no row
    assert ratings(colour_lib.catalog) == {blue: 5}


@pytest.mark.parametrize("wrong", [6, -2, 2.5, True, "3"])
def test_anything_but_minus_one_to_five_is_refused_and_nothing_is_written(
    colour_lib: Library, colour_photos: Path, wrong: object
) -> None:
    red = _items(colour_lib, colour_photos)["red.png"].content_hash
    assert red is not None
    set_ratings(colour_lib.catalog, {red: 2})
    with pytest.raises(SorterError, match="a rating is 0 to 5 stars, or rejected"):
        set_ratings(colour_lib.catalog, {red: wrong})  # type: ignore[dict-item]
    assert ratings(colour_lib.catalog) == {red: 2}


def _rated(name: str, rating: int) -> BrowseItem:
    return BrowseItem(name, 1, 0, None, name, rating)


def test_filter_sort_and_sections_by_rating() -> None:
    shown = [_rated(n, r) for n, r in (("a", 0), ("b", 3), ("c", 5), ("d", -1), ("e", 1), ("f", 3))]

    def names(rating: int | None) -> str:
        return "".join(i.relpath for i in apply_filter(shown, BrowseFilter(rating=rating)))

    assert [names(r) for r in (None, 3, 1, 0, -1)] == ["abcdef", "bcf", "bcef", "a", "d"]
    by_rating = sort_items(shown, "rating")
    assert "".join(i.relpath for i in by_rating) == "cbfead"  # most stars first, rejected last
    assert [section_of(i, "rating") for i in by_rating] == [
        "★★★★★", "★★★", "★★★", "★", "no rating", "rejected",
    ]  # fmt: skip
    assert [rating_name(r) for r in (-1, 0, 1, 2)] == ["rejected", "no rating", "1 star", "2 stars"]
    assert rating_text(0) == ""
