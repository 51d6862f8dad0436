"""The people of a video: each face track and each voice, paired when the face is the one speaking.

One face on screen (or none): one person, who says everything that was said (``one_person``). Several faces: the
voice is diarized into as many speakers as faces (or ``n_speakers``), each speaker is given to the face whose mouth
moves in time with their voice (emofuse.video.speaking), and a speaker no face moves with is a voice off screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from emofuse.audio.diarize import cluster_embeddings, speaker_windows, turns_from_windows, window_embeddings
from emofuse.audio.speaker import VoiceEncoder
from emofuse.face.detect import iou
from emofuse.video.faces import FaceSample, samples_by_track
from emofuse.video.speaking import MouthTrace, attribute, join_traces, window_synchrony

MIN_TRACK_SHARE = 0.1
"""A face is a person when its tracks hold at least this share of the frames the most seen face holds (a face
seen for a moment, or a false detection, is not)."""
SAME_PLACE = 0.3
"""Tracks that never overlap in time and whose typical boxes overlap this much (IoU) are one face lost and found."""


@dataclass(frozen=True)
class PersonSpans:
    """Who a person is in a video: their face tracks (the longest first; a face lost and found again has several),
    their voice (speaker cluster), where their face typically is (median box, pixels) and when they speak."""

    tracks: tuple[int, ...]
    voice: int | None
    box: tuple[float, float, float, float] | None
    speaking: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Face:
    """One person's face over a video: its tracks (longest first) and their boxes (N, 4)."""

    tracks: tuple[int, ...]
    boxes: np.ndarray

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Where the face typically is: the median box."""
        x0, y0, x1, y1 = (float(v) for v in np.median(self.boxes, axis=0))
        return x0, y0, x1, y1


def video_faces(samples: Sequence[FaceSample]) -> list[Face]:
    """The faces of a video, most seen first: its tracks, joined where one ends before another starts in the same
    place (SAME_PLACE), and only those seen long enough to be a person (MIN_TRACK_SHARE)."""
    groups: list[list[list[FaceSample]]] = []
    for items in sorted(samples_by_track(samples).values(), key=lambda items: -len(items)):
        span, box = (items[0].time, items[-1].time), np.median([s.box for s in items], axis=0)
        home = next((g for g in groups if all(_apart(span, (t[0].time, t[-1].time)) for t in g)
                     and iou(tuple(np.median([s.box for t in g for s in t], axis=0)), tuple(box)) >= SAME_PLACE),
                    None)
        if home is None:
            groups.append([items])
        else:
            home.append(items)
    groups.sort(key=lambda g: -sum(len(t) for t in g))
    most = sum(len(t) for t in groups[0]) if groups else 0
    return [Face(tuple(t[0].track_id for t in g), np.array([s.box for t in g for s in t], np.float64))
            for g in groups if sum(len(t) for t in g) >= MIN_TRACK_SHARE * most]


def _apart(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def one_person(faces: Sequence[Face], n_speakers: int | None) -> bool:
    """Whether a recording is one person: one face or none, and not told that more than one speak. That person
    says all that is said, and their results are the recording's own."""
    return len(faces) <= 1 and (n_speakers or 1) == 1


def find_people(audio: np.ndarray | None, faces: Sequence[Face], mouths: Mapping[int, MouthTrace],
                n_speakers: int | None = None, encoder: VoiceEncoder | None = None) -> list[PersonSpans]:
    """The people of a recording that is not ``one_person``, from its faces (video_faces), their mouths' motion
    (track_faces) and its 16 kHz audio (None: no audio track): faces first (most seen first), then voices no face
    speaks."""
    windows = speaker_windows(audio) if audio is not None else []
    if audio is None or not windows:
        return [PersonSpans(face.tracks, None, face.box, ()) for face in faces]
    voices = cluster_embeddings(window_embeddings(audio, windows, encoder), n_speakers or len(faces))
    traces = {index: join_traces(sorted((mouths[t] for t in face.tracks if t in mouths and len(mouths[t].times)),
                                        key=lambda trace: trace.times[0]))
              for index, face in enumerate(faces) if any(t in mouths and len(mouths[t].times) for t in face.tracks)}
    owners = attribute(window_synchrony(traces, audio, windows), voices)
    voice_of = _face_voices(owners, voices)
    voices = np.array([voice_of[o] if o is not None else k for o, k in zip(owners, voices)])
    turns = turns_from_windows(windows, voices)
    people = [PersonSpans(face.tracks, voice_of.get(index), face.box, _spans(turns, voice_of.get(index)))
              for index, face in enumerate(faces)]
    unseen = sorted(set(voices.tolist()) - set(voice_of.values()))
    return people + [PersonSpans((), k, None, _spans(turns, k)) for k in unseen]


def _face_voices(owners: Sequence[int | None], voices: np.ndarray) -> dict[int, int]:
    """Face -> its voice: the cluster most of the face's windows are in, each cluster to one face (most windows
    first); a face whose windows all lie in other faces' clusters (the mouths overruled the voice) gets a new one."""
    counts: dict[tuple[int, int], int] = {}
    for owner, voice in zip(owners, voices.tolist()):
        if owner is not None:
            counts[owner, voice] = counts.get((owner, voice), 0) + 1
    voice_of: dict[int, int] = {}
    for (face, voice), _ in sorted(counts.items(), key=lambda kv: -kv[1]):
        if face not in voice_of and voice not in voice_of.values():
            voice_of[face] = voice
    fresh = int(voices.max()) + 1 if len(voices) else 0
    for face in sorted({owner for owner in owners if owner is not None} - set(voice_of)):
        voice_of[face], fresh = fresh, fresh + 1
    return voice_of


def _spans(turns, voice: int | None) -> tuple[tuple[float, float], ...]:
    return () if voice is None else tuple((t.start, t.end) for t in turns if t.speaker == voice)
