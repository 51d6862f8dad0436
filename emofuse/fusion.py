"""Decision-level fusion of speech and face in the 7-label fusion set.

Each modality's probabilities are projected onto ``FUSION_LABELS`` (calm -> neutral), calibrated with the
temperature on its model card, and combined by a weighted log-linear opinion pool (the product of experts; the
weighted linear pool, the sum rule, is the alternative ``FusionConfig(rule="linear")``)::

    p(y) ∝ prod_m p_m(y) ** (w_m / sum_m w_m),    w_m = prior_m * reliability_m * confidence_m * domain_m

``reliability`` is in [0, 1]: per window, for speech the voiced share of the window, for the face the share
of sampled frames with a face times a face-size term times the detector score; both are multiplied by the
model's own confidence (1 - normalised entropy, floored at 0.05). ``domain`` is how much the recording resembles
the model's training data: for speech the ``domain_match`` of its SNR (emofuse.audio.quality; a model trained on
studio audio is confidently wrong on noisy recordings), 1 for the face. A modality with no data in a window
(silence, no face, no audio track) gets weight 0, so the other carries the window alone and ``sources`` says so.
The product is the default because a weight there is an exponent: a distrusted modality's distribution is
flattened, while in a sum a peaked but distrusted modality still outvotes a flat trusted one (docs/design.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emofuse.labels import FUSION_LABELS, to_fusion_probabilities
from emofuse.runtime import softmax

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
    logs = sum(w[..., None] * np.log(np.clip(p, EPS, 1.0)) for p, w in zip(probs, weights))
    total = sum(weights)[..., None]
    return softmax(np.where(total > 0, logs / np.maximum(total, EPS), 0.0))


def linear_pool(probs: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Weighted arithmetic mean of distributions (..., K); uniform where all weights (...,) are 0."""
    mixed = sum(w[..., None] * p for p, w in zip(probs, weights))
    total = sum(weights)[..., None]
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


@dataclass
class ModalityEvidence:
    """One modality over N fusion windows, in FUSION_LABELS.

    ``probs`` (N, 7); ``reliability`` (N,) says how much data backs each window (0 = none), ``weight``
    (N,) is reliability times the model's confidence times the recording's domain match.
    """

    probs: np.ndarray
    reliability: np.ndarray
    weight: np.ndarray

    @classmethod
    def empty(cls, n: int) -> ModalityEvidence:
        uniform = np.full((n, len(FUSION_LABELS)), 1 / len(FUSION_LABELS), dtype=np.float32)
        return cls(uniform, np.zeros(n), np.zeros(n))

    @classmethod
    def from_model(cls, probs: np.ndarray, labels: tuple[str, ...], reliability: np.ndarray,
                   temperature: float | None, domain_match: float = 1.0) -> ModalityEvidence:
        """Project a model's probabilities onto the fusion labels and calibrate them (None: temperature 1)."""
        projected = calibrate(to_fusion_probabilities(probs, labels), temperature or 1.0)
        reliability = np.asarray(reliability, dtype=np.float64)
        return cls(projected, reliability, reliability * np.maximum(confidence(projected), 0.05) * domain_match)


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


# ---------------------------------------------------------------- learned fusion
class LearnedFusion:
    """Multinomial logistic regression on both modalities' log-probabilities and reliabilities.

    For users with paired audio-visual data: ``fit`` it (NumPy, no torch), ``save`` it as JSON, and pass it
    to the pipeline. Features: log p_speech (7), log p_face (7), reliabilities (2), presence flags (2).
    """

    def __init__(self, weights: np.ndarray | None = None, bias: np.ndarray | None = None, l2: float = 1e-2):
        self.weights, self.bias, self.l2 = weights, bias, l2

    @staticmethod
    def features(speech: ModalityEvidence, face: ModalityEvidence) -> np.ndarray:
        has_s, has_f = (speech.reliability > 0).astype(float), (face.reliability > 0).astype(float)
        return np.hstack([np.log(np.clip(speech.probs, EPS, 1)) * has_s[:, None],
                          np.log(np.clip(face.probs, EPS, 1)) * has_f[:, None],
                          speech.reliability[:, None], face.reliability[:, None], has_s[:, None], has_f[:, None]])

    def fit(self, x: np.ndarray, y: np.ndarray, steps: int = 500, lr: float = 0.5) -> LearnedFusion:
        """Full-batch gradient descent on the L2-regularised cross-entropy (initialised at equal weights)."""
        n_classes = len(FUSION_LABELS)
        w = np.zeros((x.shape[1], n_classes))
        w[:n_classes, :] = np.eye(n_classes) * 0.5
        w[n_classes:2 * n_classes, :] = np.eye(n_classes) * 0.5
        b = np.zeros(n_classes)
        target = np.eye(n_classes)[y]
        for _ in range(steps):
            p = softmax(x @ w + b)
            grad = (p - target) / len(x)
            w -= lr * (x.T @ grad + self.l2 * w)
            b -= lr * grad.sum(axis=0)
        self.weights, self.bias = w, b
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(x @ self.weights + self.bias)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"labels": list(FUSION_LABELS), "weights": self.weights.tolist(),
                                          "bias": self.bias.tolist(), "l2": self.l2}))

    @classmethod
    def load(cls, path: str | Path) -> LearnedFusion:
        data = json.loads(Path(path).read_text())
        return cls(np.array(data["weights"]), np.array(data["bias"]), data.get("l2", 1e-2))
