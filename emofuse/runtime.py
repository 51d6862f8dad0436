"""onnxruntime sessions, created once per model file and shared, the softmax applied to their logits, and emofuse's
cache folder."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """emofuse's cache folder: $EMOFUSE_CACHE, else $XDG_CACHE_HOME/emofuse, else ~/.cache/emofuse."""
    if os.environ.get("EMOFUSE_CACHE"):
        return Path(os.environ["EMOFUSE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emofuse"


@lru_cache(maxsize=16)
def onnx_session(path: str | Path, threads: int | None = None):
    """A CPU InferenceSession for ``path``; ``threads`` defaults to $EMOFUSE_THREADS or all cores."""
    import onnxruntime as ort

    ort.disable_telemetry_events()  # belt and braces: the environment variable set by emofuse/__init__ is what works
    options = ort.SessionOptions()
    threads = threads or int(os.environ.get("EMOFUSE_THREADS", "0"))
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # idle threads sleep instead of spinning: an ensemble's sessions (and the detector's) take turns on the
    # same cores, and spinning pools starve each other (2-network face ensemble, single crop: 6.4 -> 3.0 ms)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)
