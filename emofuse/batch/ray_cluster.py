"""The runner on a Ray cluster (or a local Ray runtime): one actor per CPU, models loaded once each."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from emofuse.batch.inputs import Task
from emofuse.batch.pool import MAX_ATTEMPTS, Output, worker_died_row
from emofuse.batch.worker import WorkerSpec
from emofuse.errors import EmofuseError
from emofuse.pipeline import VideoPart


class RayWorker:
    """A Ray actor: one worker's models, loaded once, analysing one file per call."""

    def __init__(self, spec: WorkerSpec):
        self.analyse = spec.build()

    def run(self, task: Task) -> dict | VideoPart:
        return self.analyse(task)


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when a ``host:port`` cluster address does not answer (Ray itself retries for
    minutes); ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise EmofuseError(f"cannot start or reach the Ray cluster at {address}: {exc}") from None


def run_ray(tasks: Sequence[Task], spec: WorkerSpec, address: str | None, workers: int | None) -> Iterator[Output]:
    """Outputs as they finish, from Ray actors (one CPU each): a local Ray runtime (``address`` None) or the
    cluster at ``address`` (``auto``, ``host:port``, ``ray://host:10001``).

    The workers need only ``pip install emofuse``: the models ship inside the package. An actor that dies is
    restarted and its file retried by Ray (MAX_ATTEMPTS in all); after that the file gets an error row.
    """
    try:
        import ray
    except ImportError:
        raise EmofuseError("--ray needs Ray: pip install 'emofuse[ray]'") from None
    if not ray.is_initialized():
        _check_reachable(address)
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            options["num_cpus"] = workers or os.cpu_count() or 1
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EmofuseError(f"cannot start or reach {where}: {first_line}") from None
    count = workers or max(1, int(ray.available_resources().get("CPU", 1)))
    actor_class = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_ATTEMPTS - 1)(RayWorker)
    actors = [actor_class.remote(replace(spec, threads=1)) for _ in range(count)]
    pending, idle = deque(tasks), deque(actors * 2)  # two calls queued per actor: no idle gap between files
    in_flight: dict[Any, tuple[Task, Any]] = {}
    while pending or in_flight:
        while pending and idle:
            actor, task = idle.popleft(), pending.popleft()
            in_flight[actor.run.remote(task)] = (task, actor)  # type: ignore[attr-defined]
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        task, actor = in_flight.pop(ready[0])
        idle.append(actor)
        try:
            output = ray.get(ready[0])
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError):
            output = worker_died_row(task.job, MAX_ATTEMPTS)
        yield task, output
