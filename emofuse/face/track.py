"""IoU tracking of faces across video frames, with per-track smoothing of probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emofuse.face.detect import Detection, iou


@dataclass
class Track:
    """One face followed over time: a stable id, its last box and its smoothed probabilities."""

    track_id: int
    detection: Detection
    probabilities: np.ndarray | None = None
    misses: int = 0


class IoUTracker:
    """Greedy IoU matching of new detections to live tracks.

    A track not matched for ``max_misses`` updates is dropped. ``smoothing`` is the weight kept from the
    previous probabilities when new ones arrive (exponential moving average; 0 disables it).
    """

    def __init__(self, iou_threshold: float = 0.3, max_misses: int = 5, smoothing: float = 0.5):
        self.iou_threshold, self.max_misses, self.smoothing = iou_threshold, max_misses, smoothing
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: list[Detection]) -> list[Track]:
        """Match ``detections`` to tracks; returns the track of each detection, in the same order."""
        pairs = sorted(((iou(t.detection.box, d.box), ti, di) for ti, t in enumerate(self.tracks)
                        for di, d in enumerate(detections)), reverse=True)
        assigned: dict[int, Track] = {}
        used_tracks = set()
        for overlap, ti, di in pairs:
            if overlap < self.iou_threshold:
                break
            if ti in used_tracks or di in assigned:
                continue
            track = self.tracks[ti]
            track.detection, track.misses = detections[di], 0
            assigned[di] = track
            used_tracks.add(ti)
        for ti, track in enumerate(self.tracks):
            if ti not in used_tracks:
                track.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        for di, detection in enumerate(detections):
            if di not in assigned:
                track = Track(self._next_id, detection)
                self._next_id += 1
                self.tracks.append(track)
                assigned[di] = track
        return [assigned[i] for i in range(len(detections))]

    def smooth(self, track: Track, probabilities: np.ndarray) -> np.ndarray:
        """Blend new probabilities into the track's running estimate and return it."""
        if track.probabilities is None or not self.smoothing:
            track.probabilities = np.asarray(probabilities, dtype=np.float32)
        else:
            track.probabilities = self.smoothing * track.probabilities + (1 - self.smoothing) * probabilities
        return track.probabilities


class FaceStream:
    """Faces through a stream of frames: detect on every ``detect_every``-th frame, keep the tracks' last
    boxes in between, classify every face and smooth its probabilities along its track.

    With ``max_detect_every`` above ``detect_every`` the gap between detections doubles, up to that many frames,
    while each detection finds the same faces where they were (every box overlapping its track's last one by
    ``STEADY_IOU``), and drops back to ``detect_every`` as soon as a face moves, appears or leaves.
    """

    STEADY_IOU = 0.7

    def __init__(self, face_classifier, detect_every: int = 1, tracker: IoUTracker | None = None,
                 max_detect_every: int | None = None):
        self.face, self.detect_every = face_classifier, max(1, detect_every)
        self.max_detect_every = max(self.detect_every, max_detect_every or 0)
        self.tracker = tracker or IoUTracker()
        self.frames = 0
        self.detections = 0  # detector runs so far
        self._gap = self.detect_every
        self._next_detection = 0  # frame index

    def locate(self, frame: np.ndarray) -> list[tuple[Track, Detection]]:
        """(track, detection) of each face in the next RGB frame, not yet classified."""
        if self.frames >= self._next_detection:
            before = {t.track_id: t.detection.box for t in self.tracker.tracks if t.misses == 0}
            detections = self.face.detect(frame)
            tracks = self.tracker.update(detections)
            steady = bool(tracks) and len(tracks) == len(before) and all(
                t.track_id in before and iou(before[t.track_id], t.detection.box) >= self.STEADY_IOU for t in tracks)
            self._gap = min(2 * self._gap, self.max_detect_every) if steady else self.detect_every
            self._next_detection = self.frames + self._gap
            self.detections += 1
        else:
            tracks = [t for t in self.tracker.tracks if t.misses == 0]
            detections = [t.detection for t in tracks]
        self.frames += 1
        return list(zip(tracks, detections))

    def step(self, frame: np.ndarray) -> list[tuple[Track, Detection, np.ndarray]]:
        """(track, detection, smoothed probabilities) of each face in an RGB frame."""
        faces = self.locate(frame)
        probs = self.face.classify_faces(frame, [d for _, d in faces])
        return [(t, d, self.tracker.smooth(t, p)) for (t, d), p in zip(faces, probs)]
