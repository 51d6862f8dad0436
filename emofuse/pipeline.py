"""The one Python API: analyse an image, audio, video, or an audio + image pair, per modality and fused.

>>> from emofuse import Analyzer
>>> result = Analyzer().analyze("clip.mp4")     # dict in the schema of emofuse.results
>>> result["fused"]["label"]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from emofuse.audio.adapt import VoiceProfile
from emofuse.errors import InputError
from emofuse.fusion import FusionConfig, LearnedFusion, ModalityEvidence, fuse, fusion_weights
from emofuse.labels import FACE_LABELS, FUSION_LABELS, SPEECH_LABELS
from emofuse.media import SAMPLE_RATE, has_audio, iter_video_frames, load_audio, load_image, sniff, video_info
from emofuse.results import modality_block, probability_dict, segment_record

FULL_EVIDENCE_SECONDS = 1.0
"""A modality backed by this many seconds of good evidence (voiced speech, a clear face) is fully reliable."""

Progress = Callable[[float, float], None]
"""Called as ``progress(done, total)`` in seconds of media."""


@dataclass
class AnalyzerConfig:
    """Settings of the pipeline; the defaults are the measured ones in docs/."""

    fps: float = 5.0  # video frames analysed per second
    hop: float = 1.0  # fusion window length (s)
    detector: str = "mtcnn"
    detect_every: int = 2  # run the detector on every k-th analysed frame; tracking fills in between
    min_face_size: int = 40  # pixels, in the original image
    detect_max_side: int = 640  # frames are searched for faces at most this large (crops come from full size)
    adapt: str = "none"  # speech adaptation without a profile: "none" or "session" (emofuse.audio.adapt)
    fusion: FusionConfig = field(default_factory=FusionConfig)


@dataclass
class FaceSample:
    """One face in one analysed video frame."""

    time: float
    track_id: int
    probs: np.ndarray
    score: float
    size: float
    box: tuple[float, float, float, float]


class Analyzer:
    """Speech, face and fused emotion recognition over files or arrays, with the shipped models."""

    def __init__(self, config: AnalyzerConfig | None = None, learned_fusion: LearnedFusion | None = None,
                 speech_model=None, face_model=None, profile: VoiceProfile | None = None):
        """``speech_model`` / ``face_model``: a SpeechClassifier / FaceClassifier other than the shipped one;
        ``profile``: read every voice relative to this reference (``emofuse enrol``, or a batch's statistics).
        """
        self.config = config or AnalyzerConfig()
        if self.config.adapt not in ("none", "session"):
            raise ValueError(f"adapt must be 'none' or 'session' (a profile gives enrol and batch), "
                             f"not {self.config.adapt!r}")
        self.learned_fusion = learned_fusion
        self.profile = profile
        self._speech, self._face = speech_model, face_model

    @property
    def speech(self):
        """The speech classifier (loaded on first use)."""
        if self._speech is None:
            from emofuse.audio.classifier import SpeechClassifier

            self._speech = SpeechClassifier()
        return self._speech

    @property
    def face(self):
        """The face classifier with the configured detector (loaded on first use)."""
        if self._face is None:
            from emofuse.face.classifier import FaceClassifier

            self._face = FaceClassifier(detector=self.config.detector, min_face_size=self.config.min_face_size,
                                        max_side=self.config.detect_max_side)
        return self._face

    def fusion_config(self) -> FusionConfig:
        """The fusion settings, with the loaded models' calibration temperatures where the config leaves them open."""
        fusion = self.config.fusion
        return replace(
            fusion,
            speech_temperature=fusion.speech_temperature or (self._speech.temperature if self._speech else None),
            face_temperature=fusion.face_temperature or (self._face.temperature if self._face else None))

    # ------------------------------------------------------------ entry points
    def analyze(self, path: str | Path, face_crop: bool = False, progress: Progress | None = None) -> dict:
        """Analyse one file, whatever it holds (decided by its content)."""
        kind = sniff(path)
        if kind == "image":
            return self.analyze_image(path, face_crop=face_crop)
        if kind == "audio":
            return self.analyze_audio(path)
        return self.analyze_video(path, progress=progress)

    def analyze_image(self, image: str | Path | np.ndarray, face_crop: bool = False) -> dict:
        array = load_image(image) if isinstance(image, (str, Path)) else image
        face = self.face.analyze_image(array, face_crop=face_crop)
        reliability = 1.0 if face["faces"] else 0.0
        return self._result(image, "image", 0.0, None, face, self._fuse_clip(None, 0.0, face, reliability))

    def analyze_audio(self, audio: str | Path | np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict:
        array = load_audio(audio) if isinstance(audio, (str, Path)) else audio
        duration = len(array) / sample_rate
        speech = self._speech_block(array, sample_rate)
        fused = self._fuse_timeline(duration, speech, None, [], 0)
        return self._result(audio, "audio", duration, speech, None, fused)

    def analyze_pair(self, audio: str | Path, image: str | Path) -> dict:
        """An audio file and a photo of the speaker: both analysed, fused at the clip level."""
        array = load_audio(audio)
        speech = self._speech_block(array)
        face = self.face.analyze_image(load_image(image))
        duration = len(array) / SAMPLE_RATE
        fused = self._fuse_clip(speech, evidence_reliability(speech["voiced_ratio"] * duration), face,
                                1.0 if face["faces"] else 0.0)
        result = self._result(audio, "audio+image", duration, speech, face, fused)
        result["image"] = str(image)
        return result

    def analyze_video(self, path: str | Path, progress: Progress | None = None) -> dict:
        """Frames sampled at ``fps`` (streamed), faces tracked and classified; audio track classified; fused."""
        info = video_info(path)
        samples, frames_seen, last_frame = self._video_faces(path, info["duration"], progress)
        audio = load_audio(path) if has_audio(path) else None
        speech = self._speech_block(audio) if audio is not None else None
        duration = decoded_duration(info["duration"], last_frame + 1.0 / self.config.fps,
                                    0.0 if audio is None else len(audio) / SAMPLE_RATE)
        face = self._face_block(samples, frames_seen, duration)
        fused = self._fuse_timeline(duration, speech, face, samples, frames_seen)
        result = self._result(path, "video", duration, speech, face, fused)
        result["video"] = {**info, "frames_analysed": frames_seen}
        return result

    def _speech_block(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict:
        return self.speech.analyze(audio, sample_rate, profile=self.profile,
                                   session=self.profile is None and self.config.adapt == "session")

    # ------------------------------------------------------------ video faces
    def _video_faces(self, path, duration: float, progress: Progress | None
                     ) -> tuple[list[FaceSample], int, float]:
        """Face samples, frames analysed, and the time of the last decoded frame."""
        from emofuse.face.track import FaceStream, IoUTracker

        stream = FaceStream(self.face, self.config.detect_every, IoUTracker(max_misses=max(2, int(self.config.fps))))
        samples, last = [], 0.0
        for time, frame in iter_video_frames(path, fps=self.config.fps):
            last = time
            for track, det, probs in stream.step(frame):
                samples.append(FaceSample(time, track.track_id, probs, det.score, det.size, det.box))
            if progress:
                progress(min(time, duration), duration)
        return samples, stream.frames, last

    def _face_block(self, samples: list[FaceSample], frames_seen: int, duration: float) -> dict:
        if not samples:
            return modality_block(None, FACE_LABELS, [], faces=[], face_ratio=0.0)
        tracks: dict[int, list[FaceSample]] = {}
        for s in samples:
            tracks.setdefault(s.track_id, []).append(s)
        faces = []
        for track_id, items in sorted(tracks.items(), key=lambda kv: -len(kv[1])):
            mean = np.mean([s.probs for s in items], axis=0)
            faces.append({"track_id": track_id, "label": FACE_LABELS[int(mean.argmax())],
                          "probabilities": probability_dict(mean, FACE_LABELS),
                          "frames": len(items), "start": round(items[0].time, 3), "end": round(items[-1].time, 3)})
        segments = []
        for start, end in self._windows(duration):
            for track_id, items in tracks.items():
                inside = [s.probs for s in items if start <= s.time < end]
                if inside:
                    segments.append(segment_record(start, end, np.mean(inside, axis=0), FACE_LABELS, track_id=track_id))
        primary = tracks[faces[0]["track_id"]]
        face_ratio = round(len(primary) / max(frames_seen, 1), 4)
        return modality_block(np.mean([s.probs for s in primary], axis=0), FACE_LABELS, segments, faces=faces,
                              primary_track=faces[0]["track_id"], face_ratio=face_ratio)

    # ------------------------------------------------------------ fusion
    def _windows(self, duration: float) -> list[tuple[float, float]]:
        hop = self.config.hop
        n = max(1, int(np.ceil(duration / hop - 1e-9)))
        return [(k * hop, min((k + 1) * hop, duration) if duration > 0 else hop) for k in range(n)]

    def _speech_evidence(self, speech: dict | None, windows) -> ModalityEvidence:
        if not speech or not speech["segments"]:
            return ModalityEvidence.empty(len(windows))
        seg_probs = np.array([[s["probabilities"][k] for k in SPEECH_LABELS] for s in speech["segments"]])
        spans = np.array([[s["start"], s["end"]] for s in speech["segments"]])
        probs, reliability = [], []
        for start, end in windows:
            overlap = np.clip(np.minimum(spans[:, 1], end) - np.maximum(spans[:, 0], start), 0, None)
            covered = _covered_length(spans, start, end)
            reliability.append(covered / max(end - start, 1e-6))
            probs.append(overlap @ seg_probs / overlap.sum() if overlap.sum() > 0 else np.full(8, 1 / 8))
        return ModalityEvidence.from_model(np.array(probs), SPEECH_LABELS, np.array(reliability),
                                           self.fusion_config().speech_temperature,
                                           speech_domain_match(speech, self.config.fusion))

    def _face_evidence(self, face: dict | None, samples: list[FaceSample], windows) -> ModalityEvidence:
        if not face or not face.get("faces"):
            return ModalityEvidence.empty(len(windows))
        primary = [s for s in samples if s.track_id == face["primary_track"]]
        per_window_frames = max(1.0, self.config.fps * self.config.hop)
        probs, reliability = [], []
        for start, end in windows:
            inside = [s for s in primary if start <= s.time < end]
            if not inside:
                probs.append(np.full(len(FACE_LABELS), 1 / len(FACE_LABELS)))
                reliability.append(0.0)
                continue
            probs.append(np.mean([s.probs for s in inside], axis=0))
            presence = min(1.0, len(inside) / per_window_frames)
            size = min(1.0, np.mean([s.size for s in inside]) / 64.0)
            reliability.append(presence * size * float(np.mean([s.score for s in inside])))
        return ModalityEvidence.from_model(np.array(probs), FACE_LABELS, np.array(reliability),
                                           self.fusion_config().face_temperature)

    def _fuse_timeline(self, duration, speech, face, samples, frames_seen) -> dict:
        """Fused windows for the timeline; the clip label fuses each modality's clip summary."""
        windows = self._windows(duration)
        speech_ev = self._speech_evidence(speech, windows)
        face_ev = self._face_evidence(face, samples, windows)
        fused, sources = combine(speech_ev, face_ev, self.fusion_config(), self.learned_fusion)
        segments = [segment_record(s, e, p, FUSION_LABELS, sources=src)
                    for (s, e), p, src in zip(windows, fused, sources) if src]
        hop = self.config.hop
        return self._fuse_clip(speech, _evidence_amount(speech_ev, hop), face, _evidence_amount(face_ev, hop),
                               segments)

    def _fuse_clip(self, speech: dict | None, speech_reliability: float, face: dict | None,
                   face_reliability: float, segments: list[dict] | None = None) -> dict:
        reliability = {"speech": speech_reliability, "face": face_reliability}
        return fuse_clip(speech, face, reliability, self.fusion_config(), self.learned_fusion, segments)

    @staticmethod
    def _result(source, kind: str, duration: float, speech, face, fused) -> dict:
        name = str(source) if isinstance(source, (str, Path)) else "<array>"
        return {"input": name, "kind": kind, "duration": round(float(duration), 3), "speech": speech,
                "face": face, "fused": fused}


def combine(speech_ev: ModalityEvidence, face_ev: ModalityEvidence, config: FusionConfig,
            learned_fusion: LearnedFusion | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """Fused probabilities and sources per window, by the rule or (where given) the learned fusion."""
    fused, sources = fuse(speech_ev, face_ev, config)
    if learned_fusion is not None:
        learned = learned_fusion.predict_proba(LearnedFusion.features(speech_ev, face_ev))
        fused = np.where(np.array([bool(s) for s in sources])[:, None], learned, fused).astype(np.float32)
    return fused, sources


def fuse_clip(speech: dict | None, face: dict | None, reliability: dict[str, float], config: FusionConfig,
              learned_fusion: LearnedFusion | None = None, segments: list[dict] | None = None) -> dict:
    """The fused block of a clip from its speech and face blocks and their clip reliabilities in [0, 1].

    Fusing clip summaries (rather than pooling windows) keeps a modality that covers more of the clip
    (faces are on screen longer than anyone speaks) from outvoting the other. ``segments``: the fused timeline.
    """
    speech_ev = block_evidence(speech, SPEECH_LABELS, reliability["speech"], config.speech_temperature,
                               speech_domain_match(speech, config))
    face_ev = block_evidence(face, FACE_LABELS, reliability["face"], config.face_temperature)
    fused, sources = combine(speech_ev, face_ev, config, learned_fusion)
    probs = fused[0] if sources[0] else None
    used = {"speech": round(float(speech_ev.reliability[0]), 4), "face": round(float(face_ev.reliability[0]), 4)}
    extra = {} if learned_fusion else {"weights": _weight_shares(speech_ev, face_ev, config)}
    return modality_block(probs, FUSION_LABELS, segments or [], sources=sources[0], missing=_missing(sources[0]),
                          reliability=used, **extra)


def block_evidence(block: dict | None, labels: tuple[str, ...], reliability: float,
                   temperature: float, domain_match: float = 1.0) -> ModalityEvidence:
    """Clip-level evidence (one row) from a speech or face block of a result."""
    if not block or block["label"] is None:
        return ModalityEvidence.empty(1)
    probs = np.array([[block["probabilities"][k] for k in labels]])
    return ModalityEvidence.from_model(probs, labels, np.array([reliability]), temperature, domain_match)


def speech_domain_match(speech: dict | None, config: FusionConfig) -> float:
    """The speech block's ``domain_match`` (emofuse.audio.quality), or 1 where fusion is told to ignore it."""
    if not speech or not config.use_domain_match:
        return 1.0
    return float(speech.get("domain_match", 1.0))


def _weight_shares(speech_ev: ModalityEvidence, face_ev: ModalityEvidence, config: FusionConfig) -> dict:
    """Each modality's share of the clip decision's pooling weight (both 0 when neither is present)."""
    w_speech, w_face = (float(w[0]) for w in fusion_weights(speech_ev, face_ev, config))
    total = w_speech + w_face
    return {"speech": round(w_speech / total, 4) if total else 0.0, "face": round(w_face / total, 4) if total else 0.0}


def evidence_reliability(seconds: float) -> float:
    """Clip reliability of a modality from its seconds of good evidence, saturating at FULL_EVIDENCE_SECONDS."""
    return float(min(1.0, seconds / FULL_EVIDENCE_SECONDS))


def _evidence_amount(evidence: ModalityEvidence, hop: float) -> float:
    """Clip reliability from a modality's windows: their reliability-weighted seconds."""
    return evidence_reliability(evidence.reliability.sum() * hop)


def _covered_length(spans: np.ndarray, start: float, end: float) -> float:
    """Length of [start, end] covered by the union of ``spans``."""
    clipped = sorted((max(s, start), min(e, end)) for s, e in spans if e > start and s < end)
    total, cursor = 0.0, start
    for s, e in clipped:
        s = max(s, cursor)
        if e > s:
            total += e - s
            cursor = e
    return total


def _missing(used: list[str]) -> list[str]:
    return [m for m in ("speech", "face") if m not in used]


def decoded_duration(declared: float, frames_end: float, audio_seconds: float) -> float:
    """A video's duration from what was decoded; the container's declared duration only where the data agrees.

    A header can claim anything (hours for a 2 s clip): one fusion window per claimed second would follow.
    """
    decoded = max(frames_end, audio_seconds)
    if declared <= 0 or declared > decoded + max(1.0, 0.05 * decoded):
        return decoded
    return declared


def speaker_key(path: str | Path, speaker_from: str | None) -> str:
    """The speaker group of a file: the first group (or the whole match) of ``speaker_from`` in its name; "" for all."""
    if not speaker_from:
        return ""
    match = re.search(speaker_from, Path(path).name)
    if not match:
        return ""
    return match.group(1) if match.groups() else match.group(0)


def batch_profiles(analyzer: Analyzer, paths: list[Path], speaker_from: str | None = None) -> dict[str, VoiceProfile]:
    """Adaptation ``batch``: one voice profile per speaker group of ``paths`` (all in one group without a pattern).

    Files without audio, or that cannot be read, add nothing here (the analysis itself reports them). Each file's
    voice goes through the encoder here and again in its analysis: a batch costs about twice the speech time.
    """
    audio_by_group: dict[str, list[np.ndarray]] = {}
    for path in paths:
        try:
            if sniff(path) == "image" or not has_audio(path):
                continue
            audio = load_audio(path)
        except InputError:
            continue
        audio_by_group.setdefault(speaker_key(path, speaker_from), []).append(audio)
    profiles = {}
    for group, audios in audio_by_group.items():
        try:
            profiles[group] = analyzer.speech.batch_profile(audios)
        except ValueError:  # only silence in this group: its files are analysed without adaptation
            continue
    return profiles


def analyze(path: str | Path, **config) -> dict:
    """Analyse one file with default models: ``emofuse.analyze("clip.mp4", fps=5)``."""
    if not Path(path).exists():
        raise InputError(path, "no such file")
    return Analyzer(AnalyzerConfig(**config)).analyze(path)
