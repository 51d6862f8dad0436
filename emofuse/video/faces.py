"""Faces over a video: sampled frames, detected every k-th frame and tracked in between, classified, and
summarised per track and per fusion window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emofuse.fusion.evidence import ModalityEvidence, Window, face_evidence
from emofuse.media import iter_video_frames
from emofuse.results import FaceRecord, FaceResult, Segment


@dataclass(frozen=True, eq=False)
class FaceSample:
    """One face in one analysed video frame."""

    time: float
    track_id: int
    probs: np.ndarray
    score: float
    size: float
    box: tuple[float, float, float, float]


def track_faces(face_classifier, path: str | Path, fps: float, detect_every: int,
                progress: Callable[[float], None] | None = None) -> tuple[list[FaceSample], int, float]:
    """Face samples of a video, the number of frames analysed, and the time of the last decoded frame.

    ``progress(seconds)`` is called after each analysed frame with its time.
    """
    from emofuse.face.track import FaceStream, IoUTracker

    stream = FaceStream(face_classifier, detect_every, IoUTracker(max_misses=max(2, int(fps))))
    samples, last = [], 0.0
    for time, frame in iter_video_frames(path, fps=fps):
        last = time
        for track, det, probs in stream.step(frame):
            samples.append(FaceSample(time, track.track_id, probs, det.score, det.size, det.box))
        if progress:
            progress(time)
    return samples, stream.frames, last


def _by_track(samples: Sequence[FaceSample]) -> dict[int, list[FaceSample]]:
    tracks: dict[int, list[FaceSample]] = {}
    for sample in samples:
        tracks.setdefault(sample.track_id, []).append(sample)
    return tracks


def face_result(samples: Sequence[FaceSample], frames_seen: int, windows: Sequence[Window],
                labels: tuple[str, ...]) -> FaceResult:
    """The face result of a video: one record per track (longest on screen first, which the clip label
    follows) and one segment per window and track."""
    if not samples:
        return FaceResult(labels=labels, probs=None, face_ratio=0.0)
    tracks = _by_track(samples)
    ordered = sorted(tracks.items(), key=lambda kv: -len(kv[1]))
    faces = tuple(FaceRecord(np.mean([s.probs for s in items], axis=0), track_id=track_id, frames=len(items),
                             start=items[0].time, end=items[-1].time) for track_id, items in ordered)
    segments = []
    for start, end in windows:
        for track_id, items in tracks.items():
            inside = [s.probs for s in items if start <= s.time < end]
            if inside:
                segments.append(Segment(start, end, np.mean(inside, axis=0), track_id=track_id))
    primary_id, primary = ordered[0]
    return FaceResult(labels=labels, probs=faces[0].probs, segments=tuple(segments), faces=faces,
                      primary_track=primary_id, face_ratio=len(primary) / max(frames_seen, 1))


def video_face_evidence(samples: Sequence[FaceSample], face: FaceResult | None, windows: Sequence[Window],
                        frames_per_window: float, temperature: float | None) -> ModalityEvidence:
    """The clip's main face (its primary track) as fusion evidence per window."""
    if face is None or face.primary_track is None:
        return ModalityEvidence.empty(len(windows))
    primary = [s for s in samples if s.track_id == face.primary_track]
    return face_evidence(np.array([s.time for s in primary]), np.array([s.probs for s in primary]),
                         np.array([s.size for s in primary]), np.array([s.score for s in primary]),
                         face.labels, windows, frames_per_window, temperature)
