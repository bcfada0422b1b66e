from __future__ import annotations

from sorter_app.core.sized_cache import SizedCache


def test_the_least_recently_used_go_first_when_over_the_budget() -> None:
    cache: SizedCache[str, int] = SizedCache(budget=10)
    cache.put("a", 1, 4)
    cache.put("b", 2, 4)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3, 4)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.size == 8 and len(cache) == 2


def test_the_newest_entry_stays_even_over_the_budget_and_a_replaced_one_counts_once() -> None:
    cache: SizedCache[str, int] = SizedCache(budget=10)
    cache.put("a", 1, 4)
    cache.put("big", 2, 50)
    assert list(("a" in cache, "big" in cache)) == [False, True] and cache.size == 50
    cache.put("big", 3, 6)
    assert cache.get("big") == 3 and cache.size == 6
    cache.clear()
    assert len(cache) == 0 and cache.size == 0 and cache.get("big") is None
