"""Exceptions raised for input the user can fix."""

from __future__ import annotations

from pathlib import Path


class EmofuseError(Exception):
    """Base class of every error emofuse raises on purpose."""


class InputError(EmofuseError, ValueError):
    """A file or folder given by the user cannot be used; the message names it and says why."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
