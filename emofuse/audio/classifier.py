"""Speech emotion recognition with the shipped ONNX model(s): SpeechBrain-style ``classify_*`` API."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emofuse.audio.features import WINDOW_SECONDS, log_mel, model_input
from emofuse.audio.quality import domain_match, snr_from_levels
from emofuse.audio.vad import frame_levels, split_windows, voiced_segments
from emofuse.labels import SPEECH_LABELS
from emofuse.media import SAMPLE_RATE, load_audio
from emofuse.models import load_card, model_path
from emofuse.results import modality_block, segment_record
from emofuse.runtime import onnx_session, softmax


class SpeechClassifier:
    """The shipped speech model: an ensemble of ONNX networks averaged in probability space.

    >>> clf = SpeechClassifier()
    >>> result = clf.classify_file("speech.wav")   # {"label", "probabilities", "segments", ...}
    """

    labels = SPEECH_LABELS

    def __init__(self, card: dict | None = None, window: float = WINDOW_SECONDS, hop: float = WINDOW_SECONDS / 2):
        self.card = card or load_card("speech")
        self.members = [(onnx_session(model_path(self.card, m["file"])), m["features"])
                        for m in self.card["members"]]
        self.temperature = float(self.card.get("temperature", 1.0))
        self.window, self.hop = window, hop

    def classify_batch(self, windows: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Probabilities (N, 8) for N windows of 16 kHz mono audio (each about ``window`` seconds)."""
        out = [np.zeros((0, len(self.labels)), dtype=np.float32)]
        for start in range(0, len(windows), batch_size):
            specs = [log_mel(w) for w in windows[start:start + batch_size]]
            probs = []
            for session, kind in self.members:
                x = np.stack([model_input(s, kind) for s in specs]).astype(np.float32)
                probs.append(softmax(session.run(None, {"input": x})[0]))
            out.append(np.mean(probs, axis=0).astype(np.float32))
        return np.concatenate(out)

    def analyze(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict:
        """Speech block of the results: utterance label, probabilities, and one segment per window.

        Silence gives ``label`` None, empty probabilities and no segments (never an error). ``snr_db`` and
        ``domain_match`` say how close the recording is to the training recordings (emofuse.audio.quality).
        """
        duration = len(audio) / sample_rate
        levels = frame_levels(audio, sample_rate)  # measured once: for the VAD and the SNR
        voiced_spans = voiced_segments(audio, sample_rate, levels=levels)
        spans = [w for s, e in voiced_spans for w in split_windows(s, e, self.window, self.hop)]
        windows = [audio[int(s * sample_rate):int(e * sample_rate)] for s, e in spans]
        probs = self.classify_batch(windows)
        weights = np.array([e - s for s, e in spans])
        segments = [segment_record(s, e, p, self.labels) for (s, e), p in zip(spans, probs)]
        voiced = sum(e - s for s, e in voiced_spans)
        overall = (weights[:, None] * probs).sum(0) / weights.sum() if len(spans) else None
        block = modality_block(overall, self.labels, segments)
        block["voiced_ratio"] = float(voiced / duration) if duration else 0.0
        block["snr_db"] = round(snr_from_levels(levels), 1)
        block["domain_match"] = round(domain_match(block["snr_db"], self.card.get("recording_snr_db")), 4)
        return block

    def classify_file(self, path: str | Path) -> dict:
        """Analyse the audio (or a video's audio track) of ``path``."""
        return self.analyze(load_audio(path))

