"""Who is speaking: voice embeddings from Resemblyzer's speaker encoder (converted to ONNX, models/voice_encoder.md).

Two stretches of speech by the same person give embeddings with a high cosine similarity (they are unit length
and non-negative, so the dot product lies in [0, 1]); different people lower ones. NumPy in, NumPy out:

>>> encoder = VoiceEncoder()
>>> a, b = encoder.embed(audio_a), encoder.embed(audio_b)     # 16 kHz mono float32
>>> float(a @ b)
"""

from __future__ import annotations

import numpy as np

from emofuse.audio.features import centred, framed_power, mel_filterbank
from emofuse.media import SAMPLE_RATE
from emofuse.runtime import onnx_session

FRAME_HOP = 160  # samples: 10 ms
PARTIAL_FRAMES = 160  # 1.6 s of frames per embedding, as the encoder was trained
TARGET_DBFS = -30.0  # quieter speech is raised to this level first (never lowered)
FRAMES_PER_BLOCK = 6000  # spectrum frames computed at a time (a minute of audio, ~10 MB)


def voice_frames(audio: np.ndarray) -> np.ndarray:
    """The encoder's input (frames, 40): 40-band mel power of 25 ms windows every 10 ms (not logarithmic)."""
    audio = np.asarray(audio, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms > 0:
        gain = 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20)
        audio = audio * np.float32(max(gain, 1.0))
    padded = centred(audio, 400)
    n_frames = 1 + (padded.size - 400) // FRAME_HOP
    mel = mel_filterbank(SAMPLE_RATE, 400, 40)
    out = np.empty((n_frames, 40), np.float32)
    for first in range(0, n_frames, FRAMES_PER_BLOCK):  # in blocks: an hour's spectrum never sits in memory whole
        last = min(n_frames, first + FRAMES_PER_BLOCK)
        stretch = padded[first * FRAME_HOP:(last - 1) * FRAME_HOP + 400]
        out[first:last] = (mel @ framed_power(stretch, 400, FRAME_HOP, 400)).T
    return out


def partial_starts(n_samples: int, per_second: float = 1.3, min_coverage: float = 0.75) -> list[int]:
    """First frames of the 1.6 s partials an utterance of ``n_samples`` is read in, ``per_second`` a second (as
    Resemblyzer reads it): the last one is dropped when less than ``min_coverage`` of it holds audio, unless it
    is the only one."""
    n_frames = int(np.ceil((n_samples + 1) / FRAME_HOP))
    step = int(round(SAMPLE_RATE / per_second / FRAME_HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    if len(starts) > 1 and (n_samples - starts[-1] * FRAME_HOP) < min_coverage * PARTIAL_FRAMES * FRAME_HOP:
        starts.pop()
    return starts


class VoiceEncoder:
    """Speaker embeddings (256 values, unit length) of 16 kHz speech."""

    def __init__(self) -> None:
        from emofuse.models import MODELS_DIR

        self.session = onnx_session(MODELS_DIR / "voice_encoder.onnx")

    def embed_partials(self, audio: np.ndarray) -> np.ndarray:
        """One embedding per 1.6 s partial of ``audio`` (N, 256); audio shorter than a partial is zero-padded."""
        audio = np.asarray(audio, dtype=np.float32)
        starts = partial_starts(len(audio))
        audio = np.pad(audio, (0, max(0, (starts[-1] + PARTIAL_FRAMES) * FRAME_HOP - len(audio))))
        frames = voice_frames(audio)
        batch = np.stack([frames[s:s + PARTIAL_FRAMES] for s in starts])
        return self.session.run(None, {"frames": batch})[0]

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """One embedding (256,) of an utterance: its partials' mean, made unit length again."""
        mean = self.embed_partials(audio).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)
