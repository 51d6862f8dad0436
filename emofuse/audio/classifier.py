"""Speech emotion recognition with the shipped model: SpeechBrain-style ``classify_*`` API, onnxruntime only.

The model is two ONNX graphs named by the speech card: Whisper base cut after its third block (time-pooled hidden
states of the chosen layers; emofuse.audio.whisper) and a small head. Between them the features are z-scored by
the training statistics on the card; with a ``VoiceProfile`` (emofuse.audio.adapt) they are first read relative to
the person's own reference and go to the card's speaker-referenced head instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from emofuse.audio.adapt import (
    SessionReference,
    VoiceProfile,
    balanced_mean,
    batch_mix,
    batch_profile,
    enrol_profile,
    even_mix,
)
from emofuse.audio.quality import domain_match, snr_from_levels
from emofuse.audio.vad import frame_levels, split_windows, voiced_segments
from emofuse.audio.whisper import WhisperFeatures
from emofuse.labels import SPEECH_LABELS
from emofuse.media import SAMPLE_RATE, load_audio, resample
from emofuse.models import load_card, model_path
from emofuse.results import Segment, SpeechResult
from emofuse.runtime import onnx_session, softmax


class SpeechClassifier:
    """The shipped speech model (Whisper encoder features + head).

    >>> clf = SpeechClassifier()
    >>> result = clf.classify_file("speech.wav")   # SpeechResult: .label, .probs, .segments, ...
    """

    labels = SPEECH_LABELS

    def __init__(self, card: dict | None = None, window: float | None = None, hop: float | None = None):
        self.card = card or load_card("speech")
        self.encoder = WhisperFeatures(model_path(self.card, self.card["encoder"]["file"]))
        self.head = onnx_session(model_path(self.card, self.card["head"]["file"]))
        self.mean, self.std = _normalization(self.card)
        adapted = self.card.get("adapted_head")
        self.adapted_head = onnx_session(model_path(self.card, adapted["file"])) if adapted else None
        self.adapted_mean: np.ndarray | None = None
        self.adapted_std: np.ndarray | None = None
        if adapted:
            self.adapted_mean, self.adapted_std = _normalization(adapted)
        self.temperature = float(self.card.get("temperature", 1.0))
        self.window = window or float(self.card.get("window_seconds", 3.0))
        self.hop = hop or float(self.card.get("hop_seconds", self.window))

    def features(self, windows: list[np.ndarray]) -> np.ndarray:
        """Encoder features (N, dim) of N windows of 16 kHz mono audio, before normalisation."""
        return self.encoder(windows)

    @property
    def adaptable(self) -> bool:
        """Whether the model has a speaker-referenced head (adaptation modes enrol, session and batch)."""
        return self.adapted_head is not None

    def classify_features(self, features: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Probabilities (N, 8) from encoder features (N, dim).

        ``reference``: (dim,) or per row (N, dim), a VoiceProfile mean; without it the plain head runs.
        """
        if not len(features):
            return np.zeros((0, len(self.labels)), np.float32)
        if reference is None:
            x, head = (features - self.mean) / self.std, self.head
        else:
            self._adapted_entry()
            x, head = (features - reference - self.adapted_mean) / self.adapted_std, self.adapted_head
        return softmax(head.run(None, {"input": x.astype(np.float32)})[0]).astype(np.float32)

    def classify_batch(self, windows: list[np.ndarray], profile: VoiceProfile | None = None) -> np.ndarray:
        """Probabilities (N, 8) for N windows of 16 kHz mono audio (each about ``window`` seconds)."""
        features = self.features(windows)
        return self.classify_features(features) if profile is None else self.classify_profiled(features, profile)

    def classify_profiled(self, features: np.ndarray, profile: VoiceProfile) -> np.ndarray:
        """Probabilities (N, 8) read against a profile. An enrolment's or a batch's reading is averaged with the
        plain head's: a few calm clips are a noisy reference, and the two readings together were right more often
        (benchmarks/adaptation.py, same heads and draws: RAVDESS CV 76.2% -> 77.1%, EmoDB CV 91.1% -> 92.0%,
        EmoDB from RAVDESS 66.6% -> 67.6%); a batch's estimated mix can be wrong, and the plain reading bounds the
        harm (docs/results.md, few-emotion batches). For a session reference averaging did not help."""
        probs = self.classify_features(features, profile.mean)
        if profile.mode in ("enrol", "batch") and len(features):
            probs = (probs + self.classify_features(features)) / 2
        return probs

    def session_reference(self, start: VoiceProfile | None = None) -> SessionReference:
        """An empty running reference for a session (live or a long recording), starting from the training speakers'
        mean or from ``start``, a profile of the person (their enrolment)."""
        train_mean = np.asarray(self._adapted_entry()["train_mean"], np.float32)
        return SessionReference(self._class_offsets(), train_mean, start=start)

    def enrol(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> VoiceProfile:
        """A person's profile from a calm recording of them (about 10 s of speech is plenty)."""
        features, seconds = self._voiced_features(audio, sample_rate)
        return enrol_profile(features, seconds, self._class_offsets(),
                             np.asarray(self._adapted_entry()["train_mean"], np.float32))

    def batch_profile(self, audios: list[np.ndarray]) -> VoiceProfile:
        """The profile of a batch of unlabelled 16 kHz recordings (of one speaker, or of a whole corpus)."""
        offsets = self._class_offsets()
        parts = [self._voiced_features(a, SAMPLE_RATE) for a in audios]
        features = np.concatenate([f for f, _ in parts])
        seconds = sum(s for _, s in parts)
        if not len(features):
            return batch_profile(features, even_mix(), seconds, offsets)  # raises: no voiced audio
        alike = balanced_mean(features, even_mix(), offsets)
        mix = batch_mix(self.classify_features(features), self.classify_features(features, alike))
        return batch_profile(features, mix, seconds, offsets)

    def _voiced_features(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
        audio = resample(audio, sample_rate)
        _, windows, _, voiced = self.voiced_windows(audio)
        return self.features(windows), voiced

    def _class_offsets(self) -> np.ndarray:
        return np.asarray(self._adapted_entry()["class_offsets"], np.float32)

    def _adapted_entry(self) -> dict:
        if not self.adaptable:
            raise ValueError("this speech model has no speaker-referenced head: adaptation is not available")
        return self.card["adapted_head"]

    def voiced_windows(self, audio: np.ndarray) -> tuple[list[tuple[float, float]], list[np.ndarray], np.ndarray,
                                                         float]:
        """(spans, windows, frame levels, voiced seconds) of 16 kHz mono audio: what the model classifies."""
        levels = frame_levels(audio)  # measured once: for the VAD and the SNR
        voiced_spans = voiced_segments(audio, levels=levels)
        spans = [w for s, e in voiced_spans for w in split_windows(s, e, self.window, self.hop)]
        windows = [audio[int(s * SAMPLE_RATE):int(e * SAMPLE_RATE)] for s, e in spans]
        return spans, windows, levels, sum(e - s for s, e in voiced_spans)

    def analyze(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, profile: VoiceProfile | None = None,
                session: bool = False) -> SpeechResult:
        """The speech result: utterance label, probabilities, and one segment per window.

        ``audio``: mono (N,) or (N, channels) at ``sample_rate``; it is down-mixed, resampled to 16 kHz and NaN/inf
        samples are zeroed here (emofuse.media.resample).
        ``profile``: read the voice relative to this reference (enrol or batch); ``session``: relative to the
        running reference of the recording so far (each window sees only what came before it and itself), which
        starts from ``profile`` when one is given and from the training speakers' mean otherwise.
        Silence gives ``label`` None, empty probabilities and no segments (never an error). ``snr_db`` and
        ``domain_match`` say how close the recording is to the training recordings (emofuse.audio.quality);
        ``adaptation`` says which reference was used and from how much audio.
        """
        audio = resample(audio, sample_rate)
        duration = len(audio) / SAMPLE_RATE
        spans, windows, levels, voiced = self.voiced_windows(audio)
        features = self.features(windows)
        adaptation = {"mode": "none"}
        if session:
            probs, adaptation = self._classify_session(spans, features, profile)
        elif profile is not None:
            probs = self.classify_profiled(features, profile)
            adaptation = profile.describe()
        else:
            probs = self.classify_features(features)
        weights = np.array([e - s for s, e in spans])
        overall = (weights[:, None] * probs).sum(0) / weights.sum() if len(spans) else None
        snr = snr_from_levels(levels)
        return SpeechResult(labels=self.labels, probs=overall,
                            segments=tuple(Segment(s, e, p) for (s, e), p in zip(spans, probs)),
                            voiced_ratio=float(voiced / duration) if duration else 0.0, snr_db=snr,
                            domain_match=domain_match(round(snr, 1), self.card.get("recording_snr_db")),
                            adaptation=adaptation)

    def _classify_session(self, spans: list[tuple[float, float]], features: np.ndarray,
                          start: VoiceProfile | None) -> tuple[np.ndarray, dict]:
        """Each window read against the session's reference after it (causal: nothing later is used)."""
        running, refs = self.session_reference(start), []
        for (s, e), row, plain in zip(spans, features, self.classify_features(features)):
            running.update(row[None], plain[None], e - s)
            refs.append(running.profile().mean)
        return self.classify_features(features, np.array(refs)), running.describe()  # no windows: (0, 8)

    def classify_file(self, path: str | Path, profile: VoiceProfile | None = None,
                      session: bool = False) -> SpeechResult:
        """Analyse the audio (or a video's audio track) of ``path``."""
        return self.analyze(load_audio(path), profile=profile, session=session)


def _normalization(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    norm = entry["normalization"]
    return np.asarray(norm["mean"], np.float32), np.asarray(norm["std"], np.float32)


def join_speech(parts: list[tuple[SpeechResult, float, float]], recording_snr_db: dict | None) -> SpeechResult:
    """One speech result from consecutive spans of a recording: (result with times relative to its span, span
    start, span seconds). Segments are moved to recording time; the label pools every window by its length;
    ``snr_db`` is the span-length-weighted mean (one span: unchanged) and ``domain_match`` follows from it."""
    if len(parts) == 1 and parts[0][1] == 0.0:
        return parts[0][0]
    segments = tuple(replace(seg, start=seg.start + start, end=seg.end + start)
                     for result, start, _ in parts for seg in result.segments)
    seconds = sum(length for _, _, length in parts)
    weights = np.array([seg.end - seg.start for seg in segments])
    probs = np.array([seg.probs for seg in segments])
    overall = (weights[:, None] * probs).sum(0) / weights.sum() if segments else None
    snrs = [(result.snr_db, length) for result, _, length in parts
            if result.snr_db is not None and np.isfinite(result.snr_db) and length > 0]
    snr = float(np.average([s for s, _ in snrs], weights=[w for _, w in snrs])) if snrs else None
    voiced = sum(result.voiced_ratio * length for result, _, length in parts)
    first = parts[0][0]
    return SpeechResult(labels=first.labels, probs=overall, segments=segments,
                        voiced_ratio=voiced / seconds if seconds else 0.0, snr_db=snr,
                        domain_match=1.0 if snr is None else domain_match(round(snr, 1), recording_snr_db),
                        adaptation=first.adaptation)


def speech_within(speech: SpeechResult, spans: Sequence[tuple[float, float]], duration: float) -> SpeechResult:
    """The part of a speech result inside ``spans`` (one person's turns): the windows whose middle lies in a span,
    the label pooled over them by length, ``voiced_ratio`` their share of ``duration``; SNR and adaptation kept."""
    segments = tuple(seg for seg in speech.segments if any(s <= (seg.start + seg.end) / 2 < e for s, e in spans))
    weights = np.array([seg.end - seg.start for seg in segments])
    overall = (weights[:, None] * np.array([seg.probs for seg in segments])).sum(0) / weights.sum() \
        if segments else None
    voiced = sum(min(e, duration) - s for s, e in spans)
    return replace(speech, probs=overall, segments=segments, voiced_ratio=voiced / duration if duration else 0.0)
