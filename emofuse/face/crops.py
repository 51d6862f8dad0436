"""The face crop the expression model takes: 48x48 grey, as in FER2013."""

from __future__ import annotations

import numpy as np

CROP_SIZE = 48


def crops_to_input(crops: np.ndarray) -> np.ndarray:
    """uint8 grey crops (N, 48, 48) -> float32 model input (N, 1, 48, 48) in [-0.5, 0.5]."""
    crops = np.asarray(crops)
    return (crops.astype(np.float32)[:, None] / 255.0 - 0.5).astype(np.float32)
