"""Runners on this machine: in this process, or a pool of worker processes that die with their driver."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from emofuse.batch.inputs import Job, Task
from emofuse.batch.worker import FileAnalyzer, WorkerSpec, worker_environment
from emofuse.pipeline import VideoPart

MAX_ATTEMPTS = 3
"""Tries a file gets when workers die under it (killed, crashed, out of memory) before it gets an error row."""


Output = tuple[Task, "dict | VideoPart"]


def run_sequential(tasks: Sequence[Task], spec: WorkerSpec,
                   file_progress: Callable[[Job], Any] | None = None) -> Iterator[Output]:
    """Outputs in order, in this process. ``file_progress(job)`` may give a context with ``update_to``."""
    analyse = spec.build()
    for task in tasks:
        if file_progress is None:
            yield task, analyse(task)
            continue
        with file_progress(task.job) as bar:
            yield task, analyse(task, bar.update_to)


_worker: FileAnalyzer | None = None


def _init_worker(spec: WorkerSpec) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    watch_parent()
    _worker = spec.build()


PARENT_POLL_SECONDS = 0.5


def watch_parent(poll: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """End this process as soon as its parent dies (a driver killed with -9 leaves no orphaned worker).

    A daemon thread polls the parent's pid: on every platform, at no cost, and a worker busy inside a long file
    still goes within ``poll`` seconds (the thread runs while native code holds the GIL released).
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    thread = threading.Thread(target=watch, name="emofuse-parent-watch", daemon=True)
    thread.start()
    return thread


def _run_in_worker(task: Task) -> dict | VideoPart:
    assert _worker is not None, "worker not initialised"
    return _worker(task)


def run_pool(tasks: Sequence[Task], spec: WorkerSpec, workers: int) -> Iterator[Output]:
    """Outputs as they finish, from ``workers`` processes (spawned: no model or thread state is forked).

    A worker that dies breaks the pool (BrokenProcessPool): a new pool takes over and the files that were in
    flight run again; which of them killed the worker is unknown, so each has MAX_ATTEMPTS tries.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = deque(tasks)
    attempts: Counter[Task] = Counter()
    context = multiprocessing.get_context("spawn")
    with worker_environment(spec.threads or 1):  # workers start (and restart) with capped threads
        while pending:
            pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(spec,))
            in_flight: dict[Future, Task] = {}
            try:
                while pending or in_flight:
                    while pending and len(in_flight) < 2 * workers:
                        task = pending.popleft()
                        in_flight[pool.submit(_run_in_worker, task)] = task
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        output = future.result()
                        yield in_flight.pop(future), output
            except BrokenProcessPool:
                for task in reversed(list(in_flight.values())):
                    attempts[task] += 1
                    if attempts[task] < MAX_ATTEMPTS:
                        pending.appendleft(task)
                    else:
                        yield task, worker_died_row(task.job, attempts[task])
            finally:
                pool.shutdown(wait=False, cancel_futures=True)


def worker_died_row(job: Job, times: int) -> dict:
    return job.error_row(f"{job.input}: the worker analysing it died {times} times (killed, crashed or out of memory)")
