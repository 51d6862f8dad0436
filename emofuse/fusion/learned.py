"""Learned fusion: a multinomial logistic regression over both modalities, fitted on paired clips (NumPy only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emofuse.errors import InputError
from emofuse.fusion.calibrate import EPS
from emofuse.fusion.combine import FusionConfig
from emofuse.fusion.evidence import ModalityEvidence, clip_evidence
from emofuse.labels import FUSION_LABELS, to_fusion_label
from emofuse.results import Result
from emofuse.runtime import softmax


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
        if self.weights is None or self.bias is None:
            raise ValueError("fit the learned fusion before saving it")
        Path(path).write_text(json.dumps({"labels": list(FUSION_LABELS), "weights": self.weights.tolist(),
                                          "bias": self.bias.tolist(), "l2": self.l2}))

    @classmethod
    def load(cls, path: str | Path) -> LearnedFusion:
        """A model saved by ``save``; a missing or malformed file is an InputError naming it."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            weights, bias = np.array(data["weights"], dtype=np.float64), np.array(data["bias"], dtype=np.float64)
            l2 = float(data.get("l2", 1e-2))
        except OSError as exc:
            raise InputError(path, f"cannot read the fusion model ({exc.strerror or exc})") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InputError(path, f"not a fusion model saved by 'emofuse train fusion' ({exc})") from None
        n = len(FUSION_LABELS)
        if weights.shape != (2 * n + 4, n) or bias.shape != (n,) or not np.isfinite(weights).all():
            raise InputError(path, f"fusion model has weights {weights.shape} and bias {bias.shape}, "
                                   f"expected {(2 * n + 4, n)} and {(n,)}")
        return cls(weights, bias, l2)


def clip_features(results: Sequence[Result], config: FusionConfig) -> np.ndarray:
    """Learned-fusion features, one row per clip, from its speech and face results and their reliabilities."""
    rows = []
    for result in results:
        reliability = result.fused.reliability
        speech = clip_evidence(result.speech, reliability["speech"], config.speech_temperature)
        face = clip_evidence(result.face, reliability["face"], config.face_temperature)
        rows.append(LearnedFusion.features(speech, face)[0])
    return np.array(rows)


def leave_one_out(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Learned-fusion prediction for each clip by a model fitted on all the other clips."""
    return np.array([int(LearnedFusion().fit(np.delete(x, i, 0), np.delete(y, i)).predict_proba(x[i:i + 1]).argmax())
                     for i in range(len(y))])


def compare_with_rule(analysed: Sequence[tuple[Result, str]], config: FusionConfig) -> tuple[LearnedFusion, dict]:
    """Fit the learned fusion on labelled clips and score it against the rule, both leave-one-clip-out.

    The rule has nothing to fit, so its accuracy on each left-out clip is its accuracy on that clip.
    """
    results = [result for result, _ in analysed]
    x = clip_features(results, config)
    y = np.array([FUSION_LABELS.index(to_fusion_label(label)) for _, label in analysed])
    rule = np.array([FUSION_LABELS.index(r.fused.label) if r.fused.label else FUSION_LABELS.index("neutral")
                     for r in results])
    summary = {"clips": len(y), "protocol": "leave-one-clip-out over the paired clips given (the rule fits nothing)",
               "learned_accuracy": float(np.mean(leave_one_out(x, y) == y)),
               "rule_accuracy": float(np.mean(rule == y))}
    return LearnedFusion().fit(x, y), summary
