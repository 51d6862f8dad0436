"""FER2013 (challenge CSV or image folders) and FER+ crowd votes."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import lzma
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import InputError
from emofuse.labels import FACE_LABELS, FERPLUS_COLUMNS
from emofuse.runtime import cache_dir

_FOLDER_CLASSES = {
    "angry": "angry", "disgust": "disgust", "fear": "fearful", "fearful": "fearful", "happy": "happy",
    "sad": "sad", "surprise": "surprised", "surprised": "surprised", "neutral": "neutral",
}
_FOLDER_USAGE = {"train": "Training", "training": "Training", "test": "PublicTest",
                 "publictest": "PublicTest", "val": "PublicTest", "validation": "PublicTest",
                 "privatetest": "PrivateTest"}
_OPENERS: dict[str, Callable[..., Any]] = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
CACHED_FROM_BYTES = 1_000_000
"""CSVs from this size up are kept parsed in emofuse's cache (the whole .csv.xz: ~20 s to parse, ~0.5 s cached)."""


@dataclass
class FaceSet:
    """Face crops with labels: ``images`` (N, 48, 48) uint8, ``labels`` (N,) indices into FACE_LABELS."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    soft_labels: np.ndarray | None = None  # (N, 7) FER+ vote shares, if attached

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> FaceSet:
        soft = None if self.soft_labels is None else self.soft_labels[mask]
        return FaceSet(self.images[mask], self.labels[mask], self.usage[mask], soft)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int = 2013) -> np.ndarray:
    """A fixed boolean mask choosing ``fraction`` of each class (the same for every training seed)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held[rng.choice(members, int(round(fraction * len(members))), replace=False)] = True
    return held


def _open_text(path: Path) -> io.TextIOBase:
    opener = _OPENERS.get(path.suffix.lower(), open)
    return opener(path, "rt", newline="")


def _pixels(text: str) -> np.ndarray | None:
    """A 48x48 uint8 image from FER2013's space-separated pixel values; None unless exactly 2304 values in 0-255."""
    try:
        values = np.fromstring(text, dtype=np.int32, sep=" ")  # six times faster than split()
    except ValueError:  # a value that is not a number
        return None
    if values.size != 48 * 48 or values.min() < 0 or values.max() > 255:
        return None
    return values.astype(np.uint8).reshape(48, 48)


def _load_csv(path: Path) -> FaceSet:
    images, labels, usage = [], [], []
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"emotion", "pixels"} <= set(reader.fieldnames):
                raise InputError(path, "not a FER2013 CSV (needs columns emotion, pixels[, Usage])")
            for row in reader:
                pixels = _pixels(row["pixels"])
                if pixels is None:
                    raise InputError(path, f"row {reader.line_num}: expected 2304 pixel values 0-255")
                images.append(pixels)
                labels.append(int(row["emotion"]))
                usage.append(row.get("Usage") or "Training")
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read FER2013 CSV ({exc})") from None
    if not labels:
        raise InputError(path, "FER2013 CSV has no rows")
    return FaceSet(np.stack(images), np.array(labels, dtype=np.int64), np.array(usage))


def _cached_csv(path: Path) -> FaceSet:
    """``_load_csv(path)``, kept in the cache folder (``datasets/fer2013-<key>.npz``, 85 MB for the whole CSV) under
    a key of the file's full path, size and modification time; a cache that cannot be read or written costs only
    the time."""
    stat = path.stat()
    if stat.st_size < CACHED_FROM_BYTES:
        return _load_csv(path)
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = cache_dir() / "datasets" / f"fer2013-{key}.npz"
    try:
        with np.load(cached) as stored:
            return FaceSet(stored["images"], stored["labels"], stored["usage"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    faces = _load_csv(path)
    tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, images=faces.images, labels=faces.labels, usage=faces.usage)
        os.replace(tmp, cached)
    except OSError:
        tmp.unlink(missing_ok=True)
    return faces


def _load_folder(root: Path) -> FaceSet:
    import cv2

    images, labels, usage = [], [], []
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        split = _FOLDER_USAGE.get(split_dir.name.lower())
        if split is None:
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            name = _FOLDER_CLASSES.get(class_dir.name.lower())
            if name is None:
                continue
            for file in sorted(class_dir.iterdir()):
                image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if image is None:
                    continue
                if image.shape != (48, 48):
                    image = cv2.resize(image, (48, 48), interpolation=cv2.INTER_AREA)
                images.append(image)
                labels.append(FACE_LABELS.index(name))
                usage.append(split)
    if not labels:
        raise InputError(root, "no FER2013 images found (expected train/<class>/*.jpg, test/<class>/*.jpg)")
    return FaceSet(np.stack(images), np.array(labels, dtype=np.int64), np.array(usage))


def load_fer2013(path: str | Path, usage: str | None = None, ferplus: str | Path | None = None) -> FaceSet:
    """Load FER2013 from the challenge CSV (.csv, .csv.gz, .csv.xz) or an image-folder copy.

    ``usage`` keeps one split ("Training", "PublicTest", "PrivateTest"); ``ferplus`` attaches FER+ vote
    shares as ``soft_labels`` (CSV only, rows aligned with the FER2013 CSV).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    faces = _load_folder(path) if path.is_dir() else _cached_csv(path)
    if ferplus is not None:
        votes = load_ferplus_votes(ferplus)
        if len(votes) != len(faces):
            raise InputError(ferplus, f"has {len(votes)} rows, FER2013 has {len(faces)}")
        faces.soft_labels = votes
    if usage is not None:
        faces = faces.subset(faces.usage == usage)
        if not len(faces):
            raise InputError(path, f"no rows with Usage {usage!r}")
    return faces


def load_ferplus_votes(path: str | Path) -> np.ndarray:
    """FER+ votes as (N, 7) vote shares in FACE_LABELS order; rows without a valid vote are all zero.

    Contempt, unknown and NF (not a face) are dropped; use ``ferplus_majority`` for hard labels.
    """
    path = Path(path)
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            missing = set(FERPLUS_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise InputError(path, f"not a FER+ votes file (missing {sorted(missing)})")
            rows = [[float(row[col] or 0) if row.get("Image name") else 0.0 for col in FERPLUS_COLUMNS]
                    for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise InputError(path, f"cannot read FER+ votes ({exc})") from None
    order = [FACE_LABELS.index(name) for name in FERPLUS_COLUMNS.values()]
    votes = np.zeros((len(rows), len(FACE_LABELS)), dtype=np.float32)
    votes[:, order] = np.array(rows, dtype=np.float32)
    totals = votes.sum(axis=1, keepdims=True)
    return np.divide(votes, totals, out=np.zeros_like(votes), where=totals > 0)


def ferplus_majority(soft_labels: np.ndarray) -> np.ndarray:
    """Majority label per row (index into FACE_LABELS), -1 where there is no vote."""
    labels = soft_labels.argmax(axis=1)
    labels[soft_labels.sum(axis=1) == 0] = -1
    return labels
