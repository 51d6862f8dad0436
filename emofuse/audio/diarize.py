"""Who speaks when (speaker diarization): voiced audio cut into short overlapping windows, each embedded by the
voice encoder (emofuse.audio.speaker), the windows clustered per recording, and the clusters' runs made turns.

>>> turns = speaker_turns(audio)                  # 16 kHz mono float32
>>> [(t.start, t.end, t.speaker) for t in turns]  # speakers numbered 0, 1, ... in order of first speech
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emofuse.audio.speaker import FRAME_HOP, PARTIAL_FRAMES, VoiceEncoder, voice_frames
from emofuse.audio.vad import split_windows, voiced_segments
from emofuse.media import SAMPLE_RATE

WINDOW_SECONDS = PARTIAL_FRAMES * FRAME_HOP / SAMPLE_RATE  # 1.6 s: what the encoder reads at once
WINDOW_HOP = 0.8
"""Seconds between windows: a turn boundary is placed to within about half of this."""
DISTINCT_SPEAKERS = 0.75
"""When the number of speakers is not given, clusters whose mean voices are this similar (cosine) or more are
not told apart. Emotional speech moves one voice a long way: halves of one RAVDESS actor's clips reach 0.70
(benchmarks/speakers.py), so a count given (or the faces on screen) is more reliable than this estimate."""
MAX_SPEAKERS = 8
MAX_CLUSTERED = 1500
"""Windows clustered at most (20 minutes of speech); in longer recordings as many spread over the whole are, and
the others join the nearest cluster: the affinity matrix grows with the square of the windows, its
eigenvectors with the cube (2,000 windows: 7 s and 260 MB)."""
BATCH = 64  # windows embedded per call


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of speech by one speaker (clusters numbered from 0 by first speech)."""

    start: float
    end: float
    speaker: int

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker}


def speaker_windows(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the windows embedded: the voiced stretches cut into 1.6 s windows every 0.8 s; a
    stretch shorter than a window gets one window, its span (the encoder reads 1.6 s around it)."""
    return [w for s, e in voiced_segments(audio) for w in split_windows(s, e, WINDOW_SECONDS, WINDOW_HOP)]


def window_embeddings(audio: np.ndarray, windows: list[tuple[float, float]],
                      encoder: VoiceEncoder | None = None) -> np.ndarray:
    """One unit-length voice embedding (N, 256) per window, each read from the 1.6 s centred on it."""
    encoder = encoder or VoiceEncoder()
    if not windows:
        return np.zeros((0, 256), np.float32)
    frames = voice_frames(audio)  # the whole recording at once: levels are normalised over it
    frames = np.pad(frames, ((0, max(0, PARTIAL_FRAMES - len(frames))), (0, 0)))
    centres = [(s + e) / 2 * SAMPLE_RATE / FRAME_HOP for s, e in windows]
    firsts = [int(np.clip(round(c - PARTIAL_FRAMES / 2), 0, len(frames) - PARTIAL_FRAMES)) for c in centres]
    batch = np.stack([frames[f:f + PARTIAL_FRAMES] for f in firsts])
    return np.concatenate([encoder.session.run(None, {"frames": batch[i:i + BATCH]})[0]
                           for i in range(0, len(batch), BATCH)])


def affinity(embeddings: np.ndarray, keep: float = 0.5) -> np.ndarray:
    """The refined affinity matrix of spectral diarization (Wang et al. 2018): cosine similarities, each row's
    weaker half damped, made symmetric, then diffused (A A^T) and each row scaled to a maximum of 1."""
    similarity = np.clip(embeddings @ embeddings.T, 0.0, None).astype(np.float64)
    n = len(similarity)
    if n > 4:
        strongest = max(2, int(np.ceil(n * keep)))
        threshold = np.sort(similarity, axis=1)[:, -strongest][:, None]
        similarity = np.where(similarity < threshold, similarity * 0.01, similarity)
    similarity = np.maximum(similarity, similarity.T)
    diffused = similarity @ similarity.T
    diffused /= diffused.max(axis=1, keepdims=True)
    np.fill_diagonal(diffused, 0.0)
    return (diffused + diffused.T) / 2


def spectral_labels(embeddings: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """``k`` clusters of unit embeddings (N, D): k-means on the leading eigenvectors of the normalised Laplacian
    of their refined affinity. Labels are numbered by first appearance."""
    n = len(embeddings)
    if k <= 1 or n <= k:
        return np.zeros(n, np.int64) if k <= 1 else _first_appearance(np.arange(n))
    if n > MAX_CLUSTERED:  # spread windows clustered, the rest joining the nearest cluster's mean voice
        spread = np.linspace(0, n - 1, MAX_CLUSTERED).round().astype(int)
        sampled = spectral_labels(embeddings[spread], k, seed)
        means = np.array([embeddings[spread][sampled == j].mean(axis=0) for j in range(int(sampled.max()) + 1)])
        return _first_appearance(np.argmax(embeddings @ means.T, axis=1))
    a = affinity(embeddings)
    degree = np.maximum(a.sum(axis=1), 1e-12)
    laplacian = np.eye(n) - a / np.sqrt(np.outer(degree, degree))
    _, vectors = np.linalg.eigh(laplacian)
    points = vectors[:, :k] / np.maximum(np.linalg.norm(vectors[:, :k], axis=1, keepdims=True), 1e-12)
    return _first_appearance(_kmeans_cosine(points, k, seed))


def _kmeans_cosine(points: np.ndarray, k: int, seed: int, restarts: int = 10, steps: int = 50) -> np.ndarray:
    """Spherical k-means (best of ``restarts`` seeded starts)."""
    rng = np.random.default_rng(seed)
    best_score, best = -np.inf, np.zeros(len(points), np.int64)
    for _ in range(restarts):
        centres = points[rng.choice(len(points), k, replace=False)]
        for _ in range(steps):
            labels = np.argmax(points @ centres.T, axis=1)
            centres = np.array([points[labels == j].mean(axis=0) if (labels == j).any() else centres[j]
                                for j in range(k)])
        score = float((points * centres[labels]).sum())
        if score > best_score:
            best_score, best = score, labels
    return best


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    _, first = np.unique(labels, return_index=True)
    order = {labels[f]: rank for rank, f in enumerate(sorted(first))}
    return np.array([order[label] for label in labels], np.int64)


def cluster_embeddings(embeddings: np.ndarray, n_speakers: int | None = None, max_speakers: int = MAX_SPEAKERS,
                       distinct: float = DISTINCT_SPEAKERS) -> np.ndarray:
    """Speaker labels (N,) of unit window embeddings: ``n_speakers`` spectral clusters, or, when None, the most
    clusters (up to ``max_speakers``) whose mean voices all differ (cosine below ``distinct``)."""
    if n_speakers is not None:
        return spectral_labels(embeddings, n_speakers)
    chosen = np.zeros(len(embeddings), np.int64)
    for k in range(2, min(max_speakers, len(embeddings) - 1) + 1):
        labels = spectral_labels(embeddings, k)
        means = np.array([embeddings[labels == j].mean(axis=0) for j in range(k)])
        means /= np.linalg.norm(means, axis=1, keepdims=True)
        similarity = means @ means.T
        np.fill_diagonal(similarity, -1.0)
        if similarity.max() >= distinct:
            break
        chosen = labels
    return chosen


def turns_from_windows(windows: list[tuple[float, float]], labels: np.ndarray, gap: float = 0.5) -> list[SpeakerTurn]:
    """Turns from labelled, possibly overlapping windows: where two overlapping windows disagree the boundary is the
    middle of their overlap; runs of one speaker less than ``gap`` apart are joined."""
    turns: list[list] = []
    for index, ((start, end), label) in enumerate(zip(windows, labels)):
        if index and windows[index - 1][1] > start:  # overlapping the previous window
            cut = (start + windows[index - 1][1]) / 2
            if turns[-1][2] == label:
                turns[-1][1] = end
                continue
            turns[-1][1], start = cut, cut
        if turns and turns[-1][2] == label and start - turns[-1][1] < gap:
            turns[-1][1] = end
        else:
            turns.append([start, end, int(label)])
    return [SpeakerTurn(float(s), float(e), int(k)) for s, e, k in turns]


def speaker_turns(audio: np.ndarray, n_speakers: int | None = None,
                  encoder: VoiceEncoder | None = None) -> list[SpeakerTurn]:
    """Who speaks when in 16 kHz mono ``audio``: turns in time order, speakers numbered by first speech.
    ``n_speakers``: how many people speak, when known; otherwise estimated (cluster_embeddings)."""
    windows = speaker_windows(audio)
    labels = cluster_embeddings(window_embeddings(audio, windows, encoder), n_speakers)
    return turns_from_windows(windows, labels)
