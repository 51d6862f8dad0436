"""The JSON Lines ledger: which inputs are done, compacted and repaired before a run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emofuse.batch.inputs import Job
from emofuse.results import atomic_write_text, read_jsonl, repair_jsonl


def row_key(row: dict) -> tuple[str, int, int] | None:
    """The identity a ledger row was written for (None for rows of other tools or older versions)."""
    source = row.get("source")
    if not isinstance(source, dict) or not {"path", "size", "mtime_ns"} <= source.keys():
        return None
    return str(source["path"]), int(source["size"]), int(source["mtime_ns"])


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
