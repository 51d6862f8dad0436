"""Adaptation of the speech model to a person, a session or a batch: a reference the features are read against.

Emotion in a voice is a departure from that voice's own baseline. The speech card ships a second head trained on
*speaker-referenced* features (each training speaker's and room's mean subtracted); adaptation supplies the
reference for the person being analysed:

- ``enrol``: a short calm recording of the person; its mean plus the training speakers' mean gap between all
  their clips and their neutral ones (``neutral_offset`` on the card), shrunk towards the training mean like a
  session (a few windows are a noisy estimate: unshrunk, 2 neutral clips cost 6 points on RAVDESS);
- ``session``: the running mean of what has been heard so far, shrunk towards the training mean while little
  has been heard (``SESSION_PRIOR_WINDOWS`` windows of prior);
- ``batch``: the mean of a whole batch of unlabelled recordings (optionally per speaker).

Mode ``none`` (the default) uses the plain head. A ``VoiceProfile`` is saved as JSON (``emofuse enrol``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from emofuse.errors import InputError

AdaptMode = Literal["none", "enrol", "session", "batch"]
ADAPT_MODES: tuple[str, ...] = get_args(AdaptMode)
SESSION_PRIOR_WINDOWS = 2.0
"""Weight, in windows, of the training mean in a session reference: after ~10 s of voice it has little say."""


@dataclass(frozen=True)
class VoiceProfile:
    """A reference for speech features: what a person (or batch) sounds like on average."""

    mean: np.ndarray
    mode: AdaptMode
    windows: int
    seconds: float

    def describe(self) -> dict:
        """What the results record: the mode and how much audio the reference came from."""
        return {"mode": self.mode, "windows": self.windows, "seconds": round(float(self.seconds), 2)}

    def to_dict(self) -> dict:
        return {**self.describe(), "mean": [round(float(v), 6) for v in self.mean], "format": "emofuse-profile-1"}

    @classmethod
    def from_dict(cls, data: dict) -> VoiceProfile:
        return cls(np.asarray(data["mean"], np.float32), data["mode"], int(data["windows"]), float(data["seconds"]))

    def save(self, path: str | Path) -> Path:
        from emofuse.results import write_json

        return write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> VoiceProfile:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            if data.get("format") != "emofuse-profile-1":
                raise ValueError("not an emofuse profile")
            return cls.from_dict(data)
        except FileNotFoundError:
            raise InputError(path, "no such profile file") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"not a readable emofuse profile ({exc})") from None


def enrol_profile(features: np.ndarray, seconds: float, neutral_offset: np.ndarray, train_mean: np.ndarray,
                  prior_windows: float = SESSION_PRIOR_WINDOWS) -> VoiceProfile:
    """Profile from the encoder features (N, dim) of a calm enrolment recording."""
    if not len(features):
        raise ValueError("the enrolment recording holds no voiced audio")
    n = len(features)
    mean = (n * (features.mean(0) + neutral_offset) + prior_windows * train_mean) / (n + prior_windows)
    return VoiceProfile(mean.astype(np.float32), "enrol", n, seconds)


def batch_profile(features: np.ndarray, seconds: float) -> VoiceProfile:
    """Profile from the features (N, dim) of a batch of unlabelled recordings."""
    if not len(features):
        raise ValueError("the batch holds no voiced audio")
    return VoiceProfile(features.mean(0), "batch", len(features), seconds)


class SessionReference:
    """Running reference of a live or long recording: the mean so far, shrunk towards the training mean."""

    def __init__(self, train_mean: np.ndarray, prior_windows: float = SESSION_PRIOR_WINDOWS):
        self.train_mean = np.asarray(train_mean, np.float32)
        self.prior = prior_windows
        self.total = np.zeros_like(self.train_mean)
        self.windows = 0
        self.seconds = 0.0

    def update(self, features: np.ndarray, seconds: float) -> None:
        """Add the features (N, dim) of newly heard windows lasting ``seconds`` in all."""
        self.total += features.sum(0)
        self.windows += len(features)
        self.seconds += seconds

    def profile(self) -> VoiceProfile:
        mean = (self.total + self.prior * self.train_mean) / (self.windows + self.prior)
        return VoiceProfile(mean.astype(np.float32), "session", self.windows, self.seconds)
