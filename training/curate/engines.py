"""Where shard-level work runs: in this process (`local`, the default) or on a Ray cluster (`ray`).

The pipeline gives an engine two kinds of work, and nothing else differs between engines:

- `process_shards`: the model stage — workers that each load the ONNX sessions once
  (`ShardProcessor`) and take input shards one at a time, leaving results in the work store;
- `map`: a plain function over a list of tasks (dedupe cells, the split audit, output shards),
  results in task order.

The step functions are the same under both; the engine only decides where they run. Ray is an
optional extra (`pip install 'image-sorter[ray]'`), imported only when `--engine ray` is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import TrainingError
from .shard_worker import ModelSetup, ShardProcessor, ShardTask

T = TypeVar("T")
R = TypeVar("R")
ENGINES = ("local", "ray")


class Engine(Protocol):
    name: str
    workers: int

    def process_shards(
        self,
        setup: ModelSetup,
        work: Path,
        tasks: Sequence[ShardTask],
        on_done: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run the model stage on every task; `on_done` gets each completion record as it arrives."""
        ...

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        """`[fn(t) for t in tasks]`, wherever the engine runs things."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Everything in this process, one shard after another: what `curate` always did."""

    name = "local"
    workers = 1

    def process_shards(
        self,
        setup: ModelSetup,
        work: Path,
        tasks: Sequence[ShardTask],
        on_done: Callable[[dict[str, Any]], None],
    ) -> None:
        if not tasks:
            return
        processor = ShardProcessor(setup, work)
        for task in tasks:
            on_done(processor.process(task))

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        return [fn(task) for task in tasks]

    def describe(self) -> dict[str, Any]:
        return {"engine": "local", "workers": 1}

    def close(self) -> None:
        pass


def make_engine(kind: str, *, address: str | None = None, workers: int | None = None) -> Engine:
    if kind == "local":
        if address is not None or workers is not None:
            raise TrainingError("--address and --workers need --engine ray")
        return LocalEngine()
    if kind == "ray":
        if workers is not None and workers < 1:
            raise TrainingError(f"--workers must be at least 1, got {workers}")
        try:
            from .ray_engine import RayEngine
        except ImportError as exc:
            raise TrainingError(f"--engine ray needs Ray: pip install 'image-sorter[ray]' ({exc})") from exc
        return RayEngine(address=address, workers=workers)
    raise TrainingError(f"unknown engine {kind!r} (expected one of {', '.join(ENGINES)})")
