"""Combining the modalities' evidence: the pooling rules, the settings that choose between them, the weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emofuse.fusion.calibrate import EPS
from emofuse.fusion.evidence import ModalityEvidence
from emofuse.runtime import softmax


def log_linear_pool(probs: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Weighted geometric mean of distributions (..., K), renormalised; weights (...,) may be 0."""
    logs = np.sum([w[..., None] * np.log(np.clip(p, EPS, 1.0)) for p, w in zip(probs, weights)], axis=0)
    total = np.sum(weights, axis=0)[..., None]
    return softmax(np.where(total > 0, logs / np.maximum(total, EPS), 0.0))


def linear_pool(probs: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Weighted arithmetic mean of distributions (..., K); uniform where all weights (...,) are 0."""
    mixed = np.sum([w[..., None] * p for p, w in zip(probs, weights)], axis=0)
    total = np.sum(weights, axis=0)[..., None]
    uniform = np.full_like(mixed, 1.0 / mixed.shape[-1])
    return np.where(total > 0, mixed / np.maximum(total, EPS), uniform)


POOLS = {"linear": linear_pool, "log-linear": log_linear_pool}
"""Fusion rules by name: the weighted sum rule and the weighted product rule (default)."""


@dataclass(frozen=True)
class FusionConfig:
    """Prior trust in each modality, each model's calibration temperature and the pooling rule.

    A temperature left at None is the model card's (``Analyzer.fusion_config()`` fills it in; 1.0 without a model).
    """

    rule: str = "log-linear"  # "log-linear" (weighted product of experts) or "linear" (weighted sum rule)
    speech_prior: float = 1.0
    face_prior: float = 1.0
    speech_temperature: float | None = None
    face_temperature: float | None = None
    min_reliability: float = 0.05  # below this a modality is treated as missing in the window
    use_domain_match: bool = True  # weight speech by how closely the recording matches the training recordings

    def __post_init__(self) -> None:
        if self.rule not in POOLS:
            raise ValueError(f"unknown fusion rule {self.rule!r} (choose from {', '.join(POOLS)})")


def fusion_weights(speech: ModalityEvidence, face: ModalityEvidence,
                   config: FusionConfig) -> tuple[np.ndarray, np.ndarray]:
    """The pooling weights (N,) of speech and face: prior times weight, 0 below ``min_reliability``."""
    w_speech = np.where(speech.reliability >= config.min_reliability, config.speech_prior * speech.weight, 0.0)
    w_face = np.where(face.reliability >= config.min_reliability, config.face_prior * face.weight, 0.0)
    return w_speech, w_face


def fuse(speech: ModalityEvidence, face: ModalityEvidence, config: FusionConfig) -> tuple[np.ndarray, list[list[str]]]:
    """Fused probabilities (N, 7) and, per window, the modalities that contributed (may be empty): both pooled by
    the rule where both count, a modality's own probabilities where it is alone."""
    w_speech, w_face = fusion_weights(speech, face, config)
    fused = POOLS[config.rule]([speech.probs, face.probs], [w_speech, w_face])
    fused = np.where(((w_speech > 0) & (w_face == 0))[:, None], speech.alone(), fused)
    fused = np.where(((w_face > 0) & (w_speech == 0))[:, None], face.alone(), fused)
    sources = [[name for name, w in (("speech", ws), ("face", wf)) if w > 0] for ws, wf in zip(w_speech, w_face)]
    return fused.astype(np.float32), sources
