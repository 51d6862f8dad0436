"""Recording conditions: how far a recording is from those the speech model was trained on.

The speech model learned from studio recordings (RAVDESS: noise floor 45-120 dB below the voice). On other
corpora, which are noisier, it is wrong with confidence (CREMA-D, 20-36 dB SNR: 11%), so fusion gives it less
weight there. ``domain_match`` is that weight: 1 for recordings as clean as the training ones, falling
smoothly below the noisiest of them. SNR is a proxy for "recorded unlike the training corpus": noise alone
costs less (benchmarks/speech_noise.py), so noisy but otherwise RAVDESS-like audio is under-trusted.

The SNR estimate needs pauses: the noise floor is the level of the quietest frames, so audio trimmed to
continuous speech reads as noisier than it is.
"""

from __future__ import annotations

import numpy as np

from emofuse.audio.vad import frame_levels
from emofuse.media import SAMPLE_RATE

SPEECH_PERCENTILE = 95  # frame level taken as the voice
NOISE_PERCENTILE = 5  # frame level taken as the noise floor
MAX_SNR_DB = 100.0  # digital silence reads as this
MARGIN_DB = 5.0  # half trust this far below the noisiest 1% of training recordings
SLOPE_DB = 2.5  # width of the fall from full to least trust
MIN_MATCH = 0.01  # least trust: a distrusted voice still counts as present


def snr_db(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Estimated signal-to-noise ratio (dB): the loud frames' level over the quietest frames' level."""
    return snr_from_levels(frame_levels(audio, sample_rate))


def snr_from_levels(levels: np.ndarray) -> float:
    """``snr_db`` from frame levels (dBFS) already measured by ``emofuse.audio.vad.frame_levels``."""
    voice, noise = np.percentile(levels, [SPEECH_PERCENTILE, NOISE_PERCENTILE])
    return float(min(voice - noise, MAX_SNR_DB))


def snr_reference(snrs: list[float] | np.ndarray) -> dict[str, float]:
    """Summary of the training recordings' SNRs that a model card keeps (percentiles 1, 5, 50)."""
    p01, p05, p50 = np.percentile(np.asarray(snrs, dtype=np.float64), [1, 5, 50])
    return {"p01": round(float(p01), 2), "p05": round(float(p05), 2), "p50": round(float(p50), 2),
            "recordings": int(len(snrs))}


def domain_match(snr: float, reference: dict[str, float] | None) -> float:
    """Trust in [MIN_MATCH, 1] for a recording of ``snr`` dB; 1 without a reference.

    A logistic in dB, 0.5 at MARGIN_DB below the noisiest 1% of the training recordings (``reference["p01"]``).
    """
    if not reference:
        return 1.0
    centre = reference["p01"] - MARGIN_DB
    return float(max(MIN_MATCH, 1.0 / (1.0 + np.exp(-(snr - centre) / SLOPE_DB))))
