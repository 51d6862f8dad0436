"""Progress bars on stderr for long work; silent when stderr is not a terminal or when asked."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator


class progress_bar:  # noqa: N801 - used like a function, as tqdm is
    """Wrap an iterable (``for x in progress_bar(items, "files")``) or use as a context with ``update_to``."""

    def __init__(self, items: Iterable | None, label: str, quiet: bool = False, unit: str = "",
                 stream=None):
        self.items, self.label, self.unit = items, label, unit
        self.stream = stream or sys.stderr
        self.enabled = not quiet and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def __iter__(self) -> Iterator:
        items = list(self.items or [])
        for i, item in enumerate(items):
            self.update_to(i, len(items))
            yield item
        self.update_to(len(items), len(items))
        self._end()

    def __enter__(self) -> progress_bar:
        return self

    def __exit__(self, *exc) -> None:
        self._end()

    def update_to(self, done: float, total: float) -> None:
        """Redraw at most 10 times a second."""
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        share = done / total if total else 0.0
        filled = int(share * 30)
        self.stream.write(f"\r{self.label[:30]:30} [{'#' * filled}{'.' * (30 - filled)}] "
                          f"{done:.0f}/{total:.0f}{self.unit}")
        self.stream.flush()

    def _end(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
