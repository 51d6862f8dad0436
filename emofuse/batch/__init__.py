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

Modules: ``inputs`` (files, jobs, tasks), ``ledger`` (what is done), ``shards`` (long videos cut and joined),
``worker`` (one task into a row), ``pool`` (this machine's runners), ``ray_cluster`` (Ray), ``driver`` (run_batch).
"""

from emofuse.batch.driver import BatchSummary, run_batch
from emofuse.batch.inputs import Job, Task, collect_inputs
from emofuse.batch.ledger import plan, row_key
from emofuse.batch.pool import MAX_ATTEMPTS, run_pool, run_sequential
from emofuse.batch.ray_cluster import run_ray
from emofuse.batch.shards import SHARD_SECONDS, ShardJoiner, shard
from emofuse.batch.worker import FileAnalyzer, WorkerSpec, limit_threads

__all__ = ["MAX_ATTEMPTS", "SHARD_SECONDS", "BatchSummary", "FileAnalyzer", "Job", "ShardJoiner", "Task",
           "WorkerSpec", "collect_inputs", "limit_threads", "plan", "row_key", "run_batch", "run_pool", "run_ray",
           "run_sequential", "shard"]
