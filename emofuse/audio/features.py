"""Speech features in plain NumPy: STFT, log-mel spectrogram, MFCC and deltas.

Classic hand-made features (librosa-compatible), for users and baselines; the shipped speech model reads
Whisper's own front end instead (emofuse.audio.whisper). The mel filterbank follows the Slaney
convention (as librosa's default), so results match ``librosa.feature.melspectrogram`` closely.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from emofuse.media import SAMPLE_RATE

N_FFT = 512
WIN_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms at 16 kHz
N_MELS = 64
N_MFCC = 20


@lru_cache(maxsize=8)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)  # periodic Hann
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left)).astype(np.float32)


def stft_power(audio: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
               win_length: int = WIN_LENGTH) -> np.ndarray:
    """Power spectrogram (1 + n_fft // 2, frames) of a 1-D signal; frames are centred (zero padding)."""
    return framed_power(centred(audio, n_fft), n_fft, hop_length, win_length)


def centred(audio: np.ndarray, n_fft: int = N_FFT) -> np.ndarray:
    """``audio`` (float32) zero-padded by half a window on each side (at least one window long): frame i of a
    centred STFT starts at sample i * hop of it."""
    padded = np.pad(np.asarray(audio, dtype=np.float32), n_fft // 2)
    return np.pad(padded, (0, n_fft - padded.size)) if padded.size < n_fft else padded


def framed_power(padded: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
                 win_length: int = WIN_LENGTH) -> np.ndarray:
    """Power spectrogram (1 + n_fft // 2, frames) of the windows starting every ``hop_length`` samples of
    ``padded`` (no padding added: any stretch of a ``centred`` signal gives its frames exactly)."""
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.fft.rfft(frames * _window(win_length, n_fft), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32).T


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape (n_mels, 1 + n_fft // 2)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_power(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS) -> np.ndarray:
    """Mel power spectrogram (n_mels, frames)."""
    return mel_filterbank(sample_rate, N_FFT, n_mels) @ stft_power(audio)


def power_to_db(power: np.ndarray, amin: float = 1e-10) -> np.ndarray:
    """10 * log10(power), floored at ``amin`` (absolute reference, no top-db clipping)."""
    return (10.0 * np.log10(np.maximum(power, amin))).astype(np.float32)


def log_mel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel spectrogram in dB, shape (n_mels, frames): the input of the speech models."""
    return power_to_db(mel_power(audio, sample_rate, n_mels))


@lru_cache(maxsize=4)
def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def mfcc(audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE, n_mfcc: int = N_MFCC,
         log_mel_spec: np.ndarray | None = None) -> np.ndarray:
    """MFCCs (n_mfcc, frames): orthonormal DCT-II of the log-mel spectrogram."""
    if log_mel_spec is None and audio is None:
        raise ValueError("mfcc needs audio or a log-mel spectrogram")
    spec = log_mel(audio, sample_rate) if log_mel_spec is None else log_mel_spec  # type: ignore[arg-type]
    return _dct_matrix(spec.shape[0], n_mfcc) @ spec


def delta(features: np.ndarray, width: int = 9) -> np.ndarray:
    """Regression deltas along the last axis over ``width`` frames (edges repeat the end frames)."""
    half = width // 2
    padded = np.pad(features, [(0, 0)] * (features.ndim - 1) + [(half, half)], mode="edge")
    weights = np.arange(-half, half + 1, dtype=np.float32)
    frames = features.shape[-1]
    out = np.sum([w * padded[..., half + int(w): half + int(w) + frames] for w in weights if w], axis=0)
    return (out / np.sum(weights**2)).astype(np.float32)


def mfcc_with_deltas(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """MFCC, delta and delta-delta stacked: (3 * N_MFCC, frames)."""
    coeffs = mfcc(audio, sample_rate)
    first = delta(coeffs)
    return np.concatenate([coeffs, first, delta(first)], axis=0)
