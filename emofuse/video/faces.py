"""Faces over a video: sampled frames, detected every k-th frame and tracked in between, classified, and
summarised per track and per fusion window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emofuse.face.align import face_crops
from emofuse.face.detect import Detection, iou
from emofuse.face.track import FaceStream, IoUTracker, Track
from emofuse.fusion.evidence import ModalityEvidence, Window, face_evidence
from emofuse.media import iter_video_frames_and_lumas, read_ahead
from emofuse.results import FaceRecord, FaceResult, Segment
from emofuse.video.speaking import MouthTrace, MouthTracker, join_traces


@dataclass(frozen=True, eq=False)
class FaceSample:
    """One face in one analysed video frame."""

    time: float
    track_id: int
    probs: np.ndarray
    score: float
    size: float
    box: tuple[float, float, float, float]


CLASSIFY_BATCH = 32
"""Faces classified together in a video: one batched call costs far less per face than one call per frame."""


def track_faces(face_classifier, path: str | Path, fps: float, detect_every: int,
                progress: Callable[[float], None] | None = None, start: float = 0.0, end: float | None = None,
                max_detect_gap: float = 0.0) -> tuple[list[FaceSample], int, float, dict[int, MouthTrace]]:
    """Face samples of a video (or of its [start, end) span), the number of frames analysed, the time of the last
    decoded frame, and each track's mouth motion at every decoded frame (emofuse.video.speaking).
    ``progress(seconds)`` is called after each analysed frame with its time. ``max_detect_gap``: seconds the gap
    between detections may grow to while faces hold still (FaceStream).
    """
    stream = FaceStream(face_classifier, detect_every, IoUTracker(max_misses=max(2, int(fps))),
                        max_detect_every=round(max_detect_gap * fps))
    samples: list[FaceSample] = []
    found: list[tuple[float, Track, Detection]] = []  # faces located, waiting to be classified as one batch
    crops: list[np.ndarray] = []
    mouths = MouthTracker()
    last = start

    def classify_found() -> None:
        if found:
            probs = face_classifier.classify_batch(np.concatenate(crops))
            for (time, track, det), p in zip(found, probs):  # in frame order: each track smooths as it would live
                samples.append(FaceSample(time, track.track_id, stream.tracker.smooth(track, p), det.score,
                                          det.size, det.box))
            found.clear()
            crops.clear()

    for time, frame, lumas in read_ahead(iter_video_frames_and_lumas(path, fps=fps, start=start, end=end)):
        last = time
        faces = stream.locate(frame)
        mouths.add(lumas, time, {track.track_id: det.box for track, det in faces})
        found += [(time, track, det) for track, det in faces]
        crops.append(face_crops(frame, [det for _, det in faces]))
        if len(found) >= CLASSIFY_BATCH:
            classify_found()
        if progress:
            progress(time)
    classify_found()
    return samples, stream.frames, last, mouths.traces()


LINK_SECONDS = 1.0
"""A track ending this close to a shard's end continues a track starting this close to the next shard's start."""


def link_shards(shards: Sequence[Sequence[FaceSample]], boundaries: Sequence[float]) -> list[FaceSample]:
    """One list of samples from consecutive shards tracked apart (``boundaries``: where each next shard starts):
    track ids are made unique, and a track at the start of a shard takes the id of the track it continues."""
    return [replace(s, track_id=renamed[s.track_id])
            for samples, renamed in zip(shards, shard_track_ids(shards, boundaries)) for s in samples]


def link_mouths(mouths: Sequence[dict[int, MouthTrace]], shards: Sequence[Sequence[FaceSample]],
                boundaries: Sequence[float]) -> dict[int, MouthTrace]:
    """The shards' mouth traces under the track ids ``link_shards`` gives, a continued track's joined."""
    parts: dict[int, list[MouthTrace]] = {}
    for traces, renamed in zip(mouths, shard_track_ids(shards, boundaries)):
        for tid, trace in traces.items():
            if tid in renamed:
                parts.setdefault(renamed[tid], []).append(trace)
    return {tid: join_traces(items) for tid, items in parts.items()}


def shard_track_ids(shards: Sequence[Sequence[FaceSample]], boundaries: Sequence[float]) -> list[dict[int, int]]:
    """Per shard, its track ids -> the ids of the linked video (unique; a continued track keeps its first id)."""
    renames: list[dict[int, int]] = []
    linked: list[FaceSample] = []
    for index, samples in enumerate(shards):
        offset = max((s.track_id for s in linked), default=0)
        renamed = {tid: tid + offset for tid in {s.track_id for s in samples}}
        if index:
            boundary = boundaries[index - 1]
            ending = _edge(linked, boundary - LINK_SECONDS, boundary, last=True)
            starting = _edge(samples, boundary, boundary + LINK_SECONDS, last=False)
            renamed.update(_continuations(ending, starting))
        linked += [replace(s, track_id=renamed[s.track_id]) for s in samples]
        renames.append(renamed)
    return renames


def _edge(samples: Sequence[FaceSample], low: float, high: float, last: bool) -> dict[int, FaceSample]:
    """Per track, its last (or first) sample in [low, high)."""
    chosen: dict[int, FaceSample] = {}
    for sample in samples:
        if low <= sample.time < high and (last or sample.track_id not in chosen):
            chosen[sample.track_id] = sample
    return chosen


def _continuations(ending: dict[int, FaceSample], starting: dict[int, FaceSample]) -> dict[int, int]:
    """New track id -> the id it continues, by greatest box overlap (IoU >= 0.3) across the boundary."""
    pairs = sorted(((iou(a.box, b.box), old, new) for old, a in ending.items() for new, b in starting.items()),
                   reverse=True)
    mapping: dict[int, int] = {}
    for overlap, old, new in pairs:
        if overlap >= 0.3 and new not in mapping and old not in mapping.values():
            mapping[new] = old
    return mapping


def samples_by_track(samples: Sequence[FaceSample]) -> dict[int, list[FaceSample]]:
    """Each track's samples, in the order given."""
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
    tracks = samples_by_track(samples)
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
                        frames_per_window: float | np.ndarray, temperature: float | None) -> ModalityEvidence:
    """The clip's main face (its primary track) as fusion evidence per window."""
    if face is None or face.primary_track is None:
        return ModalityEvidence.empty(len(windows))
    primary = [s for s in samples if s.track_id == face.primary_track]
    return face_evidence(np.array([s.time for s in primary]), np.array([s.probs for s in primary]),
                         np.array([s.size for s in primary]), np.array([s.score for s in primary]),
                         face.labels, windows, frames_per_window, temperature)
