"""Uploads for the web app: size checks and a temporary folder that is always removed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emofuse.errors import EmofuseError, InputError
from emofuse.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

MAX_UPLOAD_MB = int(os.environ.get("EMOFUSE_MAX_UPLOAD_MB", "200"))
"""Set by ``emofuse app --max-upload-mb`` (Streamlit's own limit is set to the same)."""
AUDIO_TYPES = [suffix[1:] for suffix in AUDIO_SUFFIXES]
IMAGE_TYPES = [suffix[1:] for suffix in IMAGE_SUFFIXES]
VIDEO_TYPES = [suffix[1:] for suffix in VIDEO_SUFFIXES]


@contextmanager
def saved_upload(name: str, data: bytes, max_mb: int = MAX_UPLOAD_MB) -> Iterator[Path]:
    """Write an upload into a fresh temporary folder, yield its path, and delete the folder afterwards."""
    if len(data) > max_mb * 1024 * 1024:
        raise InputError(name, f"is larger than {max_mb} MB")
    safe_name = Path(name).name or "upload"
    with tempfile.TemporaryDirectory(prefix="emofuse-") as folder:
        path = Path(folder) / safe_name
        path.write_bytes(data)
        yield path


def friendly_message(exc: Exception, name: str) -> str:
    """A one-line message for the page: the uploaded file's name and the problem (no temporary paths)."""
    if isinstance(exc, InputError):
        return f"{name}: {exc.problem}"
    if isinstance(exc, EmofuseError):
        return str(exc)
    return f"{name}: could not be analysed ({type(exc).__name__})"
