"""The driver: plans the work, runs it on the chosen runner, writes each row to the ledger as it finishes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emofuse.batch.inputs import Job, Task
from emofuse.batch.ledger import plan
from emofuse.batch.pool import Output, run_pool, run_sequential
from emofuse.batch.ray_cluster import run_ray
from emofuse.batch.shards import SHARD_SECONDS, ShardJoiner, shard
from emofuse.batch.worker import WorkerSpec


@dataclass
class BatchSummary:
    """What a batch run did: inputs analysed now, skipped (already in the ledger), failed; time and media time."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    media_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, row: dict) -> None:
        if "error" in row:
            self.failed += 1
        else:
            self.done += 1
            self.media_seconds += float(row.get("duration") or 0.0)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def status(self) -> str:
        """``37/200 files, 2.4 files/s, 310x media time, ETA 1m08s, 1 failed``."""
        finished, todo = self.done + self.failed, self.total - self.skipped
        rate = finished / self.elapsed if self.elapsed > 0 else 0.0
        eta = f", ETA {_clock((todo - finished) / rate)}" if rate > 0 and finished < todo else ""
        speed = f", {self.media_seconds / self.elapsed:.0f}x media time" if self.media_seconds else ""
        return f"{finished}/{todo} files, {rate:.2f} files/s{speed}{eta}, {self.failed} failed"

    def final(self) -> str:
        """``done 190, skipped 10, failed 2 in 1m04s (media 2.3 h)``."""
        return (f"done {self.done}, skipped {self.skipped} (already in the output), failed {self.failed} "
                f"in {_clock(self.elapsed)} (media {self.media_seconds / 3600:.2f} h)")


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 60}m{whole % 60:02d}s"


def run_batch(paths: Sequence[Path], spec: WorkerSpec, jsonl: str | Path | None = None, workers: int = 1,
              ray: str | None = None, use_ray: bool = False, retry_errors: bool = False,
              shard_seconds: float = SHARD_SECONDS,
              on_row: Callable[[dict], None] | None = None,
              file_progress: Callable[[Job], Any] | None = None,
              on_status: Callable[[str], None] | None = None) -> BatchSummary:
    """Analyse ``paths`` (skipping those the ledger ``jsonl`` already holds), appending one row per input as it
    finishes, then calling ``on_row(row)`` and ``on_status(summary.status())``. ``workers`` > 1: that many
    processes; ``use_ray``: Ray actors (a local runtime, or the cluster at ``ray``). With either, videos longer
    than 1.5 x ``shard_seconds`` are analysed in shards side by side and joined into one result (not with
    session adaptation, which reads a recording from its start)."""
    from emofuse.results import append_jsonl

    jobs = [Job.of(path) for path in paths]
    todo, _ = plan(jobs, jsonl, retry_errors)
    summary = BatchSummary(total=len(jobs), skipped=len(jobs) - len(todo))
    parallel = use_ray or workers > 1
    sharding = parallel and shard_seconds > 0 and spec.config.adapt != "session"
    tasks = [task for job in todo for task in (shard(job, shard_seconds) if sharding else [Task(job)])]
    outputs: Iterator[Output]
    if use_ray:
        outputs = run_ray(tasks, spec, ray, workers if workers > 1 else None)
    elif workers > 1 and len(tasks) > 1:
        cores = os.cpu_count() or 1
        threads = spec.threads or max(1, cores // workers)
        outputs = run_pool(tasks, replace(spec, threads=threads), min(workers, len(tasks)))
    else:
        outputs = run_sequential(tasks, spec, file_progress)
    joiner = ShardJoiner(spec)
    for task, output in outputs:
        row = joiner.take(task, output)
        if row is None:
            continue
        if jsonl is not None:
            append_jsonl(row, jsonl)
        summary.add(row)
        if on_row is not None:
            on_row(row)
        if on_status is not None:
            on_status(summary.status())
    return summary
