"""Every step is reported the same way: how many went in, how many were dropped, why, from which
source, and a sample of up to ten dropped paths spread over the reasons, so a reader can look."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .inputs import Item

SAMPLE_SIZE = 10


@dataclass
class Step:
    name: str
    description: str
    input: int
    dropped: dict[int, str] = field(default_factory=dict)  # item index → reason
    skipped: str | None = None  # why the step did not run
    extra: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)  # this run's tasks (run.json, not the manifest)

    def to_json(self, items: Sequence[Item]) -> dict[str, Any]:
        categories = {i: reason_category(reason) for i, reason in self.dropped.items()}
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "skipped": self.skipped,
            "input": self.input,
            "kept": self.input - len(self.dropped),
            "dropped": len(self.dropped),
            "dropped_by_reason": _counts(categories.values()),
            "dropped_by_source": _counts(items[i].source for i in self.dropped),
            "samples": [{"path": items[i].path, "reason": self.dropped[i]} for i in sample(categories)],
        }
        data.update(self.extra)
        return data

    def summary(self) -> str:
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
        reasons = _counts(reason_category(r) for r in self.dropped.values())
        detail = "; ".join(f"{reason}: {n}" for reason, n in reasons.items())
        kept = self.input - len(self.dropped)
        return f"{self.name}: {self.input} in, {len(self.dropped)} dropped, {kept} kept" + (
            f" ({detail})" if detail else ""
        )


def reason_category(reason: str) -> str:
    """The part of a reason before its details: 'truncated or corrupt image: …' → 'truncated or …'."""
    return reason.split(":", 1)[0].split(" p=", 1)[0]


def sample(categories: dict[int, str], size: int = SAMPLE_SIZE) -> list[int]:
    """Up to `size` indices, round-robin over reasons (commonest first), evenly spaced within each."""
    by_reason: dict[str, list[int]] = {}
    for i in sorted(categories):
        by_reason.setdefault(categories[i], []).append(i)
    order = sorted(by_reason, key=lambda r: (-len(by_reason[r]), r))
    quota = dict.fromkeys(order, 0)
    remaining = min(size, len(categories))
    while remaining:
        for reason in order:
            if remaining and quota[reason] < len(by_reason[reason]):
                quota[reason] += 1
                remaining -= 1
    chosen = []
    for reason in order:
        members, want = by_reason[reason], quota[reason]
        chosen += [members[(k * len(members)) // want] for k in range(want)]
    return chosen


def _counts(values: Any) -> dict[str, int]:
    counter: Counter[str] = Counter(values)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
