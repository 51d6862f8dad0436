"""Whisper's log-mel front end in NumPy and the shipped (truncated) Whisper encoder on onnxruntime.

The front end reproduces OpenAI Whisper's ``log_mel_spectrogram``: 80 Slaney mel bands, n_fft 400, hop 160,
periodic Hann window, reflect-padded centred frames (the last one dropped), ``log10`` clamped at 1e-10, floored
8 (log10 units) below the input's maximum, then ``(x + 4) / 4``. Each input is peak-normalised first: corpora
differ in level by more than 20 dB, and Whisper's features are not level-invariant.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from emofuse.audio.features import mel_filterbank
from emofuse.media import SAMPLE_RATE

N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
PEAK_DBFS = -1.0
ENCODER_FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH / 2  # the encoder's stride-2 convolution halves 100 Hz


@lru_cache(maxsize=2)
def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def peak_normalize(audio: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scale ``audio`` so its largest absolute sample is at ``peak_dbfs`` (silence is returned unchanged)."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio), initial=0.0))
    return audio if peak <= 1e-8 else audio * np.float32(10 ** (peak_dbfs / 20) / peak)


def warp_spectrum(power: np.ndarray, alpha: float, boundary_hz: float = 4800.0) -> np.ndarray:
    """``power`` (frames, bins up to Nyquist) with its frequency axis warped by ``alpha`` as vocal tract length
    perturbation does (Jaitly & Hinton 2013): a component at f moves to alpha * f below the boundary, and the band
    above is stretched or squeezed linearly so that Nyquist stays put. Pitch and formants move together."""
    nyquist = SAMPLE_RATE / 2
    source = np.linspace(0, nyquist, power.shape[-1])
    knee = boundary_hz * min(alpha, 1.0) / alpha
    warped = np.where(source <= knee, source * alpha,
                      nyquist - (nyquist - boundary_hz * min(alpha, 1.0)) / (nyquist - knee) * (nyquist - source))
    taken_from = np.interp(source, warped, source)  # for each output frequency, where it came from
    position = taken_from / nyquist * (power.shape[-1] - 1)
    low = np.minimum(position.astype(int), power.shape[-1] - 2)
    share = (position - low).astype(np.float32)
    return power[..., low] * (1 - share) + power[..., low + 1] * share


def whisper_log_mel(audio: np.ndarray, normalize_peak: bool = True, warp: float = 1.0) -> np.ndarray:
    """Whisper's log-mel spectrogram (80, frames) of 16 kHz mono audio; frames = len(audio) // 160.

    An odd frame count is cut by one, since the encoder halves the time axis. ``warp`` != 1 warps the spectrum's
    frequency axis first (``warp_spectrum``: a training augmentation; inference never sets it).
    """
    audio = peak_normalize(audio) if normalize_peak else np.asarray(audio, dtype=np.float32)
    if audio.size < N_FFT:
        audio = np.pad(audio, (0, N_FFT - audio.size))
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH][:-1]
    frames = frames[: len(frames) - len(frames) % 2]
    spectrum = np.fft.rfft(frames * _hann(N_FFT), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    if warp != 1.0:
        power = warp_spectrum(power, warp)
    mel = mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


class WhisperFeatures:
    """Time-pooled hidden states of the shipped truncated Whisper encoder (ONNX), one vector per window.

    The ONNX graph takes ``mel`` (batch, 80, frames) and returns ``features`` (batch, dim): the mean over time
    of the chosen layers' hidden states, concatenated (see the speech model card).
    """

    def __init__(self, path: str | Path):
        from emofuse.runtime import onnx_session

        self.session = onnx_session(path)

    def __call__(self, windows: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Features (N, dim) of N windows of 16 kHz audio; windows of equal length run together, ``batch_size``
        at a time (so memory does not grow with the length of the recording)."""
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(windows)
        by_length: dict[int, list[int]] = {}
        for i, window in enumerate(windows):
            by_length.setdefault(len(window), []).append(i)
        for idx in by_length.values():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start:start + batch_size]
                mels = np.stack([whisper_log_mel(windows[i]) for i in chunk])
                for i, features in zip(chunk, self.session.run(None, {"mel": mels})[0]):
                    out[i] = features
        dim = self.session.get_outputs()[0].shape[-1]
        return np.stack(out) if out else np.zeros((0, dim if isinstance(dim, int) else 0), np.float32)
