"""Waveform augmentation that makes studio speech sound like other microphones and rooms' noise (NumPy + soxr).

Applied before the Whisper front end, so the frozen encoder sees what a laptop or phone recording gives it:
additive noise (white, pink or brown) at 5-30 dB SNR, telephone band-limiting (8 kHz round trip) and 8-bit
mu-law coding. Gain is not varied: the front end peak-normalises every input, which cancels it.

Speed change (0.9-1.1) and synthetic room reverberation (RT60 0.15-0.8 s) were tried and left out: with them the
model trained on RAVDESS read German EmoDB 13 points worse (48.0% against 61.0% with noise alone) and EmoDB-trained
read RAVDESS 1.0 point worse, for no gain on noisy speech (docs/results.md).

``random_warp`` draws a speaker perturbation (the spectrum's frequency axis warped, applied in the Whisper front
end: emofuse.audio.whisper.warp_spectrum) for the recipe's ``--warps`` renditions. Measured 2026-12-05: +0.5 point
within RAVDESS, -5.7 on EmoDB from a RAVDESS-only model, so the recipe's default is no warped rendition.
"""

from __future__ import annotations

import numpy as np
import soxr

from emofuse.media import SAMPLE_RATE

VERSION = "noise2"
"""Names the augmentation in the feature cache, so a changed recipe never reuses stale features."""


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise of unit RMS with power ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.maximum(np.arange(len(spectrum)), 1) ** (exponent / 2)
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """``audio`` plus coloured noise ``snr_db`` below the power of its active samples (within 34 dB of the peak)."""
    active = audio[np.abs(audio) > 0.02 * np.abs(audio).max(initial=1e-9)]
    power = float(np.mean(active**2)) if active.size else 1e-6
    return audio + coloured_noise(len(audio), exponent, rng) * np.sqrt(power / 10 ** (snr_db / 10))


def band_limit(audio: np.ndarray) -> np.ndarray:
    """Telephone bandwidth: down to 8 kHz and back."""
    return soxr.resample(soxr.resample(audio, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)[: len(audio)]


def mu_law(audio: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise with mu-law companding at ``bits`` bits (a cheap codec's grain)."""
    mu = 2**bits - 1
    x = np.clip(audio / (np.abs(audio).max() + 1e-9), -1, 1)
    coded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    coded = np.round((coded + 1) / 2 * mu) / mu * 2 - 1
    return np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu * np.abs(audio).max()


WARP_RANGE = (0.88, 1.12)
"""Frequency warps of the speaker perturbation: about the ratio between typical female and male formants."""


def random_warp(rng: np.random.Generator) -> float:
    """A speaker perturbation: the factor by which the spectrum's frequency axis is warped
    (emofuse.audio.whisper.warp_spectrum), uniform in WARP_RANGE."""
    return float(rng.uniform(*WARP_RANGE))


def random_recording(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random chain of the augmentations above (each applied with its own probability)."""
    out = np.asarray(audio, dtype=np.float64)
    if rng.random() < 0.8:
        out = add_noise(out, float(rng.uniform(5, 30)), rng, exponent=float(rng.choice([0.0, 1.0, 2.0])))
    if rng.random() < 0.3:
        out = band_limit(out)
    if rng.random() < 0.2:
        out = mu_law(out)
    return out.astype(np.float32)
