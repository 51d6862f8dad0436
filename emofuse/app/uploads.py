"""What the user hands the web app: uploads (size checks, a temporary folder that is always removed) and camera
snapshots."""

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
    safe_name = safe_file_name(name)
    with tempfile.TemporaryDirectory(prefix="emofuse-") as folder:
        path = Path(folder) / safe_name
        path.write_bytes(data)
        yield path


def safe_file_name(name: str, max_bytes: int = 255) -> str:
    """A file name that can be written in a folder: no directories, no control characters, not ``.``/``..``,
    at most ``max_bytes`` bytes in UTF-8 (the suffix, which decides the decoder, is kept)."""
    base = "".join(ch for ch in Path(name.replace("\\", "/")).name if ch.isprintable()).strip()
    if base in ("", ".", ".."):
        return "upload"
    suffix = Path(base).suffix if len(Path(base).suffix.encode()) <= 16 else ""
    stem = base[:len(base) - len(suffix)] if suffix else base
    while len((stem + suffix).encode("utf-8")) > max_bytes:
        stem = stem[:-1]
    return (stem or "upload") + suffix


def friendly_message(exc: Exception, name: str) -> str:
    """A one-line message for the page: the uploaded file's name and the problem (no temporary paths)."""
    if isinstance(exc, InputError):
        return f"{name}: {exc.problem}"
    if isinstance(exc, EmofuseError):
        return str(exc)
    return f"{name}: could not be analysed ({type(exc).__name__})"


def camera_snapshot(key: str, label: str = "…or take a snapshot with the camera"):
    """A camera snapshot, offered behind a switch: the browser asks for the camera only once the user wants it."""
    import streamlit as st

    if not st.toggle(label, key=f"{key}_on"):
        return None
    return st.camera_input("Snapshot", key=key)
