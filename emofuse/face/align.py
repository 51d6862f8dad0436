"""Cut the 48x48 grey face crop the expression model was trained on (FER2013 framing).

With landmarks the face is aligned by a similarity transform onto the mean FER2013 landmark positions
(measured by running MTCNN over FER2013 PublicTest); without them the detector's box is squared and resized.
"""

from __future__ import annotations

import numpy as np

from emofuse.face.crops import CROP_SIZE
from emofuse.face.detect import Detection

FER_LANDMARKS = np.array([[14.9, 18.4], [33.1, 18.1], [23.9, 28.5], [16.6, 37.5], [31.7, 37.2]], dtype=np.float64)
"""Median MTCNN landmarks on FER2013 crops (48x48): eyes, nose tip, mouth corners."""


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares rotation + uniform scale + shift mapping ``src`` points onto ``dst``."""
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - src_mean, dst - dst_mean
    a = (s * d).sum() / (s**2).sum()
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / (s**2).sum()
    rotation = np.array([[a, -b], [b, a]])
    return np.hstack([rotation, (dst_mean - rotation @ src_mean)[:, None]])


def face_crop(grey: np.ndarray, detection: Detection, size: int = CROP_SIZE) -> np.ndarray:
    """The aligned uint8 (size, size) crop of one detected face from a grey image."""
    import cv2

    oversample = 2  # warp at twice the size, then area-downsample, to avoid aliasing
    if detection.landmarks is not None:
        matrix = similarity_transform(np.asarray(detection.landmarks, dtype=np.float64),
                                      FER_LANDMARKS * size / CROP_SIZE * oversample)
    else:
        x0, y0, x1, y1 = detection.box
        side = max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        scale = size * oversample / side
        matrix = np.array([[scale, 0, size * oversample / 2 - scale * cx],
                           [0, scale, size * oversample / 2 - scale * cy]])
    big = cv2.warpAffine(grey, matrix, (size * oversample, size * oversample), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def face_crops(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """Aligned crops (N, 48, 48) uint8 of all ``detections`` in an RGB image."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if not detections:
        return np.zeros((0, CROP_SIZE, CROP_SIZE), dtype=np.uint8)
    return np.stack([face_crop(grey, d) for d in detections])
