"""Fusion rules: calibration, confidence, the pooling rules and the settings that choose between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from emofuse.runtime import softmax

if TYPE_CHECKING:
    from emofuse.fusion.evidence import ModalityEvidence

EPS = 1e-6


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log(p) / T)."""
    return softmax(np.log(np.clip(probs, EPS, 1.0)) / temperature)


def fit_temperature(probs: np.ndarray, labels: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The temperature (0.5-3.0) minimising the negative log-likelihood of held-out predictions."""
    grid = np.linspace(0.5, 3.0, 51) if grid is None else grid
    rows = np.arange(len(labels))
    nll = [-np.mean(np.log(np.clip(calibrate(probs, t)[rows, labels], 1e-12, 1))) for t in grid]
    return float(grid[int(np.argmin(nll))])


def confidence(probs: np.ndarray) -> np.ndarray:
    """1 - normalised entropy: 1 for a one-hot distribution, 0 for a uniform one."""
    p = np.clip(probs, EPS, 1.0)
    return 1.0 - (-(p * np.log(p)).sum(axis=-1) / np.log(p.shape[-1]))


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
    """Fused probabilities (N, 7) and, per window, the modalities that contributed (may be empty)."""
    w_speech, w_face = fusion_weights(speech, face, config)
    fused = POOLS[config.rule]([speech.probs, face.probs], [w_speech, w_face])
    sources = [[name for name, w in (("speech", ws), ("face", wf)) if w > 0] for ws, wf in zip(w_speech, w_face)]
    return fused.astype(np.float32), sources
