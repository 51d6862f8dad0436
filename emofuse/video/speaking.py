"""Which face is talking (active-speaker attribution) from audio-visual synchrony: a talking mouth moves with the
loudness of its voice, a listening or silently moving one does not.

Every decoded frame is read (speech moves the mouth faster than the 5 frames/s the faces are classified at), in the
same decoding pass as the faces, but only its grey plane at half size and only the mouth region of each tracked
face: the box of each track is interpolated between its analysed frames, and the mouth's motion (mean absolute
change of a small grey patch from one frame to the next) is correlated with the voice's loudness over each voiced
window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from emofuse.audio.vad import frame_levels

MOUTH = (0.25, 0.62, 0.75, 0.98)
"""The mouth region as fractions of the face box (x0, y0, x1, y1)."""
PATCH = (24, 12)  # the mouth region is resized to this (width, height) before frames are compared
MAX_LAG = 0.14
"""Seconds the mouth may lead or trail the voice by (video and audio are not always in step; 4 frames at 30 fps
attributed 90% of the windows of three generated videos to the right face, 2 frames 82%, none 70%)."""
SYNC_OVERRULES = 0.3
"""A window goes to another face than its voice cluster's when that face's synchrony is this much higher: on the 6
videos of benchmarks/speakers.py the only 2 windows whose cluster was wrong had margins of 0.37 and 0.52, the 76
right ones at most 0.13."""
MIN_SYNC = 0.1
"""A window whose best face correlates less than this with the voice is given to no face (an off-screen voice)."""


@dataclass(frozen=True)
class MouthTrace:
    """How much one face's mouth moved at each decoded frame it was on screen: times (N,) and motion (N,), NaN
    where the frame before was not read for this face."""

    times: np.ndarray
    motion: np.ndarray


def mouth_patch(luma: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The mouth region of ``box`` in a grey frame, resized to PATCH (float32), None when it lies off the frame."""
    import cv2

    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left, top = int(max(0, x0 + MOUTH[0] * w)), int(max(0, y0 + MOUTH[1] * h))
    right, bottom = int(min(luma.shape[1], x0 + MOUTH[2] * w)), int(min(luma.shape[0], y0 + MOUTH[3] * h))
    if right - left < 2 or bottom - top < 2:
        return None
    return cv2.resize(luma[top:bottom, left:right], PATCH, interpolation=cv2.INTER_AREA).astype(np.float32)


class MouthTracker:
    """Mouth motion of every face track at every decoded frame, fed by the video loop: at each analysed frame, the
    grey half-size frames decoded since the analysed frame before (media.iter_video_frames_and_lumas) and the boxes
    of the faces located now; a face's box in between is interpolated from where it was then."""

    def __init__(self, keep: float | None = None) -> None:
        """``keep``: seconds of motion kept per face (None: all; a live session keeps a few)."""
        self.keep = keep
        self._located: dict[int, tuple[float, np.ndarray]] = {}  # track -> (time, box) at its last analysed frame
        self._patches: dict[int, tuple[float, np.ndarray | None]] = {}  # track -> (time, patch) last read
        self._traces: dict[int, tuple[list[float], list[float]]] = {}
        self._previous: float | None = None  # the time of the last grey frame read

    def add(self, lumas: Sequence[tuple[float, np.ndarray]], time: float, boxes: Mapping[int, Sequence[float]]) -> None:
        """The grey frames up to and including the analysed frame at ``time``, and the faces' boxes there
        (track id -> x0, y0, x1, y1 in full-size pixels)."""
        now = {tid: np.asarray(box, np.float64) for tid, box in boxes.items()}
        for at, luma in lumas:
            for tid, box in now.items():
                then, was = self._located.get(tid, (time, box))
                share = (at - then) / (time - then) if time > then else 1.0
                patch = mouth_patch(luma, 0.5 * (was + share * (box - was)))
                last_at, last = self._patches.get(tid, (None, None))
                moved = np.nan if patch is None or last is None or last_at != self._previous \
                    else float(np.mean(np.abs(patch - last)))
                times, motion = self._traces.setdefault(tid, ([], []))
                times.append(at)
                motion.append(moved)
                self._patches[tid] = (at, patch)
            self._previous = at
        self._located.update({tid: (time, box) for tid, box in now.items()})
        if self.keep is not None:
            self._forget(time - self.keep)

    def _forget(self, before: float) -> None:
        """Drop motion older than ``before``, and the faces with none left."""
        for tid in list(self._traces):
            times, motion = self._traces[tid]
            cut = next((i for i, t in enumerate(times) if t >= before), len(times))
            del times[:cut], motion[:cut]
            if not times:
                del self._traces[tid]
                self._located.pop(tid, None)
                self._patches.pop(tid, None)

    def traces(self) -> dict[int, MouthTrace]:
        return {tid: MouthTrace(np.array(times), np.array(motion)) for tid, (times, motion) in self._traces.items()}


def speaking_face(traces: Mapping[int, MouthTrace], levels: np.ndarray, start: float,
                  min_sync: float = MIN_SYNC) -> int | None:
    """The face whose mouth moves most in sync with the voice (10 ms ``levels`` from ``start`` seconds on, the
    traces' span), or None when none is in sync (``min_sync``)."""
    best, chosen = min_sync, None
    for tid, trace in traces.items():
        inside = trace.times >= start
        score = synchrony(trace.motion[inside], loudness_at(levels, trace.times[inside] - start),
                          lag_frames(trace.times[inside]))
        if np.isfinite(score) and score >= best:
            best, chosen = score, tid
    return chosen


def join_traces(parts: Sequence[MouthTrace]) -> MouthTrace:
    """One trace from a track's traces in consecutive shards."""
    return MouthTrace(np.concatenate([p.times for p in parts]), np.concatenate([p.motion for p in parts]))


def loudness_at(levels: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The voice's level (dBFS) around each of ``times`` from its 10 ms frame ``levels`` (vad.frame_levels):
    averaged over each frame interval; the quietest level past the end."""
    if not len(times):
        return np.zeros(0)
    half = frame_step(times) / 2
    hop = 100  # level frames per second
    low = np.maximum(0.0, (times - half) * hop).astype(int)
    high = np.maximum(1.0, (times + half) * hop).astype(int)
    inside = (high <= len(levels)) & (high > low)
    sums = np.concatenate([[0.0], np.cumsum(levels, dtype=np.float64)])
    out = np.full(len(times), float(levels.min()) if levels.size else -100.0)
    out[inside] = (sums[high[inside]] - sums[low[inside]]) / (high[inside] - low[inside])
    return out


def frame_step(times: np.ndarray) -> float:
    """Seconds between a trace's frames (its median; 1/30 for a single frame)."""
    return float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30


def synchrony(motion: np.ndarray, loudness: np.ndarray, max_lag: int = 4) -> float:
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


def lag_frames(times: np.ndarray) -> int:
    """MAX_LAG in frames of a trace's frame rate."""
    step = frame_step(times)
    return max(1, round(MAX_LAG / step)) if step > 0 else 1


def window_synchrony(traces: Mapping[int, MouthTrace], audio: np.ndarray,
                     windows: Sequence[tuple[float, float]]) -> dict[int, np.ndarray]:
    """Per track, its mouth's synchrony with the voice of 16 kHz ``audio`` in each window (NaN where it was not on
    screen)."""
    levels = frame_levels(audio)
    scores = {}
    for tid, trace in traces.items():  # a trace's times rise: each window is a slice of it
        loudness, lag = loudness_at(levels, trace.times), lag_frames(trace.times)
        firsts = np.searchsorted(trace.times, [start for start, _ in windows], side="left")
        ends = np.searchsorted(trace.times, [end for _, end in windows], side="left")
        scores[tid] = np.array([synchrony(trace.motion[a:b], loudness[a:b], lag) for a, b in zip(firsts, ends)])
    return scores


def attribute(scores: Mapping[int, np.ndarray], speakers: np.ndarray | None = None,
              min_sync: float = MIN_SYNC) -> list[int | None]:
    """The face track speaking in each window, or None (no face in sync: a voice off screen).

    ``speakers``: each window's voice cluster (diarization); then one cluster is one person: each cluster goes to
    the track most in sync with it on average (one track per cluster, the surest pairs first), and its windows
    follow, except where that track was not on screen, or another face is in sync by SYNC_OVERRULES more.
    """
    tids = list(scores)
    n = len(next(iter(scores.values()))) if tids else len(speakers) if speakers is not None else 0
    if not tids:
        return [None] * n
    table = np.array([scores[t] for t in tids])  # (tracks, windows), NaN: not on screen
    filled = np.where(np.isfinite(table), table, -np.inf)
    if speakers is None:
        best = np.argmax(filled, axis=0)
        return [tids[b] if filled[b, w] >= min_sync else None for w, b in enumerate(best)]
    speakers = np.asarray(speakers)
    owners = cluster_owners(table, speakers, min_sync)
    given = []
    for w, k in enumerate(speakers.tolist()):
        row = owners.get(k)
        best = int(np.argmax(filled[:, w]))
        if best != row and filled[best, w] >= max(min_sync, (filled[row, w] if row is not None else -np.inf)
                                                   + SYNC_OVERRULES):
            row = best  # the voice encoder took this window for another voice: the mouths say otherwise
        given.append(tids[row] if row is not None and np.isfinite(table[row, w]) else None)
    return given


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
