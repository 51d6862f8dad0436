"""Real-time face emotion on a stream of frames (webcam): detect every k-th frame, track in between.

Used by the app's Live page; usable on its own (``LiveFaceAnalyzer().process(frame)`` per RGB frame).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass

import numpy as np

from emofuse.face.draw import annotate
from emofuse.face.track import FaceStream, IoUTracker
from emofuse.labels import FACE_LABELS


@dataclass
class LiveSample:
    """Smoothed probabilities of the main (largest) face at one moment of the session."""

    time: float
    probs: np.ndarray
    faces: int


class LiveFaceAnalyzer:
    """Stateful, thread-safe per-stream analyser: annotated frames, FPS, and a session history."""

    def __init__(self, face_classifier=None, detect_every: int = 2, max_side: int = 480,
                 history_seconds: float = 600):
        if face_classifier is None:
            from emofuse.face.classifier import FaceClassifier

            face_classifier = FaceClassifier()
        self.max_side, self.history_seconds = max_side, history_seconds
        self.stream = FaceStream(face_classifier, detect_every, IoUTracker(max_misses=detect_every * 3, smoothing=0.6))
        self._lock = threading.Lock()
        self._history: list[LiveSample] = []
        self._count = 0
        self._start: float | None = None
        self._last: float | None = None
        self._interval = 0.0

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """Analyse one RGB frame; returns the frame with boxes and labels drawn, and the faces."""
        import cv2

        now = time.monotonic()
        scale = min(1.0, self.max_side / max(frame.shape[:2]))
        small = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = []
        for track, det, smoothed in self.stream.step(small):
            box = [v / scale for v in det.box]
            faces.append({"box": box, "track_id": track.track_id, "label": FACE_LABELS[int(smoothed.argmax())],
                          "probabilities": dict(zip(FACE_LABELS, map(float, smoothed)))})
        self._record(now, faces)
        return annotate(frame, faces), faces

    def _record(self, now: float, faces: list[dict]) -> None:
        with self._lock:
            self._count += 1
            self._start = self._start or now
            if self._last is not None:
                gap = now - self._last
                self._interval = gap if not self._interval else 0.9 * self._interval + 0.1 * gap
            self._last = now
            if faces:
                main = max(faces, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))
                probs = np.array([main["probabilities"][k] for k in FACE_LABELS], dtype=np.float32)
                self._history.append(LiveSample(now - self._start, probs, len(faces)))
                while self._history and self._history[0].time < self._history[-1].time - self.history_seconds:
                    self._history.pop(0)

    @property
    def fps(self) -> float:
        """Frames processed per second (smoothed)."""
        with self._lock:
            return 1.0 / self._interval if self._interval else 0.0

    @property
    def frames(self) -> int:
        with self._lock:
            return self._count

    def history(self) -> dict[str, list[float]]:
        """Column-wise session history: ``time`` and one list per label (for charts)."""
        with self._lock:
            samples = list(self._history)
        columns = {"time": [round(s.time, 3) for s in samples]}
        for i, name in enumerate(FACE_LABELS):
            columns[name] = [float(s.probs[i]) for s in samples]
        return columns

    def history_csv(self) -> str:
        """The session history as CSV: time, faces, then one probability column per label."""
        with self._lock:
            samples = list(self._history)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["time", "faces", "label", *FACE_LABELS])
        for s in samples:
            writer.writerow([f"{s.time:.3f}", s.faces, FACE_LABELS[int(s.probs.argmax())],
                             *(f"{p:.4f}" for p in s.probs)])
        return buffer.getvalue()
