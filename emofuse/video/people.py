"""The people of a video: each face track and each voice, paired when the face is the one speaking.

One face on screen (or none): one person, who says everything that was said. Several faces: the voice is
diarized into as many speakers as faces (or ``n_speakers``), each speaker is given to the face whose mouth moves in
time with their voice (emofuse.video.speaking), and a speaker no face moves with is a voice off screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from emofuse.audio.diarize import cluster_embeddings, speaker_windows, turns_from_windows, window_embeddings
from emofuse.audio.speaker import VoiceEncoder
from emofuse.video.faces import FaceSample
from emofuse.video.speaking import MouthTrace, attribute, window_synchrony

MIN_TRACK_SHARE = 0.1
"""A face track is a person when it holds at least this share of the frames the longest track holds (a face seen
for a moment, or a false detection, is not)."""


@dataclass(frozen=True)
class PersonSpans:
    """Who a person is in a video: their face track, their voice (speaker cluster), where their face typically is
    (median box, pixels) and when they speak."""

    track_id: int | None
    voice: int | None
    box: tuple[float, float, float, float] | None
    speaking: tuple[tuple[float, float], ...]


def person_tracks(samples: Sequence[FaceSample]) -> dict[int, np.ndarray]:
    """The boxes (N, 4) of each face track long enough to be a person, longest track first."""
    by_track: dict[int, list[FaceSample]] = {}
    for sample in samples:
        by_track.setdefault(sample.track_id, []).append(sample)
    if not by_track:
        return {}
    longest = max(len(items) for items in by_track.values())
    ordered = sorted(by_track.items(), key=lambda kv: -len(kv[1]))
    return {tid: np.array([s.box for s in items], np.float64)
            for tid, items in ordered if len(items) >= MIN_TRACK_SHARE * longest}


def typical_box(boxes: np.ndarray) -> tuple[float, float, float, float]:
    """Where the face of a track typically is: its median box."""
    x0, y0, x1, y1 = (float(v) for v in np.median(boxes, axis=0))
    return x0, y0, x1, y1


def find_people(audio: np.ndarray | None, samples: Sequence[FaceSample], mouths: Mapping[int, MouthTrace],
                n_speakers: int | None = None, encoder: VoiceEncoder | None = None) -> list[PersonSpans]:
    """The people of a video from its face samples, its faces' mouth motion (track_faces) and its 16 kHz audio
    (None: no audio track): face tracks first (longest first), then voices no face speaks."""
    tracks = person_tracks(samples)
    windows = speaker_windows(audio) if audio is not None else []
    boxes = {tid: typical_box(track) for tid, track in tracks.items()}
    if len(tracks) <= 1 and (n_speakers or 1) == 1:
        spans = tuple((t.start, t.end) for t in turns_from_windows(windows, np.zeros(len(windows), np.int64)))
        tid = next(iter(tracks), None)
        return [PersonSpans(tid, 0 if windows else None, None if tid is None else boxes[tid], spans)] \
            if tracks or windows else []
    if audio is None or not windows:
        return [PersonSpans(tid, None, boxes[tid], ()) for tid in tracks]
    voices = cluster_embeddings(window_embeddings(audio, windows, encoder), n_speakers or len(tracks))
    scores = window_synchrony({tid: mouths[tid] for tid in tracks if tid in mouths}, audio, windows)
    owners = attribute(scores, voices)
    voice_of = {owner: int(k) for owner, k in zip(owners, voices) if owner is not None}
    turns = turns_from_windows(windows, voices)
    people = [PersonSpans(tid, voice_of.get(tid), boxes[tid], _spans(turns, voice_of.get(tid))) for tid in tracks]
    unseen = sorted(set(voices.tolist()) - set(voice_of.values()))
    return people + [PersonSpans(None, k, None, _spans(turns, k)) for k in unseen]


def _spans(turns, voice: int | None) -> tuple[tuple[float, float], ...]:
    return () if voice is None else tuple((t.start, t.end) for t in turns if t.speaker == voice)
