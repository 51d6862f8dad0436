"""Batch analysis of many files: one process, every core (``workers``), or a Ray cluster; resumable.

The JSON Lines file is the ledger. Only the driver writes it, one complete line per finished input, so whatever
dies (the driver, a worker, the machine), running the same command again analyses each input exactly once:

- each row carries the input's identity (``source``: resolved path, size, modification time); a file that changed
  since its row was written is analysed again and its old row dropped;
- a failure is a row too (``{"input", "source", "error"}``); ``retry_errors`` drops those rows and runs them again;
- a line torn by a kill is cut off (``repair_jsonl``) and its input analysed again.

Workers load the models once each and share the cores (compute threads = cores / workers). A worker that
dies mid-file (killed, out of memory) is replaced and the file retried; a file that kills ``MAX_ATTEMPTS``
workers gets an error row. Long videos are cut into shards analysed side by side and joined into one row.
"""

from __future__ import annotations

import glob
import json
import math
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emofuse.audio.adapt import VoiceProfile
from emofuse.errors import EmofuseError
from emofuse.fusion import LearnedFusion
from emofuse.media import MEDIA_SUFFIXES
from emofuse.pipeline import Analyzer, AnalyzerConfig, VideoPart, speaker_key
from emofuse.results import atomic_write_text, read_jsonl, repair_jsonl

SHARD_SECONDS = 300.0
"""Length of the shards a long video is cut into for parallel work (only the windows at a cut differ)."""
MAX_ATTEMPTS = 3
"""Tries a file gets when workers die under it (killed, crashed, out of memory) before it gets an error row."""


# ---------------------------------------------------------------- inputs
def collect_inputs(items: Sequence[str], list_file: str | Path | None = None) -> list[Path]:
    """Files from paths, folders (recursively, media suffixes only), glob patterns and a list file (one path per
    line; blank lines and ``#`` comments skipped), in order, each once. A folder or pattern matching nothing
    is an error; a listed file that does not exist stays (its row will say so)."""
    raw = list(items)
    if list_file is not None:
        try:
            lines = Path(list_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise EmofuseError(f"{list_file}: cannot read the list of inputs ({exc.strerror or exc})") from None
        raw += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    files: list[Path] = []
    for item in raw:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
            if not found:
                raise EmofuseError(f"{path}: folder holds no image, audio or video files")
            files += found
        elif not path.exists() and glob.has_magic(item):
            matched = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not matched:
                raise EmofuseError(f"{item}: no file matches this pattern")
            files += matched
        else:
            files.append(path)
    unique: dict[str, Path] = {}
    for path in files:
        unique.setdefault(str(path.resolve()), path)
    return list(unique.values())


@dataclass(frozen=True)
class Job:
    """One input and its identity: the resolved path, size and modification time (a changed file is new work)."""

    input: str
    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> Job:
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:
            size, mtime = -1, -1
        return cls(str(path), str(path.resolve()), size, mtime)

    @property
    def key(self) -> tuple[str, int, int]:
        return self.path, self.size, self.mtime_ns

    def source(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns}

    def error_row(self, message: str) -> dict:
        """The ledger row of a failure (``message`` names the file and the problem)."""
        return {"input": self.input, "error": message, "source": self.source()}


@dataclass(frozen=True)
class Task:
    """A unit of work: a whole file, or the [start, end) seconds of a long video (one of ``parts`` shards)."""

    job: Job
    span: tuple[float, float] | None = None
    parts: int = 1


def shard(job: Job, shard_seconds: float) -> list[Task]:
    """A video longer than 1.5 shards becomes ``shard_seconds`` spans (the last one open-ended); anything else,
    or a file that cannot be read here (its worker will say why), stays whole."""
    from emofuse.media import sniff, video_info

    try:
        duration = video_info(job.input)["duration"] if sniff(job.input) == "video" else 0.0
    except EmofuseError:
        return [Task(job)]
    if shard_seconds <= 0 or duration <= 1.5 * shard_seconds:
        return [Task(job)]
    count = int(duration // shard_seconds)
    spans = [(k * shard_seconds, (k + 1) * shard_seconds if k < count - 1 else math.inf) for k in range(count)]
    return [Task(job, span, count) for span in spans]


def row_key(row: dict) -> tuple[str, int, int] | None:
    """The identity a ledger row was written for (None for rows of other tools or older versions)."""
    source = row.get("source")
    if not isinstance(source, dict) or not {"path", "size", "mtime_ns"} <= source.keys():
        return None
    return str(source["path"]), int(source["size"]), int(source["mtime_ns"])


# ---------------------------------------------------------------- the ledger
def plan(jobs: Sequence[Job], jsonl: str | Path | None, retry_errors: bool = False) -> tuple[list[Job], list[dict]]:
    """The jobs still to run and the rows to keep, after repairing and compacting the ledger.

    Compaction (an atomic rewrite, only when something changes) keeps one row per identity (the last), drops
    rows of inputs that have changed since, and with ``retry_errors`` the error rows.
    """
    if jsonl is None:
        return list(jobs), []
    repair_jsonl(jsonl)
    rows = read_jsonl(jsonl)
    current = {job.path: job.key for job in jobs}
    latest: dict[Any, dict] = {}
    for index, row in enumerate(rows):
        key = row_key(row)
        stale = key is not None and key[0] in current and current[key[0]] != key
        if stale or (retry_errors and "error" in row):
            continue
        latest[key if key is not None else ("row", index)] = row
    kept = list(latest.values())
    if len(kept) != len(rows):
        atomic_write_text(Path(jsonl), "".join(_json_line(row) for row in kept))
    done = {row_key(row) for row in kept}
    return [job for job in jobs if job.key not in done], kept


def _json_line(row: dict) -> str:
    return json.dumps(row, allow_nan=False) + "\n"


# ---------------------------------------------------------------- one file
@dataclass(frozen=True)
class WorkerSpec:
    """What every worker needs to build its analysers (picklable: sent to processes and Ray actors)."""

    config: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    learned_fusion: LearnedFusion | None = None
    profile: VoiceProfile | None = None
    group_profiles: dict[str, VoiceProfile] | None = None  # adaptation "batch": a profile per speaker group
    speaker_from: str | None = None
    face_crop: bool = False
    file_timeout: float | None = None  # seconds one file (or shard) may take; None = no limit
    threads: int | None = None  # compute threads per worker (None: the process's default)

    def analyzer(self) -> Analyzer:
        """An Analyzer with these settings (models load on first use)."""
        return Analyzer(self.config, self.learned_fusion, profile=self.profile)

    def build(self) -> FileAnalyzer:
        if self.threads:
            limit_threads(self.threads)
        return FileAnalyzer(self)


THREAD_VARIABLES = ("EMOFUSE_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""onnxruntime's (ours) and the numeric libraries' thread counts: set before a worker starts, so that N workers
use the cores once (each library would otherwise start a thread per core in every worker)."""


def limit_threads(threads: int) -> None:
    """Cap this process's compute threads (environment for libraries yet to start; OpenCV directly)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import cv2

    cv2.setNumThreads(threads)


@contextmanager
def worker_environment(threads: int) -> Iterator[None]:
    """The thread caps in the environment that spawned workers inherit; the driver's own is restored after."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class FileAnalyzer:
    """Turns a Job into a ledger row (a result or an error); never raises for a bad file."""

    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.analyzer = spec.analyzer()
        self._by_group: dict[str, Analyzer] = {}

    def _analyzer_for(self, job: Job) -> Analyzer:
        profiles = self.spec.group_profiles
        if not profiles:
            return self.analyzer
        group = speaker_key(job.input, self.spec.speaker_from)
        if group not in profiles:
            return self.analyzer
        if group not in self._by_group:
            base = self.analyzer
            self._by_group[group] = Analyzer(base.config, base.learned_fusion, base.speech, base.face, profiles[group])
        return self._by_group[group]

    def __call__(self, task: Task | Job, progress: Callable[[float, float], None] | None = None) -> dict | VideoPart:
        """The row of a whole file, or the VideoPart of a shard; an error row if anything fails."""
        task = task if isinstance(task, Task) else Task(task)
        job = task.job
        try:
            with time_budget(self.spec.file_timeout):
                analyzer = self._analyzer_for(job)
                if task.span is not None:
                    return analyzer.analyze_video_span(job.input, *task.span)
                result = analyzer.analyze(job.input, face_crop=self.spec.face_crop, progress=progress)
        except FileTimeout:
            limit = self.spec.file_timeout
            return job.error_row(f"{job.input}: took longer than {limit:g} s (the per-file time limit)")
        except EmofuseError as exc:
            return job.error_row(str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            return job.error_row(f"{job.input}: unexpected {type(exc).__name__}: {exc}")
        return {**result.to_dict(), "source": job.source()}


class ShardJoiner:
    """Collects the shards of long videos as they finish and joins each video's into its row."""

    def __init__(self, spec: WorkerSpec):
        self.analyzer = spec.analyzer()  # joining loads no model
        self.parts: dict[Job, list[VideoPart]] = {}
        self.failed: set[Job] = set()

    def take(self, task: Task, output: dict | VideoPart) -> dict | None:
        """The row of ``task``'s file once it is complete (None while shards are missing, or after a shard
        of the file already failed: its error row was given then)."""
        job = task.job
        if isinstance(output, dict):
            if job in self.failed:
                return None
            if task.span is not None:
                self.failed.add(job)
                self.parts.pop(job, None)
            return output
        if job in self.failed:
            return None
        parts = self.parts.setdefault(job, [])
        parts.append(output)
        if len(parts) < task.parts:
            return None
        del self.parts[job]
        try:
            return {**self.analyzer.join_video(job.input, parts).to_dict(), "source": job.source()}
        except EmofuseError as exc:
            return job.error_row(str(exc))


class FileTimeout(Exception):
    """A file exceeded the per-file time budget."""


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM: main thread on POSIX; elsewhere no limit)."""
    usable = seconds and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise FileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- runners
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
    _worker = spec.build()


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


# ---------------------------------------------------------------- the driver
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
