"""One worker: its settings (picklable), thread caps, and the analysis of one task into a row, under a time limit."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from emofuse.audio.adapt import VoiceProfile
from emofuse.batch.inputs import Job, Task
from emofuse.errors import EmofuseError
from emofuse.fusion import LearnedFusion
from emofuse.pipeline import Analyzer, AnalyzerConfig, VideoPart, speaker_key


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
