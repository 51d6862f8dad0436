"""Which face is talking (active-speaker attribution) from audio-visual synchrony: a talking mouth moves with the
loudness of its voice, a listening or silently moving one does not.

Every decoded frame is read (speech moves the mouth faster than the 5 frames/s the faces are classified at), but
only its luma plane and only the mouth region of each tracked face: the box of each track is interpolated between
its analysed frames, and the mouth's motion (mean absolute change of a small grey patch from one frame to the next)
is correlated with the voice's loudness over each voiced window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emofuse.audio.vad import frame_levels
from emofuse.media import decoding

MOUTH = (0.25, 0.62, 0.75, 0.98)
"""The mouth region as fractions of the face box (x0, y0, x1, y1)."""
PATCH = (24, 12)  # the mouth region is resized to this (width, height) before frames are compared
MAX_LAG = 2  # frames the mouth may lead or trail the voice by (video and audio are not always in step)
MIN_SYNC = 0.1
"""A window whose best face correlates less than this with the voice is given to no face (an off-screen voice)."""


@dataclass(frozen=True)
class TrackPath:
    """Where a face track was: its boxes (N, 4) at the analysed frames' times (N,)."""

    times: np.ndarray
    boxes: np.ndarray

    def box_at(self, time: float, margin: float = 0.25) -> np.ndarray | None:
        """The box at ``time`` (linear between analysed frames), None outside the track's span +- ``margin``."""
        if time < self.times[0] - margin or time > self.times[-1] + margin:
            return None
        return np.array([np.interp(time, self.times, self.boxes[:, i]) for i in range(4)])


def mouth_patch(luma: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The mouth region of ``box`` in a grey frame, resized to PATCH (float32), None when it lies off the frame."""
    import cv2

    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left, top = int(max(0, x0 + MOUTH[0] * w)), int(max(0, y0 + MOUTH[1] * h))
    right, bottom = int(min(luma.shape[1], x0 + MOUTH[2] * w)), int(min(luma.shape[0], y0 + MOUTH[3] * h))
    if right - left < 4 or bottom - top < 4:
        return None
    return cv2.resize(luma[top:bottom, left:right], PATCH, interpolation=cv2.INTER_AREA).astype(np.float32)


def _luma(frame) -> np.ndarray:
    """The frame's grey picture: its Y plane as is when the pixels are planar YUV, else converted."""
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"):
        plane = frame.planes[0]
        return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :frame.width]
    return frame.to_ndarray(format="gray")


def mouth_motion(path: str | Path, tracks: Mapping[int, TrackPath], start: float = 0.0,
                 end: float | None = None) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Frame times (F,) of [start, end) and, per track, its mouth motion at each (NaN where the track is absent)."""
    import av

    path = Path(path)
    times: list[float] = []
    motion: dict[int, list[float]] = {tid: [] for tid in tracks}
    previous: dict[int, np.ndarray | None] = dict.fromkeys(tracks)
    with decoding(path, "cannot decode video"), av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:
            container.seek(int(start * av.time_base))
        for frame in container.decode(stream):
            if frame.time is None or frame.time < start:
                continue
            if end is not None and frame.time >= end:
                break
            luma = _luma(frame)
            times.append(float(frame.time))
            for tid, track in tracks.items():
                box = track.box_at(float(frame.time))
                patch = None if box is None else mouth_patch(luma, box)
                last = previous[tid]
                motion[tid].append(np.nan if patch is None or last is None else float(np.mean(np.abs(patch - last))))
                previous[tid] = patch
    return np.array(times), {tid: np.array(values) for tid, values in motion.items()}


def loudness_at(audio: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The voice's level (dBFS) around each of ``times``: 10 ms frame levels averaged over the frame interval."""
    levels = frame_levels(audio)
    if not len(times):
        return np.zeros(0)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30
    hop = 100  # level frames per second
    out = np.empty(len(times))
    for i, t in enumerate(times):
        low, high = int(max(0, (t - step / 2) * hop)), int(max(1, (t + step / 2) * hop))
        out[i] = float(np.mean(levels[low:high])) if high <= len(levels) and high > low else float(levels.min())
    return out


def synchrony(motion: np.ndarray, loudness: np.ndarray, max_lag: int = MAX_LAG) -> float:
    """The best Pearson correlation of mouth motion with loudness over lags of +-``max_lag`` frames (NaN frames
    left out); NaN when fewer than 8 frames are shared."""
    best = np.nan
    for lag in range(-max_lag, max_lag + 1):
        a = motion[max(lag, 0):len(motion) + min(lag, 0)]
        b = loudness[max(-lag, 0):len(loudness) + min(-lag, 0)]
        keep = np.isfinite(a) & np.isfinite(b)
        if keep.sum() < 8 or np.std(a[keep]) == 0 or np.std(b[keep]) == 0:
            continue
        r = float(np.corrcoef(a[keep], b[keep])[0, 1])
        best = r if not np.isfinite(best) else max(best, r)
    return best


def window_synchrony(times: np.ndarray, motion: Mapping[int, np.ndarray], loudness: np.ndarray,
                     windows: Sequence[tuple[float, float]]) -> dict[int, np.ndarray]:
    """Per track, its synchrony with the voice in each window (NaN where it was not on screen)."""
    scores = {}
    for tid, values in motion.items():
        row = []
        for start, end in windows:
            inside = (times >= start) & (times < end)
            row.append(synchrony(values[inside], loudness[inside]))
        scores[tid] = np.array(row)
    return scores


def attribute(scores: Mapping[int, np.ndarray], speakers: np.ndarray | None = None,
              min_sync: float = MIN_SYNC) -> list[int | None]:
    """The face track speaking in each window, or None (no face in sync: a voice off screen).

    ``speakers``: each window's voice cluster (diarization); then one cluster is one person: each cluster goes to
    the track most in sync with it on average (one track per cluster, the surest pairs first), and its windows
    follow, except where that track was not on screen.
    """
    tids = list(scores)
    n = len(next(iter(scores.values()))) if tids else len(speakers) if speakers is not None else 0
    if not tids:
        return [None] * n
    table = np.array([scores[t] for t in tids])  # (tracks, windows), NaN: not on screen
    if speakers is None:
        filled = np.where(np.isfinite(table), table, -np.inf)
        best = np.argmax(filled, axis=0)
        return [tids[b] if filled[b, w] >= min_sync else None for w, b in enumerate(best)]
    speakers = np.asarray(speakers)
    owners = cluster_owners(table, speakers, min_sync)
    return [tids[owners[k]] if owners.get(k) is not None and np.isfinite(table[owners[k], w]) else None
            for w, k in enumerate(speakers.tolist())]


def cluster_owners(table: np.ndarray, speakers: np.ndarray, min_sync: float = MIN_SYNC) -> dict[int, int]:
    """Voice cluster -> row of ``table`` (tracks x windows synchrony) of the face it belongs to: pairs taken by
    mean synchrony over the cluster's windows (absent counts as 0), greatest first, each track and cluster once."""
    pairs = []
    for k in np.unique(speakers):
        mean = np.nan_to_num(table[:, speakers == k], nan=0.0).mean(axis=1)
        pairs += [(float(m), row, int(k)) for row, m in enumerate(mean)]
    owners: dict[int, int] = {}
    for mean, row, k in sorted(pairs, reverse=True):
        if mean >= min_sync and k not in owners and row not in owners.values():
            owners[k] = row
    return owners
