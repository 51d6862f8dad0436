"""Calibration: each model's probabilities tempered, and how confident a distribution is (the first step of fusion)."""

from __future__ import annotations

import numpy as np

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
