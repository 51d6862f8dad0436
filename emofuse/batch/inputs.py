"""The inputs of a batch: files from paths, folders, patterns and list files; each a Job (its identity) and
Tasks (the whole file, or a shard of a long video)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emofuse.errors import EmofuseError
from emofuse.media import MEDIA_SUFFIXES


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
