"""librosa's log-mel, MFCC and delta of a synthetic voice, stored so the tests compare against librosa without
installing it (its numba JIT costs ~40 s of every CI run). Regenerate after changing the signal:
``pip install librosa && python -m tests.librosa_reference`` (writes tests/data/librosa_reference.npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "data" / "librosa_reference.npz"
MEL = {"sr": 16_000, "n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 64, "pad_mode": "constant"}
"""emofuse.audio.features.log_mel's settings, in librosa's words."""


def synthetic_voice(seconds: float = 2.0, rate: int = 16_000) -> np.ndarray:
    """A voiced sound with a gliding pitch, vibrato, ten harmonics, a pause and a little noise (no data files)."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 60 * t / seconds + 5 * np.sin(2 * np.pi * 5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 11))
    envelope = np.where((t > 0.8) & (t < 1.1), 0.0, 1.0)
    noise = np.random.default_rng(0).standard_normal(t.size)
    return (0.2 * voice * envelope + 0.003 * noise).astype(np.float32)


def librosa_features(audio: np.ndarray) -> dict[str, np.ndarray]:
    import librosa

    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, **MEL), ref=1.0, amin=1e-10, top_db=None)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=20)
    return {"log_mel": log_mel, "mfcc": mfcc, "delta": librosa.feature.delta(mfcc, width=9)}


if __name__ == "__main__":
    import librosa

    REFERENCE.parent.mkdir(exist_ok=True)
    arrays = {name: value.astype(np.float32) for name, value in librosa_features(synthetic_voice()).items()}
    np.savez_compressed(REFERENCE, librosa_version=librosa.__version__, **arrays)
    print(f"wrote {REFERENCE} (librosa {librosa.__version__})")
