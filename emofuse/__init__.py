"""emofuse: emotion recognition from voice and face, separately and fused.

The whole public API, importable without loading any model::

    from emofuse import Analyzer, SpeechClassifier, FaceClassifier, Result, analyze
"""

from __future__ import annotations

import os

# Nothing leaves the machine: onnxruntime's wheels send usage events (a DNS lookup of an events host ~9 s after
# the first session, a device id under ~/.cache/Microsoft) unless this is set before onnxruntime is imported.
# Every emofuse import passes here first; spawned workers and Ray actors inherit or re-run it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"

_LAZY = {
    "Analyzer": "emofuse.pipeline",
    "AnalyzerConfig": "emofuse.pipeline",
    "analyze": "emofuse.pipeline",
    "SpeechClassifier": "emofuse.audio.classifier",
    "FaceClassifier": "emofuse.face.classifier",
    "FusionConfig": "emofuse.fusion",
    "Result": "emofuse.results",
    "EmofuseError": "emofuse.errors",
    "InputError": "emofuse.errors",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emofuse' has no attribute {name!r}")
