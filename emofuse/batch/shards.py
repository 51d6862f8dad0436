"""Long videos cut into shards analysed side by side, and joined back into one row."""

from __future__ import annotations

import math

from emofuse.batch.inputs import Job, Task
from emofuse.batch.worker import WorkerSpec
from emofuse.errors import EmofuseError
from emofuse.pipeline import VideoPart

SHARD_SECONDS = 300.0
"""Length of the shards a long video is cut into for parallel work (only the windows at a cut differ)."""
MIN_BYTES_PER_SECOND = 100
"""No video stores a second in fewer bytes (a still picture with no sound comes near): a plan never has more
shards than the file's size can hold, whatever its header or its packets say. Too low a bound costs only
parallelism, never a result."""


def shard(job: Job, shard_seconds: float) -> list[Task]:
    """A video longer than 1.5 shards becomes ``shard_seconds`` spans (the last one open-ended); anything else,
    or a file that cannot be read here (its worker will say why), stays whole.

    The length is what the file can prove, not what its header claims: the end of its last packet (read without
    decoding), and at most what its size can hold; the plan is bounded in time and memory whatever it declares.
    """
    from emofuse.media import media_end, sniff, video_info

    try:
        if shard_seconds <= 0 or sniff(job.input) != "video":
            return [Task(job)]
        if video_info(job.input)["duration"] <= 1.5 * shard_seconds:  # the cheap claim settles short files
            return [Task(job)]
        duration = min(media_end(job.input), max(job.size, 0) / MIN_BYTES_PER_SECOND)
    except EmofuseError:
        return [Task(job)]
    if duration <= 1.5 * shard_seconds:
        return [Task(job)]
    count = int(duration // shard_seconds)
    spans = [(k * shard_seconds, (k + 1) * shard_seconds if k < count - 1 else math.inf) for k in range(count)]
    return [Task(job, span, count) for span in spans]


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
