"""The one Python API: analyse an image, audio, video, or an audio + image pair, per modality and fused.

>>> from emofuse import Analyzer
>>> result = Analyzer().analyze("clip.mp4")     # an emofuse.results.Result
>>> result.fused.label, result.fused.probability("happy")
>>> result.to_dict()                            # JSON-ready, as emofuse/result.schema.json describes
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from emofuse.audio.adapt import VoiceProfile
from emofuse.audio.transcribe import WHISPER_SOURCES, Transcriber, TranscriberConfig
from emofuse.errors import InputError
from emofuse.face.detect import DEFAULT_DETECTOR
from emofuse.fusion import (
    FusionConfig,
    LearnedFusion,
    fuse_clip,
    fuse_timeline,
    fuse_windows,
    speech_evidence,
    time_windows,
)
from emofuse.fusion.decide import speech_domain_match
from emofuse.fusion.evidence import evidence_reliability
from emofuse.labels import FACE_LABELS
from emofuse.media import SAMPLE_RATE, has_audio, image_array, load_audio, load_image, resample, sniff, video_info
from emofuse.results import FaceResult, FusedResult, Person, Result, SpeechResult, Transcript

Progress = Callable[[float, float], None]
"""Called as ``progress(done, total)`` in seconds of media."""


@dataclass(frozen=True)
class AnalyzerConfig:
    """Settings of the pipeline; the defaults are the measured ones in docs/."""

    fps: float = 5.0  # video frames analysed per second
    hop: float = 1.0  # fusion window length (s)
    detector: str = DEFAULT_DETECTOR
    detect_every: int = 2  # run the detector on every k-th analysed frame; tracking fills in between
    max_detect_gap: float = 1.0  # seconds: while faces hold still, detections thin out to one per this (video)
    min_face_size: int = 40  # pixels, in the original image
    detect_max_side: int = 640  # frames are searched for faces at most this large (crops come from full size)
    fast_face: bool = False  # the small face network distilled from the shipped one (models/face_fast.md)
    adapt: str = "none"  # speech adaptation: "none" or "session" (from the profile, when given); emofuse.audio.adapt
    fusion: FusionConfig = field(default_factory=FusionConfig)
    transcribe: bool = False  # what was said, with emotion per utterance (needs the "transcribe" extra)
    language: str | None = None  # the speech's language for transcription (None: detected)
    transcribe_model: str = "base"  # "base" (multilingual) or "tiny.en"
    transcribe_beam: int = 1  # 1: greedy (fast); 5: fewer word errors, slower
    speakers: int | None = None  # people speaking in a video (None: as many as the faces on screen)

    def __post_init__(self) -> None:
        if self.adapt not in ("none", "session"):
            raise ValueError(f"adapt must be 'none' or 'session' (a profile gives enrol and batch), "
                             f"not {self.adapt!r}")
        if self.transcribe_model not in WHISPER_SOURCES:
            raise ValueError(f"transcribe_model must be one of {', '.join(WHISPER_SOURCES)}, "
                             f"not {self.transcribe_model!r}")
        if self.transcribe_beam < 1:
            raise ValueError(f"transcribe_beam must be at least 1, not {self.transcribe_beam}")
        if self.speakers is not None and self.speakers < 1:
            raise ValueError(f"speakers must be at least 1, not {self.speakers}")
        if not (self.fps > 0 and self.hop > 0 and self.detect_every >= 1 and self.max_detect_gap >= 0):
            raise ValueError(f"fps and hop must be positive, detect_every at least 1 and max_detect_gap not negative "
                             f"(got {self.fps}, {self.hop}, {self.detect_every}, {self.max_detect_gap})")


@dataclass(frozen=True, eq=False)
class VideoPart:
    """What one span of a video gave (``Analyzer.analyze_video_span``): the container's facts, face samples,
    frames analysed and the last frame's time (None: no frame), and the voice of its audio (times relative to
    ``start``)."""

    info: dict
    start: float
    samples: list
    frames_seen: int
    last_frame: float | None
    speech: SpeechResult | None
    audio_seconds: float
    transcript: Transcript | None = None  # times already on the video's clock
    mouths: dict = field(default_factory=dict)  # track id -> MouthTrace (emofuse.video.speaking)


class Analyzer:
    """Speech, face and fused emotion recognition over files or arrays, with the shipped models.

    Each ``analyze*`` method returns a typed ``emofuse.results.Result``; ``.to_dict()`` gives its JSON form.
    """

    def __init__(self, config: AnalyzerConfig | None = None, learned_fusion: LearnedFusion | None = None,
                 speech_model=None, face_model=None, profile: VoiceProfile | None = None,
                 transcriber: Transcriber | None = None):
        """``speech_model`` / ``face_model`` / ``transcriber``: models other than (or shared with another Analyzer's)
        the shipped ones; ``profile``: read every voice relative to this reference (``emofuse enrol``, or a
        batch's statistics).
        """
        self.config = config or AnalyzerConfig()
        self.learned_fusion = learned_fusion
        self.profile = profile
        self._speech, self._face = speech_model, face_model
        self._transcriber = transcriber
        self._voice_encoder = None

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
            from emofuse.models import load_card

            card = load_card("face_fast" if self.config.fast_face else "face")
            self._face = FaceClassifier(card, detector=self.config.detector, min_face_size=self.config.min_face_size,
                                        max_side=self.config.detect_max_side)
        return self._face

    @property
    def voice_encoder(self):
        """The speaker encoder that tells voices apart (loaded on first use)."""
        if self._voice_encoder is None:
            from emofuse.audio.speaker import VoiceEncoder

            self._voice_encoder = VoiceEncoder()
        return self._voice_encoder

    @property
    def transcriber(self) -> Transcriber:
        """The speech-to-text model of ``config.transcribe_model`` (loaded on first use)."""
        if self._transcriber is None:
            self._transcriber = Transcriber(TranscriberConfig(self.config.transcribe_model, self.config.language,
                                                              beam_size=self.config.transcribe_beam))
        return self._transcriber

    def fusion_config(self) -> FusionConfig:
        """The fusion settings, with the loaded models' calibration temperatures where the config leaves them open."""
        fusion = self.config.fusion
        return replace(fusion, speech_temperature=fusion.speech_temperature or _temperature(self._speech, "speech"),
                       face_temperature=fusion.face_temperature or _temperature(self._face, "face"))

    # ------------------------------------------------------------ entry points
    def analyze(self, path: str | Path, face_crop: bool = False, progress: Progress | None = None) -> Result:
        """Analyse one file, whatever it holds (decided by its content)."""
        kind = sniff(path)
        if kind == "image":
            return self.analyze_image(path, face_crop=face_crop)
        if kind == "audio":
            return self.analyze_audio(path)
        return self.analyze_video(path, progress=progress)

    def analyze_image(self, image: str | Path | np.ndarray, face_crop: bool = False) -> Result:
        """Every face of an image: a path, or an RGB array (uint8 (H, W, 3); grey, RGBA and other depths are
        converted where they enter: emofuse.media.image_array)."""
        array = load_image(image) if isinstance(image, (str, Path)) else image_array(image)
        face = self.face.analyze_image(array, face_crop=face_crop)
        fused = fuse_clip(None, face, {"speech": 0.0, "face": 1.0 if face.faces else 0.0}, self.fusion_config(),
                          self.learned_fusion)
        return Result(_input_name(image), "image", 0.0, None, face, fused)

    def analyze_audio(self, audio: str | Path | np.ndarray, sample_rate: int = SAMPLE_RATE) -> Result:
        """A recording: a path, or samples (N,) / (N, channels) at ``sample_rate`` (resampled where they enter)."""
        array = load_audio(audio) if isinstance(audio, (str, Path)) else audio
        speech = self._speech_result(array, sample_rate)
        duration = len(array) / sample_rate
        fused = self._fuse_timeline(duration, speech, None, [])
        transcript = self._transcript(array, sample_rate, speech)
        people = self._people(lambda: resample(array, sample_rate), [], {}, 0, duration, speech, None, fused)
        return Result(_input_name(audio), "audio", duration, speech, None, fused,
                      transcript=self._utterance_emotions(transcript, speech, None, []), people=people)

    def analyze_pair(self, audio: str | Path, image: str | Path) -> Result:
        """An audio file and a photo of the speaker: both analysed, fused at the clip level."""
        array = load_audio(audio)
        speech = self._speech_result(array)
        face = self.face.analyze_image(load_image(image))
        duration = len(array) / SAMPLE_RATE
        reliability = {"speech": evidence_reliability(speech.voiced_ratio * duration),
                       "face": 1.0 if face.faces else 0.0}
        fused = fuse_clip(speech, face, reliability, self.fusion_config(), self.learned_fusion)
        transcript = self._utterance_emotions(self._transcript(array, SAMPLE_RATE, speech), speech, None, [])
        return Result(_input_name(audio), "audio+image", duration, speech, face, fused, image=str(image),
                      transcript=transcript)

    def analyze_video(self, path: str | Path, progress: Progress | None = None) -> Result:
        """Frames sampled at ``fps`` (streamed), faces tracked and classified; audio track classified; fused."""
        return self.join_video(path, [self.analyze_video_span(path, progress=progress)])

    def analyze_video_annotated(self, path: str | Path, target: str | Path,
                                progress: Progress | None = None) -> Result:
        """``analyze_video``, and the video written to ``target`` (mp4) with every face's box and label drawn on
        every frame, its audio kept."""
        from emofuse.video.annotate import write_annotated_video

        part = self.analyze_video_span(path, progress=progress)
        write_annotated_video(path, part.samples, target)
        return self.join_video(path, [part])

    def analyze_video_span(self, path: str | Path, start: float = 0.0, end: float = math.inf,
                           progress: Progress | None = None) -> VideoPart:
        """The faces and the voice of [start, end) seconds of a video (a shard of a long one; the whole by
        default). ``join_video`` turns consecutive spans into the video's result."""
        from emofuse.media import load_audio_span
        from emofuse.video import track_faces

        info = video_info(path)
        declared = info["duration"]
        report = (lambda t: progress(min(t, declared), declared)) if progress else None
        whole = start == 0.0 and end == math.inf
        samples, frames_seen, last_frame, mouths = track_faces(self.face, path, self.config.fps,
                                                               self.config.detect_every, report, start,
                                                               None if whole else end, self.config.max_detect_gap)
        audio = None
        if has_audio(path):
            audio = load_audio(path) if whole else load_audio_span(path, start, end)
        speech = self._speech_result(audio) if audio is not None else None
        transcript = self._transcript(audio, SAMPLE_RATE, speech, offset=start) if audio is not None else None
        return VideoPart(info, start, samples, frames_seen, last_frame if frames_seen else None, speech,
                         0.0 if audio is None else len(audio) / SAMPLE_RATE, transcript, mouths)

    def join_video(self, path: str | Path, parts: list[VideoPart]) -> Result:
        """The result of a video from its consecutive spans (one span: the whole video)."""
        from emofuse.audio.classifier import join_speech
        from emofuse.models import load_card
        from emofuse.video import face_result, link_shards
        from emofuse.video.faces import link_mouths

        parts = sorted(parts, key=lambda part: part.start)
        info = parts[0].info
        shards, boundaries = [part.samples for part in parts], [part.start for part in parts[1:]]
        samples = link_shards(shards, boundaries)
        mouths = link_mouths([part.mouths for part in parts], shards, boundaries)
        spoken = [(part.speech, part.start, part.audio_seconds) for part in parts if part.speech is not None]
        card = self._speech.card if self._speech is not None else load_card("speech")
        speech = join_speech(spoken, card.get("recording_snr_db")) if spoken else None
        frames_seen = sum(part.frames_seen for part in parts)
        last_frame = max((part.last_frame for part in parts if part.last_frame is not None), default=0.0)
        audio_seconds = max((part.start + part.audio_seconds for part in parts if part.audio_seconds > 0),
                            default=0.0)  # a shard past the real end decodes nothing: its start is no evidence
        duration = decoded_duration(info["duration"], last_frame + 1.0 / self.config.fps, audio_seconds)
        face = face_result(samples, frames_seen, time_windows(duration, self.config.hop), FACE_LABELS)
        fused = self._fuse_timeline(duration, speech, face, samples)
        transcript = self._utterance_emotions(joined_transcript([part.transcript for part in parts]), speech, face,
                                              samples)
        people = self._people(lambda: load_audio(path), samples, mouths, frames_seen, duration, speech, face, fused)
        return Result(str(path), "video", duration, speech, face, fused, video={**info, "frames_analysed": frames_seen},
                      transcript=transcript, people=people)

    def _people(self, audio: Callable[[], np.ndarray], samples: list, mouths: dict, frames_seen: int,
                duration: float, speech: SpeechResult | None, face: FaceResult | None,
                fused: FusedResult) -> tuple[Person, ...]:
        """The people of a recording (emofuse.video.people), each with their own voice, face and fused results. One
        face (or none) and one speaker: one person, whose results are the recording's. Without faces (audio), the
        voice is split only when ``config.speakers`` says more than one speak. ``audio``: gives the 16 kHz audio,
        called only when the voice is split."""
        from emofuse.audio.classifier import speech_within
        from emofuse.video import face_result
        from emofuse.video.people import find_people, one_person, video_faces

        faces = video_faces(samples)
        if one_person(faces, self.config.speakers):
            spoken = merged_spans([(seg.start, seg.end) for seg in speech.segments]) if speech is not None else ()
            if not spoken and not faces:
                return ()
            seen = faces[0] if faces and face is not None else None
            return (Person(0, seen.tracks if seen else (), 0 if spoken else None, seen.box if seen else None, spoken,
                           speech, face if seen else None, fused),)
        heard = audio() if speech is not None else None
        people = []
        for index, found in enumerate(find_people(heard, faces, mouths, self.config.speakers, self.voice_encoder)):
            own = [replace(s, track_id=found.tracks[0]) for s in samples if s.track_id in found.tracks]
            own_face = face_result(own, frames_seen, time_windows(duration, self.config.hop), FACE_LABELS) \
                if found.tracks else None
            own_speech = speech_within(speech, found.speaking, duration) \
                if speech is not None and found.voice is not None else None
            people.append(Person(index, found.tracks, found.voice, found.box, found.speaking, own_speech, own_face,
                                 self._fuse_timeline(duration, own_speech, own_face, own)))
        return tuple(people)

    def _speech_result(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> SpeechResult:
        return self.speech.analyze(audio, sample_rate, profile=self.profile, session=self.config.adapt == "session")

    def _transcript(self, audio: np.ndarray, sample_rate: int, speech: SpeechResult | None,
                    offset: float = 0.0) -> Transcript | None:
        """What was said (``config.transcribe``), times plus ``offset``; no voiced audio: no utterance, no error."""
        if not self.config.transcribe:
            return None
        if speech is None or speech.voiced_ratio <= 0:
            return Transcript(self.transcriber.name, self.config.language, None, ())
        audio = audio if sample_rate == SAMPLE_RATE else resample(audio, sample_rate)
        return self.transcriber.transcribe(audio, offset)

    def _utterance_emotions(self, transcript: Transcript | None, speech: SpeechResult | None,
                            face: FaceResult | None, samples: list) -> Transcript | None:
        """Each utterance with the voice, the main face and both fused over exactly its span (the same evidence
        and rule as the timeline's windows: no model runs again)."""
        from emofuse.video import video_face_evidence

        if transcript is None or not transcript.utterances:
            return transcript
        config = self.fusion_config()
        spans = [(u.start, u.end) for u in transcript.utterances]
        speech_ev = speech_evidence(speech, spans, config.speech_temperature, speech_domain_match(speech, config))
        face_ev = video_face_evidence(samples, face, spans, self.config.fps * np.diff(spans, axis=1)[:, 0],
                                      config.face_temperature)
        fused, sources = fuse_windows(speech_ev, face_ev, config, self.learned_fusion)
        utterances = tuple(replace(u, speech=speech_ev.probs[i] if speech_ev.reliability[i] > 0 else None,
                                   face=face_ev.probs[i] if face_ev.reliability[i] > 0 else None,
                                   fused=fused[i] if sources[i] else None, sources=tuple(sources[i]))
                           for i, u in enumerate(transcript.utterances))
        return replace(transcript, utterances=utterances)

    def _fuse_timeline(self, duration: float, speech: SpeechResult | None, face: FaceResult | None,
                       samples: list) -> FusedResult:
        from emofuse.video import video_face_evidence

        config, hop = self.fusion_config(), self.config.hop
        windows = time_windows(duration, hop)
        speech_ev = speech_evidence(speech, windows, config.speech_temperature, speech_domain_match(speech, config))
        face_ev = video_face_evidence(samples, face, windows, self.config.fps * hop, config.face_temperature)
        return fuse_timeline(speech, speech_ev, face, face_ev, windows, hop, config, self.learned_fusion)


def merged_spans(spans: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Overlapping or touching (start, end) spans joined, in time order."""
    joined: list[list[float]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return tuple((s, e) for s, e in joined)


def joined_transcript(parts: list[Transcript | None]) -> Transcript | None:
    """The transcripts of a video's consecutive spans as one (None when transcription was off)."""
    present = [part for part in parts if part is not None]
    if not present:
        return None
    language = next((p.language for p in present if p.utterances), present[0].language)
    probability = next((p.language_probability for p in present if p.utterances), None)
    return Transcript(present[0].model, language, probability, tuple(u for p in present for u in p.utterances))


def _temperature(model, task: str) -> float:
    """A model's calibration temperature; the shipped model's card when none is loaded (no model is loaded to
    read it: joining a sharded video's parts needs no model)."""
    if model is not None:
        return float(model.temperature)
    from emofuse.models import load_card

    return float(load_card(task).get("temperature", 1.0))


def _input_name(source) -> str:
    return str(source) if isinstance(source, (str, Path)) else "<array>"


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


def analyze(path: str | Path, **config) -> Result:
    """Analyse one file with default models: ``emofuse.analyze("clip.mp4", fps=5)``."""
    if not Path(path).exists():
        raise InputError(path, "no such file")
    return Analyzer(AnalyzerConfig(**config)).analyze(path)
