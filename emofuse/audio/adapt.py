"""Adaptation of the speech model to a person, a session or a batch: a reference the features are read against.

Emotion in a voice is a departure from that voice's own baseline. The speech card ships a second head trained on
*speaker-referenced* features (each training speaker's and room's mean over all their clips subtracted);
adaptation supplies that reference for the person being analysed. A speaker's mean over all emotions is what the
head expects, but what a user gives is a calm recording, or a session with more of some emotions than others. So
every reference is the mean of what was heard minus the offsets of the emotions it holds (``class_offsets`` on
the card: over the training speakers, each emotion's mean minus the speaker's mean), weighted by their share:

- ``enrol``: a short calm recording of the person: all of it neutral. Shrunk towards the training mean like a
  short session (unshrunk, 2 neutral clips cost 6 points on RAVDESS);
- ``session``: the running mean of what has been heard so far, its emotion mix estimated from the plain head's
  readings (half trusted: ``MIX_TRUST``), shrunk towards a prior (the training mean, or the person's enrolment
  profile) while little has been heard (``SESSION_PRIOR_WINDOWS`` windows of prior);
- ``batch``: the mean of a whole batch of unlabelled recordings (optionally per speaker). Its mix is estimated by
  EM on the class priors (``em_mix``, Saerens et al. 2002) over two readings averaged: the plain head's and the
  adapted head's against an all-emotions-alike reference (``batch_mix``); each window's reading against the batch
  profile is then averaged with the plain head's. A batch may hold only a few emotions (only angry clips; no
  neutral): a mix half taken as even read such batches far worse than no adaptation did (RAVDESS angry clips
  alone 39% against 80%); this estimate was below no adaptation in 3 of 36 few-emotion batches, by at most
  1.6 points (benchmarks/adaptation.py).

Mode ``none`` (the default) uses the plain head. A ``VoiceProfile`` is saved as JSON (``emofuse enrol``).
Measured in benchmarks/adaptation.py; the table is on the model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from emofuse.errors import InputError
from emofuse.labels import SPEECH_LABELS

AdaptMode = Literal["none", "enrol", "session", "batch"]
ADAPT_MODES: tuple[str, ...] = get_args(AdaptMode)
SESSION_PRIOR_WINDOWS = 2.0
"""Weight, in windows, of a reference's prior (the training mean, or the person's profile): after ~10 s of voice it
has little say."""
MIX_TRUST = 0.5
"""How far a session's or batch's emotion mix is taken from the plain head's readings (the rest: all emotions
alike). RAVDESS CV, half-neutral session / balanced batch per speaker: trust 0 78.8% / 83.5%, 0.5 79.6% / 83.0%,
1 79.8% / 81.7%: trusted fully, the head's own confusions bias a balanced mix (benchmarks/adaptation.py)."""


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


def balanced_mean(features: np.ndarray, mix: np.ndarray, class_offsets: np.ndarray) -> np.ndarray:
    """The mean a speaker's voice would have over all emotions alike, from ``features`` (N, dim) heard in the
    emotion ``mix`` (8,) of SPEECH_LABELS: their mean minus the emotions' offsets (8, dim) in that mix."""
    return features.mean(0) - np.tensordot(np.asarray(mix, np.float32), class_offsets, axes=1)


def estimated_mix(mean_reading: np.ndarray, trust: float = MIX_TRUST) -> np.ndarray:
    """The emotion mix (8,) of recordings whose plain-head probabilities average ``mean_reading`` (8,), as far as
    that is trusted."""
    return trust * mean_reading + (1 - trust) / len(mean_reading)


def em_mix(probs: np.ndarray, prior_windows: float = 0.0, iterations: int = 200, tolerance: float = 1e-6
           ) -> np.ndarray:
    """The class priors (8,) of unlabelled windows from readings ``probs`` (N, 8) made under even priors (the heads
    are trained class-balanced): EM re-weights each reading by the current priors and averages (Saerens, Latinne &
    Decaestecker 2002). ``prior_windows`` > 0 adds that many windows spread over all emotions (a Dirichlet prior
    toward an even mix; measured and not used: it helps balanced batches and costs batches of one emotion more)."""
    probs = np.asarray(probs, np.float64)
    n_classes = probs.shape[1]
    mix = np.full(n_classes, 1 / n_classes)
    for _ in range(iterations):
        posterior = probs * mix
        posterior /= np.maximum(posterior.sum(1, keepdims=True), 1e-12)
        updated = (posterior.sum(0) + prior_windows / n_classes) / (len(probs) + prior_windows)
        if np.abs(updated - mix).max() < tolerance:
            return updated.astype(np.float32)
        mix = updated
    return mix.astype(np.float32)


def even_mix() -> np.ndarray:
    """All emotions alike."""
    return np.full(len(SPEECH_LABELS), 1 / len(SPEECH_LABELS), np.float32)


def batch_mix(plain: np.ndarray, adapted_even: np.ndarray, prior_windows: float = 0.0) -> np.ndarray:
    """The emotion mix (8,) of a batch from two readings of its windows (N, 8): the plain head's, and the adapted
    head's against the batch's mean taken as all emotions alike (``balanced_mean(features, even_mix(), ...)``).

    The plain head sees which emotions dominate but across corpora misreads a whole corpus (German EmoDB as fearful);
    the adapted head is free of that shift but, read against a mean that assumes every emotion, cannot see a batch
    of one emotion. EM on their average was the estimate least often worse than no adaptation on RAVDESS, EmoDB and
    cross-corpus batches of few emotions (benchmarks/adaptation.py, docs/results.md); ``prior_windows``: em_mix's."""
    return em_mix((np.asarray(plain) + np.asarray(adapted_even)) / 2, prior_windows)


def calm_mix() -> np.ndarray:
    """The emotion mix of an enrolment: all neutral."""
    return np.eye(len(SPEECH_LABELS), dtype=np.float32)[SPEECH_LABELS.index("neutral")]


def enrol_profile(features: np.ndarray, seconds: float, class_offsets: np.ndarray, train_mean: np.ndarray,
                  prior_windows: float = SESSION_PRIOR_WINDOWS) -> VoiceProfile:
    """Profile from the encoder features (N, dim) of a calm enrolment recording."""
    if not len(features):
        raise ValueError("the enrolment recording holds no voiced audio")
    n = len(features)
    heard = balanced_mean(features, calm_mix(), class_offsets)
    mean = (n * heard + prior_windows * train_mean) / (n + prior_windows)
    return VoiceProfile(mean.astype(np.float32), "enrol", n, seconds)


def batch_profile(features: np.ndarray, mix: np.ndarray, seconds: float, class_offsets: np.ndarray) -> VoiceProfile:
    """Profile from the features (N, dim) of a batch of unlabelled recordings and their estimated emotion ``mix``
    (``batch_mix``)."""
    if not len(features):
        raise ValueError("the batch holds no voiced audio")
    mean = balanced_mean(features, mix, class_offsets)
    return VoiceProfile(mean.astype(np.float32), "batch", len(features), seconds)


class SessionReference:
    """Running reference of a live or long recording: the balanced mean so far, shrunk towards a prior (the training
    mean, or a profile of the person) while little has been heard."""

    def __init__(self, class_offsets: np.ndarray, train_mean: np.ndarray, prior_windows: float = SESSION_PRIOR_WINDOWS,
                 start: VoiceProfile | None = None, mix_trust: float = MIX_TRUST):
        """The prior is ``start``'s mean when the session starts from a person's profile, else ``train_mean``."""
        self.class_offsets = np.asarray(class_offsets, np.float32)
        self.prior_mean = np.asarray(train_mean if start is None else start.mean, np.float32)
        self.prior_windows = prior_windows
        self.start = start
        self.mix_trust = mix_trust
        self.total = np.zeros_like(self.prior_mean)
        self.readings = np.zeros(len(self.class_offsets), np.float32)  # sum of the plain head's readings
        self.windows = 0
        self.seconds = 0.0

    def update(self, features: np.ndarray, probs: np.ndarray, seconds: float) -> None:
        """Add newly heard windows: their features (N, dim), the plain head's readings of them (N, 8) and how many
        seconds they last in all."""
        self.total += features.sum(0)
        self.readings += np.asarray(probs, np.float32).sum(0)
        self.windows += len(features)
        self.seconds += seconds

    def profile(self) -> VoiceProfile:
        mix = estimated_mix(self.readings / max(self.windows, 1), self.mix_trust)
        heard = self.total - self.windows * np.tensordot(mix, self.class_offsets, axes=1)  # windows x balanced mean
        mean = (heard + self.prior_windows * self.prior_mean) / (self.windows + self.prior_windows)
        return VoiceProfile(mean.astype(np.float32), "session", self.windows, self.seconds)

    def describe(self) -> dict:
        """What the results record: the session's windows and seconds, and the profile it started from."""
        described = self.profile().describe()
        return described if self.start is None else {**described, "prior": self.start.describe()}
