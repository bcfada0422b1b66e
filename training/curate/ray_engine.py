"""The Ray engine: the model stage on a pool of actors, everything else as Ray tasks.

Each actor loads the ONNX sessions once and takes one shard at a time, so a slow shard never holds
up the others. Actors and tasks ask for fractional CPUs (`ACTOR_CPUS`, `TASK_CPUS`): on a 2-CPU node
two 1-CPU actors leave nothing for anything else, which is how Ray Data pipelines deadlock there.
(This engine does not use Ray Data: shards are the unit of work and plain actors are enough.)

Failures: an actor whose process dies (a node lost, a worker killed) is restarted by Ray and the
shard it was on is retried (`MAX_RESTARTS`); a task is retried the same way. Shard results are
written atomically and keyed by content, so a retried shard overwrites nothing and is never
counted twice (at-least-once execution, idempotent results). A shard that still fails fails the
run with its input named; the shards done so far are kept for the next run.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import ray as _ray
from ray.exceptions import RayActorError, RayTaskError

from ..errors import TrainingError
from .shard_worker import ModelSetup, ShardProcessor, ShardTask

ray: Any = _ray  # Ray's own annotations are partial; its API is used as documented
T = TypeVar("T")
R = TypeVar("R")
ACTOR_CPUS = 0.5
TASK_CPUS = 0.5
MAX_RESTARTS = 3


class RayEngine:
    name = "ray"

    def __init__(self, *, address: str | None, workers: int | None) -> None:
        self._owns = not ray.is_initialized()
        if self._owns:
            options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            if address is None:
                options["include_dashboard"] = False
            try:
                # "local": a new cluster of our own. Without it Ray joins the last cluster anyone
                # started on this machine with `ray start` (or a test's), and fails on its token.
                ray.init(address=address or "local", **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise TrainingError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
        self.address = address
        self.cluster_cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.workers = workers or max(1, int(self.cluster_cpus))

    def process_shards(
        self,
        setup: ModelSetup,
        work: Path,
        tasks: Sequence[ShardTask],
        on_done: Callable[[dict[str, Any]], None],
    ) -> None:
        if not tasks:
            return
        actor_class = ray.remote(
            num_cpus=ACTOR_CPUS, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS
        )(ShardProcessor)
        actors = [
            actor_class.options(scheduling_strategy="SPREAD").remote(setup, work)
            for _ in range(min(self.workers, len(tasks)))
        ]
        pending = deque(tasks)
        running: dict[Any, tuple[Any, ShardTask]] = {}
        try:
            for actor in actors:
                task = pending.popleft()
                running[actor.process.remote(task)] = (actor, task)
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                actor, task = running.pop(ready[0])
                try:
                    record = ray.get(ready[0])
                except (RayActorError, RayTaskError) as exc:
                    items = task.items
                    where = f"{items[0].path} … {items[-1].path}" if items else "no items"
                    raise TrainingError(f"shard {task.index} ({where}) failed on Ray: {exc}") from exc
                on_done(record)
                if pending:
                    task = pending.popleft()
                    running[actor.process.remote(task)] = (actor, task)
        finally:
            for actor in actors:
                ray.kill(actor)

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        remote = ray.remote(num_cpus=TASK_CPUS, max_retries=MAX_RESTARTS)(fn)
        results: list[Any] = [None] * len(tasks)
        running: dict[Any, int] = {}
        upcoming = 0
        while upcoming < len(tasks) or running:
            while upcoming < len(tasks) and len(running) < self.workers:
                running[remote.remote(tasks[upcoming])] = upcoming
                upcoming += 1
            ready, _ = ray.wait(list(running), num_returns=1)
            index = running.pop(ready[0])
            try:
                results[index] = ray.get(ready[0])
            except RayTaskError as exc:
                raise TrainingError(f"{getattr(fn, '__name__', fn)} failed on Ray: {exc}") from exc
        return results

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "ray",
            "workers": self.workers,
            "address": self.address,
            "cluster_cpus": self.cluster_cpus,
            "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
        }

    def close(self) -> None:
        if self._owns:
            ray.shutdown()
