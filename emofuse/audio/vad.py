"""Energy-based voice activity detection and the fixed-length windows the speech model classifies."""

from __future__ import annotations

import numpy as np

from emofuse.audio.features import HOP_LENGTH
from emofuse.media import SAMPLE_RATE

FRAME_LENGTH = 400  # 25 ms
FRAMES_PER_BLOCK = 4096  # frames measured at a time (about 13 MB)


def frame_energy_db(audio: np.ndarray, frame_length: int = FRAME_LENGTH, hop: int = HOP_LENGTH) -> np.ndarray:
    """RMS level (dBFS) of each hop-spaced frame."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size < frame_length:
        audio = np.pad(audio, (0, frame_length - audio.size))
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame_length)[::hop]
    rms = np.empty(len(frames))
    for start in range(0, len(frames), FRAMES_PER_BLOCK):  # in blocks: memory stays flat for long audio
        block = frames[start:start + FRAMES_PER_BLOCK].astype(np.float64)
        rms[start:start + FRAMES_PER_BLOCK] = np.sqrt(np.mean(block ** 2, axis=1))
    return (20 * np.log10(np.maximum(rms, 1e-8))).astype(np.float32)


def frame_levels(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """RMS level (dBFS) of 25 ms frames every 10 ms, at any sample rate: what the VAD and the SNR estimate read."""
    return frame_energy_db(audio, FRAME_LENGTH * sample_rate // SAMPLE_RATE, HOP_LENGTH * sample_rate // SAMPLE_RATE)


def voiced_segments(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, threshold_db: float = 35.0,
                    floor_db: float = -55.0, min_speech: float = 0.25, min_gap: float = 0.3,
                    pad: float = 0.1, levels: np.ndarray | None = None) -> list[tuple[float, float]]:
    """(start, end) seconds of the voiced stretches of ``audio``.

    A frame is voiced when it is within ``threshold_db`` of the loudest frame (in a robust sense, the 99th
    percentile) and above ``floor_db`` dBFS. Gaps shorter than ``min_gap`` are bridged, stretches shorter
    than ``min_speech`` dropped, and each kept stretch is padded by ``pad`` seconds. ``levels``: the
    ``frame_levels`` of ``audio``, when the caller has them already.
    """
    hop = HOP_LENGTH * sample_rate // SAMPLE_RATE
    level = frame_levels(audio, sample_rate) if levels is None else levels
    loud = float(np.percentile(level, 99)) if level.size else floor_db
    voiced = (level > max(loud - threshold_db, floor_db))
    frame_s = hop / sample_rate
    duration = len(audio) / sample_rate
    segments: list[list[float]] = []
    for start, end in _runs(voiced):
        start_s, end_s = start * frame_s, end * frame_s
        if segments and start_s - segments[-1][1] < min_gap:
            segments[-1][1] = end_s
        else:
            segments.append([start_s, end_s])
    return [(max(0.0, float(s) - pad), min(duration, float(e) + pad))
            for s, e in segments if e - s >= min_speech]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def trim_silence(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Audio from the start of the first voiced stretch to the end of the last (unchanged if none)."""
    segments = voiced_segments(audio, sample_rate)
    if not segments:
        return audio
    return audio[int(segments[0][0] * sample_rate): int(segments[-1][1] * sample_rate)]


def split_windows(start: float, end: float, window: float, hop: float) -> list[tuple[float, float]]:
    """Cover [start, end] with windows of at most ``window`` seconds spaced by ``hop`` (last one flush)."""
    if end - start <= window:
        return [(start, end)]
    starts = list(np.arange(start, end - window, hop)) + [end - window]
    return [(float(s), float(s) + window) for s in starts]
