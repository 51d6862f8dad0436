"""Evidence: each modality's calibrated probabilities in FUSION_LABELS per fusion window, with how much data
backs them (``reliability``) and how much they should count (``weight``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emofuse.fusion.calibrate import calibrate, confidence
from emofuse.labels import FUSION_LABELS, to_fusion_probabilities
from emofuse.results import ModalityResult, SpeechResult

FULL_EVIDENCE_SECONDS = 1.0
"""A modality backed by this many seconds of good evidence (voiced speech, a clear face) is fully reliable."""
FULL_FACE_PIXELS = 64.0
"""A face this wide (in the original frame) or wider counts fully; smaller faces count in proportion."""

Window = tuple[float, float]


@dataclass(frozen=True, eq=False)
class ModalityEvidence:
    """One modality over N fusion windows, in FUSION_LABELS.

    ``probs`` (N, 7), calibrated; ``reliability`` (N,) says how much data backs each window (0 = none), ``weight``
    (N,) is reliability times the model's confidence times the recording's domain match; ``uncalibrated`` (N, 7):
    the model's own probabilities before calibration (default: ``probs``), which a window reports when this is its
    only modality. Calibration sets how two modalities weigh against each other; alone, a modality's reading
    is its own, so the fused label never claims more than its only source.
    """

    probs: np.ndarray
    reliability: np.ndarray
    weight: np.ndarray
    uncalibrated: np.ndarray | None = None

    def alone(self) -> np.ndarray:
        """What a window reports when this is its only modality: the model's own probabilities."""
        return self.probs if self.uncalibrated is None else self.uncalibrated

    @classmethod
    def empty(cls, n: int) -> ModalityEvidence:
        uniform = np.full((n, len(FUSION_LABELS)), 1 / len(FUSION_LABELS), dtype=np.float32)
        return cls(uniform, np.zeros(n), np.zeros(n))

    @classmethod
    def from_model(cls, probs: np.ndarray, labels: Sequence[str], reliability: np.ndarray,
                   temperature: float | None, domain_match: float = 1.0) -> ModalityEvidence:
        """Project a model's probabilities onto the fusion labels and calibrate them (None: temperature 1)."""
        own = to_fusion_probabilities(probs, tuple(labels))
        projected = calibrate(own, temperature or 1.0)
        reliability = np.asarray(reliability, dtype=np.float64)
        return cls(projected, reliability, reliability * np.maximum(confidence(projected), 0.05) * domain_match,
                   own.astype(np.float32))

    def amount(self, hop: float) -> float:
        """Clip reliability from the windows: their reliability-weighted seconds (``hop`` s each)."""
        return evidence_reliability(float(self.reliability.sum()) * hop)


def evidence_reliability(seconds: float) -> float:
    """Clip reliability of a modality from its seconds of good evidence, saturating at FULL_EVIDENCE_SECONDS."""
    return float(min(1.0, seconds / FULL_EVIDENCE_SECONDS))


def time_windows(duration: float, hop: float) -> list[Window]:
    """The fusion windows of a recording: consecutive ``hop``-second spans, the last one cut at ``duration``."""
    n = max(1, int(np.ceil(duration / hop - 1e-9)))
    return [(k * hop, min((k + 1) * hop, duration) if duration > 0 else hop) for k in range(n)]


def speech_evidence(speech: SpeechResult | None, windows: Sequence[Window], temperature: float | None,
                    domain_match: float = 1.0) -> ModalityEvidence:
    """Speech per window: its segments' probabilities weighted by overlap; reliability = voiced share."""
    if speech is None or not speech.segments:
        return ModalityEvidence.empty(len(windows))
    seg_probs = np.array([s.probs for s in speech.segments])
    spans = np.array([[s.start, s.end] for s in speech.segments])
    uniform = np.full(len(speech.labels), 1 / len(speech.labels))
    probs, reliability = [], []
    for start, end in windows:
        overlap = np.clip(np.minimum(spans[:, 1], end) - np.maximum(spans[:, 0], start), 0, None)
        reliability.append(covered_length(spans, start, end) / max(end - start, 1e-6))
        probs.append(overlap @ seg_probs / overlap.sum() if overlap.sum() > 0 else uniform)
    return ModalityEvidence.from_model(np.array(probs), speech.labels, np.array(reliability), temperature,
                                       domain_match)


def face_evidence(times: np.ndarray, probs: np.ndarray, sizes: np.ndarray, scores: np.ndarray,
                  labels: Sequence[str], windows: Sequence[Window], frames_per_window: float | np.ndarray,
                  temperature: float | None) -> ModalityEvidence:
    """One face's samples (time, probabilities, size in pixels, detector score) per window.

    Reliability = share of the window's analysed frames with the face x face size (full at FULL_FACE_PIXELS)
    x mean detector score. ``frames_per_window``: frames analysed in a window (one number, or one per window when
    windows differ in length, as utterances do).
    """
    if not len(times):
        return ModalityEvidence.empty(len(windows))
    times = np.asarray(times)
    expected = np.broadcast_to(np.asarray(frames_per_window, dtype=float), (len(windows),))
    window_probs, reliability = [], []
    for (start, end), frames in zip(windows, expected):
        inside = (times >= start) & (times < end)
        if not inside.any():
            window_probs.append(np.full(len(labels), 1 / len(labels)))
            reliability.append(0.0)
            continue
        window_probs.append(probs[inside].mean(axis=0))
        presence = min(1.0, inside.sum() / max(1.0, frames))
        size = min(1.0, float(np.mean(sizes[inside])) / FULL_FACE_PIXELS)
        reliability.append(presence * size * float(np.mean(scores[inside])))
    return ModalityEvidence.from_model(np.array(window_probs), labels, np.array(reliability), temperature)


def clip_evidence(block: ModalityResult | None, reliability: float, temperature: float | None,
                  domain_match: float = 1.0) -> ModalityEvidence:
    """Clip-level evidence (one row) from a modality's result and its clip reliability in [0, 1]."""
    if block is None or block.probs is None:
        return ModalityEvidence.empty(1)
    return ModalityEvidence.from_model(block.probs[None], block.labels, np.array([reliability]), temperature,
                                       domain_match)


def covered_length(spans: np.ndarray, start: float, end: float) -> float:
    """Length of [start, end] covered by the union of ``spans``."""
    clipped = sorted((max(s, start), min(e, end)) for s, e in spans if e > start and s < end)
    total, cursor = 0.0, start
    for s, e in clipped:
        s = max(s, cursor)
        if e > s:
            total += e - s
            cursor = e
    return total
