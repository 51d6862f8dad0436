"""A live session: frames and audio in, fused updates out (see emofuse.live)."""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from emofuse.audio.quality import domain_match, snr_from_levels
from emofuse.face.draw import annotate
from emofuse.fusion import ModalityEvidence, face_evidence, fuse_clip, fuse_windows
from emofuse.fusion.evidence import evidence_reliability
from emofuse.labels import FACE_LABELS, FUSION_LABELS, SPEECH_LABELS
from emofuse.media import SAMPLE_RATE, StreamResampler
from emofuse.results import FaceResult, FusedResult, Result, Segment, SpeechResult, top_label
from emofuse.video.speaking import MouthTracker, speaking_face

SPEECH_WINDOW = 2.0
"""Seconds of the most recent audio the voice is read from (the speech model's window)."""
STEP = 0.25
"""Seconds between two readings of the voice, and between two fused updates."""
FACE_MEMORY = 0.5
"""The face of an update: the main face over this many recent seconds (its track is smoothed already)."""
VOICE_MEMORY = 2.0
"""A voice reading counts for this long after the moment it reads, plus however late the audio is arriving (then
the voice is treated as silent)."""
SURE_VOICE = 1.0
"""Seconds of voiced speech a voice reading needs to replace a recent one (SURE_HOLD) that had as much: a window
holding the last syllables of one sentence and the first of the next reads little better than chance."""
SURE_HOLD = 1.0
"""Seconds a sure voice reading holds against less sure ones. RAVDESS sentences played in a loop, 2 s windows: 83.7%
of readings agreed with the file analysis when every reading replaced the last, 91.1% with a 1 s hold (the voice
follows a change of emotion in 1.5-1.7 s, as before), 99.4% with a 2 s hold (but it follows only after 2.1-2.3 s);
``benchmarks/live_voice_stability.py``, ``benchmarks/live_latency.py``."""
AUDIO_TOLERANCE = 0.005
"""Seconds by which a chunk may start before or after the previous one ended and still join it seamlessly."""
FILLED_GAP = 0.2
"""Missing audio up to this long is heard as silence; after a longer gap the voice window starts afresh."""
LATE = 0.5
"""Audio that reaches the session more than this many seconds after its time counts as late; a chunk without a
time that arrives within this of where the previous one ended follows it seamlessly."""

log = logging.getLogger("emofuse.live")


@dataclass(frozen=True)
class AudioHealth:
    """What happened to a session's audio on its way in: chunks taken, chunks that came ``late``, chunks (or parts)
    dropped because they started before audio already heard (``out_of_order``), and gaps where audio was
    missing (``gaps``, ``missing_seconds``; up to FILLED_GAP heard as silence, longer ones restart the window)."""

    chunks: int = 0
    late: int = 0
    out_of_order: int = 0
    gaps: int = 0
    missing_seconds: float = 0.0
    behind: float = 0.0  # how late the latest chunk arrived (seconds)

    def describe(self) -> str:
        """One line for people, e.g. "audio 0.2 s behind: 512 chunks, 3 late, 0 out of order, 1 gap (0.06 s
        missing)"."""
        return (f"audio {self.behind:.1f} s behind: {self.chunks} chunks, {self.late} late, {self.out_of_order} out "
                f"of order, {self.gaps} gap{'s' if self.gaps != 1 else ''} ({self.missing_seconds:.2f} s missing)")


@dataclass(frozen=True, eq=False)
class LiveUpdate:
    """The session at one moment: fused (FUSION_LABELS), voice (SPEECH_LABELS) and main face (FACE_LABELS)
    probabilities, None where that modality has nothing recent; ``sources`` are the modalities fused;
    ``speech_time``: the session time up to which the voice reading heard (earlier than ``time`` when the audio
    arrives late)."""

    time: float
    fused: np.ndarray | None
    speech: np.ndarray | None
    face: np.ndarray | None
    sources: tuple[str, ...]
    faces: int
    speech_time: float | None = None

    def to_dict(self) -> dict:
        def block(probs, labels):
            if probs is None:
                return None
            return {"label": top_label(probs, labels),
                    "probabilities": {k: round(float(p), 4) for k, p in zip(labels, probs)}}

        return {"time": round(self.time, 3), "fused": block(self.fused, FUSION_LABELS),
                "speech": block(self.speech, SPEECH_LABELS), "face": block(self.face, FACE_LABELS),
                "sources": list(self.sources), "faces": self.faces,
                "speech_time": None if self.speech_time is None else round(self.speech_time, 3)}


@dataclass
class _Voice:
    """The latest voice reading: probabilities, voiced share of its window, how closely the recording's SNR
    matches the training audio, when, and from how many seconds of voiced speech."""

    probs: np.ndarray | None = None
    voiced: float = 0.0
    domain_match: float = 1.0
    at: float = -np.inf
    seconds: float = 0.0  # voiced seconds read


class LiveSession:
    """One live session: thread-safe; frames and audio may arrive from different threads."""

    def __init__(self, analyzer=None, detect_every: int = 2, max_side: int = 480, history_seconds: float = 3600,
                 adapt: str = "none"):
        """``analyzer``: an emofuse Analyzer (its models, fusion settings and voice profile are used);
        ``adapt="session"``: read the voice relative to the running reference of this session's voice
        (emofuse.audio.adapt), starting from the analyzer's profile when it has one."""
        from emofuse.face.track import FaceStream, IoUTracker
        from emofuse.pipeline import Analyzer

        self.analyzer = analyzer or Analyzer()
        self.max_side, self.history_seconds = max_side, history_seconds
        self.stream = FaceStream(self.analyzer.face, detect_every,
                                 IoUTracker(max_misses=detect_every * 3, smoothing=0.6))
        self.session_reference = (self.analyzer.speech.session_reference(self.analyzer.profile)
                                  if adapt == "session" else None)
        self._lock = threading.Lock()
        self._frame_lock = threading.Lock()
        self._audio = np.zeros(0, np.float32)
        self._audio_end: float | None = None  # session time where the heard audio ends
        self._audio_lag = 0.0  # how late the latest audio arrived (seconds)
        self._resample = StreamResampler()
        self._health = AudioHealth()
        self._voice = _Voice()
        self._face_trail: deque = deque(maxlen=256)  # the face fused: (time, probabilities, size, score)
        self._mouths = MouthTracker(keep=SPEECH_WINDOW)  # each face's mouth motion over the voice window
        self._speaking: int | None = None  # the face track speaking at the latest voice reading
        self._faces_now = 0
        self._updates: list[LiveUpdate] = []
        self._start: float | None = None  # the clock starts with the first frame or audio
        self._last_input: float | None = None
        self._frame_times: deque = deque(maxlen=30)
        self._next_voice = STEP
        self._next_update = STEP
        self._next_reference = 0.0

    def clock(self) -> float:
        """Seconds since the first frame or audio reached the session (0 before; the time of live input that
        carries none)."""
        return 0.0 if self._start is None else time.monotonic() - self._start

    def _begin(self) -> None:
        self._last_input = time.monotonic()
        if self._start is None:
            self._start = self._last_input

    def receiving(self, within: float = 2.0) -> bool:
        """Whether a frame or audio reached the session in the last ``within`` seconds (the camera or the
        microphone is on)."""
        return self._last_input is not None and time.monotonic() - self._last_input < within

    # ------------------------------------------------------------ input
    def add_frame(self, frame: np.ndarray, at: float | None = None) -> tuple[np.ndarray, list[dict]]:
        """Analyse one RGB frame; returns it with boxes and labels drawn, and the faces (largest first). The voice
        is fused with the face speaking (``speaking``), else with the largest."""
        import cv2

        with self._lock:
            self._begin()
        at = self.clock() if at is None else at
        scale = min(1.0, self.max_side / max(frame.shape[:2]))
        small = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        with self._frame_lock:  # the tracker follows one frame after another
            steps = self.stream.step(small)
            if steps:
                grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[::2, ::2]  # the mouth at full size: it moves little
                boxes = {track.track_id: np.divide(det.box, scale) for track, det, _ in steps}
                self._mouths.add([(at, grey)], at, boxes)
        steps.sort(key=lambda step: -step[1].size)  # largest face first
        speaking = self._speaking
        faces = [{"box": [v / scale for v in det.box], "track_id": track.track_id,
                  "label": top_label(smoothed, FACE_LABELS), "size": det.size / scale, "score": det.score,
                  "probabilities": dict(zip(FACE_LABELS, map(float, smoothed))),
                  "speaking": track.track_id == speaking} for track, det, smoothed in steps]
        with self._lock:
            self._frame_times.append(at)
            self._faces_now = len(faces)
            if steps:
                _, main, smoothed = next((step for step in steps if step[0].track_id == speaking), steps[0])
                self._face_trail.append((at, smoothed.astype(np.float32), main.size / scale, main.score))
        self._maybe_update(at)
        return annotate(frame, faces), faces

    def add_audio(self, samples: np.ndarray, sample_rate: int, at: float | None = None) -> None:
        """Append a chunk of microphone audio ((N,) or (N, channels), any rate) ending at session time ``at``;
        the voice is read again once ``STEP`` seconds have passed since the last reading.

        ``at=None``: the chunk follows the previous one when it arrives about on time, else it ends now. Chunks
        that start before audio already heard lose that part; a gap is heard as silence up to FILLED_GAP and
        restarts the voice window beyond (``audio_health`` counts both), so no reading spans a gap unknown."""
        duration = len(samples) / sample_rate if sample_rate > 0 else 0.0
        with self._lock:
            self._begin()
            chunk = self._resample(samples, sample_rate)
            now = self.clock()
            if at is None:
                follows = None if self._audio_end is None else self._audio_end + duration
                at = follows if follows is not None and abs(now - follows) < LATE else now
            self._audio_lag = max(0.0, now - at)
            chunk = self._join(chunk, at - duration, late=self._audio_lag > LATE)
            self._audio = np.concatenate([self._audio, chunk])[-int(SPEECH_WINDOW * SAMPLE_RATE):]
            self._audio_end = at if self._audio_end is None else max(self._audio_end, at)
            due = at >= self._next_voice and chunk.size > 0
            window = self._audio.copy() if due else None
            if due:
                self._next_voice = at + STEP
        if window is not None:
            self._read_voice(window, at)
        self._maybe_update(at)

    def _join(self, chunk: np.ndarray, start: float, late: bool) -> np.ndarray:
        """The part of ``chunk`` (starting at ``start``) that extends the heard audio, with any gap before it
        filled with silence or the window restarted (lock held); counted in the audio health."""
        health, gap = self._health, 0.0 if self._audio_end is None else start - self._audio_end
        out_of_order, gaps, missing = health.out_of_order, health.gaps, health.missing_seconds
        if gap < -AUDIO_TOLERANCE:  # starts before audio already heard: keep only what is new
            chunk = chunk[min(len(chunk), round(-gap * SAMPLE_RATE)):]
            out_of_order += 1
            if _worth_logging(out_of_order):
                log.warning("live audio: a chunk started %.3f s before the end of audio already heard (%d so "
                            "far)", -gap, out_of_order)
        elif gap > AUDIO_TOLERANCE:
            gaps, missing = gaps + 1, missing + gap
            if gap <= FILLED_GAP:
                chunk = np.concatenate([np.zeros(round(gap * SAMPLE_RATE), np.float32), chunk])
            else:
                self._audio = np.zeros(0, np.float32)
            if _worth_logging(gaps):
                log.warning("live audio: %.3f s missing before %.2f s (%s; %d gaps so far)", gap, start,
                            "heard as silence" if gap <= FILLED_GAP else "voice window restarted", gaps)
        self._health = AudioHealth(health.chunks + 1, health.late + late, out_of_order, gaps, missing,
                                   round(self._audio_lag, 2))
        return chunk

    def heard_until(self) -> float:
        """The session time where the audio heard so far ends (0 before any)."""
        with self._lock:
            return self._audio_end or 0.0

    def audio_health(self) -> AudioHealth:
        """What happened to the audio on its way in so far (late, out-of-order and missing chunks)."""
        with self._lock:
            return self._health

    # ------------------------------------------------------------ readings
    def _read_voice(self, window: np.ndarray, at: float) -> None:
        speech = self.analyzer.speech
        _, windows, levels, voiced = speech.voiced_windows(window)
        self._find_speaker(levels, at - len(window) / SAMPLE_RATE, voiced)
        with self._lock:
            held = self._voice
        if voiced < SURE_VOICE and held.probs is not None and held.seconds >= SURE_VOICE and \
                at - held.at <= SURE_HOLD:
            return  # too little speech to replace a surer reading that still counts
        voice = _Voice(at=at, voiced=voiced / max(len(window) / SAMPLE_RATE, 1e-6), seconds=voiced)
        if windows:
            features = speech.features([np.concatenate(windows)])
            if self.session_reference is not None:
                if at >= self._next_reference:  # non-overlapping windows, as in a recording read whole
                    self.session_reference.update(features, speech.classify_features(features), voiced)
                    self._next_reference = at + SPEECH_WINDOW
                voice.probs = speech.classify_features(features, self.session_reference.profile().mean)[0]
            elif self.analyzer.profile is not None:
                voice.probs = speech.classify_profiled(features, self.analyzer.profile)[0]
            else:
                voice.probs = speech.classify_features(features)[0]
            snr = round(snr_from_levels(levels), 1)
            voice.domain_match = domain_match(snr, speech.card.get("recording_snr_db"))
        with self._lock:
            self._voice = voice

    def _find_speaker(self, levels: np.ndarray, start: float, voiced: float) -> None:
        """Which face speaks: the one whose mouth moves in time with the voice window (10 ms ``levels`` from session
        time ``start``); none without SURE_VOICE seconds of speech."""
        with self._frame_lock:
            traces = self._mouths.traces()
        speaking = speaking_face(traces, levels, start) if voiced >= SURE_VOICE else None
        with self._lock:
            self._speaking = speaking

    def _maybe_update(self, at: float) -> None:
        with self._lock:
            if at < self._next_update:
                return
            self._next_update = at + STEP
            update = self._fuse(at)
            self._updates.append(update)
            while self._updates and self._updates[0].time < at - self.history_seconds:
                self._updates.pop(0)

    def _fuse(self, at: float) -> LiveUpdate:
        """The fused reading at ``at`` (lock held)."""
        config = self.analyzer.fusion_config()
        voice = self._voice
        heard = voice.probs if voice.probs is not None and at - voice.at <= VOICE_MEMORY + self._audio_lag else None
        speech_ev = ModalityEvidence.empty(1)
        if heard is not None:
            speech_ev = ModalityEvidence.from_model(heard[None], SPEECH_LABELS, np.array([voice.voiced]),
                                                    config.speech_temperature,
                                                    voice.domain_match if config.use_domain_match else 1.0)
        recent = [s for s in self._face_trail if at - FACE_MEMORY <= s[0] <= at]
        face_probs = np.mean([s[1] for s in recent], axis=0) if recent else None
        if recent:
            times, probs, sizes, scores = (np.array([s[i] for s in recent]) for i in range(4))
            face_ev = face_evidence(times, probs, sizes, scores, FACE_LABELS, [(at - FACE_MEMORY, at + 1e-6)],
                                    max(1.0, self._frame_rate() * FACE_MEMORY),
                                    config.face_temperature)
        else:
            face_ev = ModalityEvidence.empty(1)
        fused, sources = fuse_windows(speech_ev, face_ev, config, self.analyzer.learned_fusion)
        return LiveUpdate(at, fused[0] if sources[0] else None, heard, face_probs,
                          tuple(sources[0]), self._faces_now, None if heard is None else voice.at)

    def _frame_rate(self) -> float:
        times = self._frame_times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    # ------------------------------------------------------------ output
    @property
    def fps(self) -> float:
        """Frames analysed per second (over the last 30 frames)."""
        with self._lock:
            return self._frame_rate()

    def latest(self) -> LiveUpdate | None:
        with self._lock:
            return self._updates[-1] if self._updates else None

    def updates(self) -> list[LiveUpdate]:
        with self._lock:
            return list(self._updates)

    def history(self, since: float | None = None) -> dict[str, list]:
        """Column-wise fused history for charts: ``time`` and one list per fusion label (NaN-free: 0 when no
        modality had anything); only the updates at or after ``since`` seconds, when given."""
        updates = [u for u in self.updates() if since is None or u.time >= since]
        columns: dict[str, list] = {"time": [round(u.time, 3) for u in updates]}
        for i, name in enumerate(FUSION_LABELS):
            columns[name] = [_share(u.fused, i) for u in updates]
        return columns

    def history_csv(self) -> str:
        """One row per update: time, sources, faces, the fused, voice and face labels, the time the voice reading
        heard up to, then the fused, voice and face probabilities."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["time", "sources", "faces", "fused", "voice", "face", "voice_time",
                         *(f"fused_{k}" for k in FUSION_LABELS), *(f"voice_{k}" for k in SPEECH_LABELS),
                         *(f"face_{k}" for k in FACE_LABELS)])
        for u in self.updates():
            cells = [f"{u.time:.3f}", "+".join(u.sources), u.faces]
            for probs, labels in ((u.fused, FUSION_LABELS), (u.speech, SPEECH_LABELS), (u.face, FACE_LABELS)):
                cells.append(top_label(probs, labels) or "")
            cells.append("" if u.speech_time is None else f"{u.speech_time:.3f}")
            for probs, labels in ((u.fused, FUSION_LABELS), (u.speech, SPEECH_LABELS), (u.face, FACE_LABELS)):
                cells += [""] * len(labels) if probs is None else [f"{p:.4f}" for p in probs]
            writer.writerow(cells)
        return buffer.getvalue()

    def to_result(self, name: str = "<live>") -> Result:
        """The session in the results schema (kind "live"): one segment per update and modality."""
        updates = self.updates()
        duration = updates[-1].time if updates else 0.0
        speech, face = _timeline(updates, "speech"), _timeline(updates, "face")
        speech_result = SpeechResult(labels=SPEECH_LABELS, probs=_mean(speech), segments=tuple(speech),
                                     voiced_ratio=len(speech) * STEP / duration if duration else 0.0,
                                     adaptation=self._adaptation())
        face_result = FaceResult(labels=FACE_LABELS, probs=_mean(face), segments=tuple(face),
                                 face_ratio=len(face) * STEP / duration if duration else 0.0)
        fused_segments = [Segment(u.time - STEP, u.time, u.fused, sources=u.sources) for u in updates
                          if u.fused is not None]
        reliability = {"speech": evidence_reliability(len(speech) * STEP),
                       "face": evidence_reliability(len(face) * STEP)}
        fused: FusedResult = fuse_clip(speech_result if speech else None, face_result if face else None,
                                       reliability, self.analyzer.fusion_config(), self.analyzer.learned_fusion,
                                       fused_segments)
        return Result(name, "live", duration, speech_result, face_result, fused)

    def _adaptation(self) -> dict:
        if self.session_reference is not None:
            return self.session_reference.describe()
        if self.analyzer.profile is not None:
            return self.analyzer.profile.describe()
        return {"mode": "none"}


def _worth_logging(count: int) -> bool:
    """Log the first of a kind of audio trouble, then every 25th (a struggling machine would flood the log)."""
    return count == 1 or count % 25 == 0


def _timeline(updates: list[LiveUpdate], modality: str) -> list[Segment]:
    return [Segment(max(0.0, u.time - STEP), u.time, getattr(u, modality)) for u in updates
            if getattr(u, modality) is not None]


def _share(probs: np.ndarray | None, index: int) -> float:
    return 0.0 if probs is None else float(probs[index])


def _mean(segments: list[Segment]) -> np.ndarray | None:
    return np.mean([s.probs for s in segments], axis=0) if segments else None
