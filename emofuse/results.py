"""The results schema (typed, arrays inside) and its writers (JSON, JSON Lines, CSV), all written atomically.

The pipeline works on the types below; ``Result.to_dict()`` is the edge where they become JSON-ready dicts
(rounded, no NaN), validated by ``emofuse/result.schema.json``. Per input::

    {"schema": "emofuse-result-1", "input", "kind": "image|audio|video|audio+image", "duration",
     "speech": {"label", "labels", "probabilities", "segments", "voiced_ratio", "snr_db", "domain_match",
                "adaptation": {"mode", ...}} | null,
     "face":   {"label", "labels", "probabilities", "segments", "faces", "primary_track", "face_ratio"} | null,
     "fused":  {"label", "labels", "probabilities", "sources", "missing", "reliability": {"speech", "face"},
                "weights": {"speech", "face"},
                "segments": [{"start", "end", "label", "probabilities", "sources"}]},
     "image": path (audio+image only), "video": {container facts, "frames_analysed"} (video only)}

``fused.reliability`` is how much evidence each modality had (0 = absent, 1 = at least a second of clear voice
or face); ``fused.weights`` is each modality's share of the clip decision (reliability x confidence x, for speech,
``speech.domain_match``: how closely the recording's SNR, ``speech.snr_db``, matches the training recordings;
absent when a learned fusion decided).

``probabilities`` are dicts label -> probability in the model's own label set (``labels`` gives the order).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.labels import FUSION_LABELS

SCHEMA = "emofuse-result-1"
SCHEMA_FILE = Path(__file__).with_name("result.schema.json")


def probability_dict(probs: np.ndarray | None, labels: Sequence[str]) -> dict[str, float]:
    return {} if probs is None else {name: round(float(p), 5) for name, p in zip(labels, probs)}


def top_label(probs: np.ndarray | None, labels: Sequence[str]) -> str | None:
    return None if probs is None else labels[int(np.argmax(probs))]


def _finite(value: float | None, digits: int) -> float | None:
    """A rounded number for JSON, or None where it is missing or not finite (JSON has no NaN)."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def _probs_from(mapping: Mapping[str, float] | None, labels: Sequence[str]) -> np.ndarray | None:
    if not mapping:
        return None
    return np.array([mapping.get(name, 0.0) for name in labels], dtype=np.float32)


def _required_probs(data: Mapping, labels: Sequence[str]) -> np.ndarray:
    probs = _probs_from(data["probabilities"], labels)
    if probs is None:
        raise ValueError("a segment or face without probabilities")
    return probs


@dataclass(frozen=True, eq=False)
class Segment:
    """One time span of a modality: its probabilities (in the modality's labels) and, for faces, the track;
    for fused segments, the modalities that contributed."""

    start: float
    end: float
    probs: np.ndarray
    track_id: int | None = None
    sources: tuple[str, ...] | None = None

    def to_dict(self, labels: Sequence[str]) -> dict:
        record: dict[str, Any] = {"start": round(float(self.start), 3), "end": round(float(self.end), 3),
                                  "label": top_label(self.probs, labels),
                                  "probabilities": probability_dict(self.probs, labels)}
        if self.track_id is not None:
            record["track_id"] = int(self.track_id)
        if self.sources is not None:
            record["sources"] = list(self.sources)
        return record

    @classmethod
    def from_dict(cls, data: Mapping, labels: Sequence[str]) -> Segment:
        sources = data.get("sources")
        return cls(float(data["start"]), float(data["end"]), _required_probs(data, labels),
                   data.get("track_id"), None if sources is None else tuple(sources))


@dataclass(frozen=True, eq=False)
class FaceRecord:
    """One face: in an image its box and detector score; in a video its track over the clip."""

    probs: np.ndarray
    box: tuple[float, float, float, float] | None = None
    score: float | None = None
    landmarks: np.ndarray | None = None
    track_id: int | None = None
    frames: int | None = None
    start: float | None = None
    end: float | None = None

    def label(self, labels: Sequence[str]) -> str | None:
        return top_label(self.probs, labels)

    def to_dict(self, labels: Sequence[str]) -> dict:
        record: dict[str, Any] = {}
        if self.track_id is not None:
            record["track_id"] = int(self.track_id)
        if self.box is not None:
            record["box"] = [round(float(v), 1) for v in self.box]
        if self.score is not None:
            record["score"] = round(float(self.score), 4)
        record["label"] = self.label(labels)
        record["probabilities"] = probability_dict(self.probs, labels)
        if self.landmarks is not None:
            record["landmarks"] = np.round(np.asarray(self.landmarks, dtype=np.float64), 1).tolist()
        for name in ("frames", "start", "end"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name) if name == "frames" else round(float(getattr(self, name)), 3)
        return record

    @classmethod
    def from_dict(cls, data: Mapping, labels: Sequence[str]) -> FaceRecord:
        box = data.get("box")
        landmarks = data.get("landmarks")
        return cls(_required_probs(data, labels), None if box is None else (box[0], box[1], box[2], box[3]),
                   data.get("score"), None if landmarks is None else np.asarray(landmarks),
                   data.get("track_id"), data.get("frames"), data.get("start"), data.get("end"))


@dataclass(frozen=True, eq=False, kw_only=True)
class ModalityResult:
    """What one modality (or the fusion) concluded about an input: probabilities (None: found nothing) over
    ``labels``, and the timeline."""

    labels: tuple[str, ...]
    probs: np.ndarray | None
    segments: tuple[Segment, ...] = ()

    @property
    def label(self) -> str | None:
        return top_label(self.probs, self.labels)

    def probability(self, name: str) -> float:
        """The probability of one label (0 when the modality found nothing)."""
        return 0.0 if self.probs is None else float(self.probs[self.labels.index(name)])

    def to_dict(self) -> dict:
        return {"label": self.label, "labels": list(self.labels),
                "probabilities": probability_dict(self.probs, self.labels),
                "segments": [s.to_dict(self.labels) for s in self.segments], **self._extra_dict()}

    def _extra_dict(self) -> dict:
        return {}

    @staticmethod
    def _base_fields(data: Mapping) -> dict:
        labels = tuple(data["labels"])
        return {"labels": labels, "probs": _probs_from(data.get("probabilities"), labels),
                "segments": tuple(Segment.from_dict(s, labels) for s in data.get("segments", []))}


@dataclass(frozen=True, eq=False, kw_only=True)
class SpeechResult(ModalityResult):
    """The voice: ``voiced_ratio`` of the recording, its SNR and how closely that matches the training audio,
    and the adaptation used (``{"mode": "none"}`` or a VoiceProfile's description)."""

    voiced_ratio: float = 0.0
    snr_db: float | None = None
    domain_match: float = 1.0
    adaptation: Mapping[str, Any] = field(default_factory=lambda: {"mode": "none"})

    def _extra_dict(self) -> dict:
        return {"voiced_ratio": _finite(self.voiced_ratio, 4) or 0.0, "snr_db": _finite(self.snr_db, 1),
                "domain_match": _finite(self.domain_match, 4) or 0.0, "adaptation": dict(self.adaptation)}

    @classmethod
    def from_dict(cls, data: Mapping) -> SpeechResult:
        return cls(**cls._base_fields(data), voiced_ratio=data.get("voiced_ratio", 0.0), snr_db=data.get("snr_db"),
                   domain_match=data.get("domain_match", 1.0), adaptation=data.get("adaptation", {"mode": "none"}))


@dataclass(frozen=True, eq=False, kw_only=True)
class FaceResult(ModalityResult):
    """The faces: every face found (largest first in an image; by time on screen in a video), the track the
    clip label follows, and the share of analysed frames it was seen in."""

    faces: tuple[FaceRecord, ...] = ()
    primary_track: int | None = None
    face_ratio: float | None = None

    def _extra_dict(self) -> dict:
        extra: dict[str, Any] = {"faces": [f.to_dict(self.labels) for f in self.faces]}
        if self.primary_track is not None:
            extra["primary_track"] = int(self.primary_track)
        if self.face_ratio is not None:
            extra["face_ratio"] = round(float(self.face_ratio), 4)
        return extra

    @classmethod
    def from_dict(cls, data: Mapping) -> FaceResult:
        base = cls._base_fields(data)
        return cls(**base, faces=tuple(FaceRecord.from_dict(f, base["labels"]) for f in data.get("faces", [])),
                   primary_track=data.get("primary_track"), face_ratio=data.get("face_ratio"))


@dataclass(frozen=True, eq=False, kw_only=True)
class FusedResult(ModalityResult):
    """Both modalities in FUSION_LABELS: which contributed, how much evidence each had, each one's weight."""

    sources: tuple[str, ...] = ()
    reliability: Mapping[str, float] = field(default_factory=lambda: {"speech": 0.0, "face": 0.0})
    weights: Mapping[str, float] | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(m for m in ("speech", "face") if m not in self.sources)

    def _extra_dict(self) -> dict:
        extra: dict[str, Any] = {"sources": list(self.sources), "missing": list(self.missing),
                                 "reliability": {k: round(float(v), 4) for k, v in self.reliability.items()}}
        if self.weights is not None:
            extra["weights"] = {k: round(float(v), 4) for k, v in self.weights.items()}
        return extra

    @classmethod
    def from_dict(cls, data: Mapping) -> FusedResult:
        return cls(**cls._base_fields(data), sources=tuple(data.get("sources", [])),
                   reliability=data.get("reliability", {}), weights=data.get("weights"))


@dataclass(frozen=True)
class Word:
    """One transcribed word: its span (s), text and Whisper's probability for it."""

    start: float
    end: float
    text: str
    probability: float

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "word": self.text,
                "probability": _finite(self.probability, 4) or 0.0}

    @classmethod
    def from_dict(cls, data: Mapping) -> Word:
        return cls(float(data["start"]), float(data["end"]), str(data["word"]), float(data["probability"]))


@dataclass(frozen=True, eq=False)
class Utterance:
    """What was said between ``start`` and ``end`` (s), and the emotion over exactly that span: the voice's, the
    main face's and both fused, each in FUSION_LABELS (None: that modality had nothing there). ``avg_logprob``
    and ``no_speech_prob`` are Whisper's own doubts (music, noise, a language it does not know read low/high)."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    speech: np.ndarray | None = None
    face: np.ndarray | None = None
    fused: np.ndarray | None = None
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        def emotion(probs: np.ndarray | None) -> dict | None:
            if probs is None:
                return None
            return {"label": top_label(probs, FUSION_LABELS), "probabilities": probability_dict(probs, FUSION_LABELS)}

        fused = emotion(self.fused)
        if fused is not None:
            fused["sources"] = list(self.sources)
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                "words": [w.to_dict() for w in self.words], "avg_logprob": _finite(self.avg_logprob, 3),
                "no_speech_prob": _finite(self.no_speech_prob, 4), "speech": emotion(self.speech),
                "face": emotion(self.face), "fused": fused}

    @classmethod
    def from_dict(cls, data: Mapping) -> Utterance:
        def probs(block: Mapping | None) -> np.ndarray | None:
            return None if block is None else _probs_from(block.get("probabilities"), FUSION_LABELS)

        fused = data.get("fused")
        return cls(float(data["start"]), float(data["end"]), str(data["text"]),
                   tuple(Word.from_dict(w) for w in data.get("words", [])), data.get("avg_logprob"),
                   data.get("no_speech_prob"), probs(data.get("speech")), probs(data.get("face")), probs(fused),
                   tuple(fused.get("sources", [])) if fused else ())


@dataclass(frozen=True, eq=False)
class Transcript:
    """What was said in a recording: the model, the language (detected or given) and the utterances in order."""

    model: str
    language: str | None
    language_probability: float | None
    utterances: tuple[Utterance, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)

    def to_dict(self) -> dict:
        return {"model": self.model, "language": self.language,
                "language_probability": _finite(self.language_probability, 4),
                "text": self.text, "utterances": [u.to_dict() for u in self.utterances]}

    @classmethod
    def from_dict(cls, data: Mapping) -> Transcript:
        return cls(data["model"], data.get("language"), data.get("language_probability"),
                   tuple(Utterance.from_dict(u) for u in data.get("utterances", [])))


@dataclass(frozen=True, eq=False)
class Person:
    """One person of a recording: their face tracks (longest first; a face lost and found again has several; none
    for a voice alone) and voice (speaker cluster) when seen or heard, where the face typically is (box: x0, y0, x1,
    y1 pixels), the spans they speak in, and their own voice, face and fused results: the voice only where they
    speak, the face only theirs (under their first track's id)."""

    person_id: int
    track_ids: tuple[int, ...]
    voice: int | None
    box: tuple[float, float, float, float] | None
    speaking: tuple[tuple[float, float], ...]
    speech: SpeechResult | None
    face: FaceResult | None
    fused: FusedResult

    def to_dict(self) -> dict:
        return {"person": self.person_id, "track_ids": [int(t) for t in self.track_ids], "voice": self.voice,
                "box": None if self.box is None else [round(float(v), 1) for v in self.box],
                "speaking": [{"start": round(float(s), 3), "end": round(float(e), 3)} for s, e in self.speaking],
                "speech": None if self.speech is None else self.speech.to_dict(),
                "face": None if self.face is None else self.face.to_dict(), "fused": self.fused.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping) -> Person:
        speech, face, box = data.get("speech"), data.get("face"), data.get("box")
        return cls(data["person"], tuple(data.get("track_ids", ())), data.get("voice"),
                   None if box is None else tuple(box),
                   tuple((d["start"], d["end"]) for d in data.get("speaking", [])),
                   None if speech is None else SpeechResult.from_dict(speech),
                   None if face is None else FaceResult.from_dict(face), FusedResult.from_dict(data["fused"]))


@dataclass(frozen=True, eq=False)
class Result:
    """Everything emofuse concluded about one input (a file, an array, or an audio + image pair)."""

    input: str
    kind: str
    duration: float
    speech: SpeechResult | None
    face: FaceResult | None
    fused: FusedResult
    image: str | None = None
    video: Mapping[str, Any] | None = None
    transcript: Transcript | None = None
    people: tuple[Person, ...] | None = None  # videos and recordings: each person seen or heard, own timelines

    def renamed(self, name: str) -> Result:
        """The same result under another input name (an upload's own name rather than its temporary path)."""
        return replace(self, input=name)

    def to_dict(self) -> dict:
        """The JSON-ready result (rounded; no NaN), as described by ``emofuse/result.schema.json``."""
        data: dict[str, Any] = {"schema": SCHEMA, "input": self.input, "kind": self.kind,
                                "duration": round(float(self.duration), 3),
                                "speech": None if self.speech is None else self.speech.to_dict(),
                                "face": None if self.face is None else self.face.to_dict(),
                                "fused": self.fused.to_dict()}
        if self.image is not None:
            data["image"] = self.image
        if self.video is not None:
            data["video"] = {k: (_finite(v, 3) if isinstance(v, float) else v) for k, v in self.video.items()}
        if self.transcript is not None:
            data["transcript"] = self.transcript.to_dict()
        if self.people is not None:
            data["people"] = [person.to_dict() for person in self.people]
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> Result:
        """A result back from its JSON form (e.g. a line of a JSONL file)."""
        speech, face = data.get("speech"), data.get("face")
        return cls(data["input"], data["kind"], float(data["duration"]),
                   None if speech is None else SpeechResult.from_dict(speech),
                   None if face is None else FaceResult.from_dict(face), FusedResult.from_dict(data["fused"]),
                   data.get("image"), data.get("video"),
                   None if data.get("transcript") is None else Transcript.from_dict(data["transcript"]),
                   None if data.get("people") is None else tuple(Person.from_dict(p) for p in data["people"]))


def result_schema() -> dict:
    """The JSON Schema of ``Result.to_dict()`` (draft 2020-12)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def clock_text(seconds: float) -> str:
    """``02:13.4``: a time in a recording as minutes, seconds and tenths."""
    minutes, tenths = divmod(int(round(seconds * 10)), 600)
    return f"{minutes:02d}:{tenths // 10:02d}.{tenths % 10}"


def input_names(result: dict, name=str) -> str:
    """What a result was made from, for people: its input, and the photo fused with it (``voice.wav + face.jpg``);
    ``name`` shortens each (e.g. to its file name)."""
    names = [result["input"], *([result["image"]] if result.get("image") else [])]
    return " + ".join(name(str(n)) for n in names)


def label_with_share(record: dict | None) -> str | None:
    """``happy 71%``: the label of a block, segment or face (JSON form) with its own probability; None without one."""
    if not record or not record.get("label"):
        return None
    return f"{record['label']} {record['probabilities'][record['label']]:.0%}"


def several_people(result: dict) -> list[dict]:
    """The people of a result when there is more than one (one person's results are the result's own)."""
    people = result.get("people") or []
    return people if len(people) > 1 else []


def person_name(person: dict, width: float | None = None) -> str:
    """``person 1 (face on the left, speaks 12.3 s)``; ``person 3 (a voice off screen, speaks 4.0 s)``: who is who,
    by where the face is in a frame ``width`` pixels wide (None: audio, ``a voice``), and how long they speak."""
    box = person.get("box")
    if box is None:
        where = "a voice off screen" if width else "a voice"
    elif not width:
        where = f"face at x {box[0]:.0f}-{box[2]:.0f}"
    else:
        third = min(2, int(3 * (box[0] + box[2]) / 2 / width))
        where = "face " + ("on the left", "in the middle", "on the right")[max(third, 0)]
    spoken = sum(span["end"] - span["start"] for span in person.get("speaking", []))
    talk = f"speaks {spoken:.1f} s" if spoken else "silent"
    return f"person {person['person'] + 1} ({where}, {talk})"


def fusion_summary(result: dict) -> str | None:
    """One sentence on how the clip's fused label weighed the modalities (None when only one was present)."""
    fused, speech = result.get("fused") or {}, result.get("speech") or {}
    weights = fused.get("weights")
    if not weights or fused.get("sources") != ["speech", "face"]:
        return None
    text = f"Fused from speech ({weights['speech']:.0%}) and face ({weights['face']:.0%})"
    if speech.get("domain_match", 1.0) < 0.5:
        text += (f"; the recording ({speech['snr_db']:.0f} dB SNR) is noisier than the speech model's training "
                 "audio, so the voice counts less")
    return text + "."


def timeline_columns(block: dict | None, track_id: int | None = None) -> dict[str, list[float]]:
    """Column-wise timeline of a block for charts: ``time`` (window centres) and one list per label.

    For a face block only ``track_id`` (default: the primary face) is kept.
    """
    if not block or not block.get("segments"):
        return {}
    segments = block["segments"]
    if any("track_id" in s for s in segments):
        wanted = block.get("primary_track") if track_id is None else track_id
        segments = [s for s in segments if s.get("track_id") == wanted]
    columns = {"time": [round((s["start"] + s["end"]) / 2, 3) for s in segments]}
    for name in block["labels"]:
        columns[name] = [s["probabilities"].get(name, 0.0) for s in segments]
    return columns


def segment_during(block: dict | None, start: float, end: float) -> dict | None:
    """The segment of a block (JSON form; its primary face, for faces) that overlaps ``[start, end)`` the most;
    None when none does."""
    if not block:
        return None
    wanted = block.get("primary_track")
    best, best_overlap = None, 0.0
    for seg in block.get("segments", []):
        overlap = min(end, seg["end"]) - max(start, seg["start"])
        if overlap > best_overlap and seg.get("track_id", wanted) == wanted:
            best, best_overlap = seg, overlap
    return best


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_json(result: dict | list, path: str | Path) -> Path:
    """Write one result (or a list of them) as indented JSON."""
    path = Path(path)
    atomic_write_text(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    return path


def repair_jsonl(path: str | Path) -> int:
    """Cut a torn last line (a write killed half-way) off a JSON Lines file; returns the bytes removed.

    Without this the next appended record is glued to the fragment and both are lost.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 1))
        if handle.read(1) == b"\n":
            return 0
        handle.seek(0)
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        handle.truncate(keep)
    return size - keep


def append_jsonl(result: dict, path: str | Path) -> None:
    """Append one result as a line; each line is flushed whole, so a crash loses at most the last one (and
    ``repair_jsonl`` removes what such a crash leaves)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_jsonl(path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(result, allow_nan=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """The complete lines of a JSON Lines file (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


CSV_MODALITIES = ("speech", "face", "fused")
CSV_COLUMNS = ("input", "modality", "track_id", "start", "end", "label", "sources")


def utterance_rows(result: dict) -> list[dict]:
    """One row per transcribed utterance: modality "utterance", its span, the fused label and sources, the text,
    the voice's and the face's labels, then the fused p_*."""
    rows = []
    for utterance in (result.get("transcript") or {}).get("utterances", []):
        fused = utterance.get("fused") or {}
        row = {"input": result.get("input"), "modality": "utterance", "track_id": "", "start": utterance["start"],
               "end": utterance["end"], "label": fused.get("label"), "sources": "+".join(fused.get("sources", [])),
               "text": utterance["text"], "voice": (utterance.get("speech") or {}).get("label"),
               "face": (utterance.get("face") or {}).get("label")}
        row.update({f"p_{k}": v for k, v in fused.get("probabilities", {}).items()})
        rows.append(row)
    return rows


def timeline_rows(result: dict) -> list[dict]:
    """One row per segment of every modality: input, modality, track, start, end, label, sources, then p_*;
    with a transcript, one row per utterance after them (``utterance_rows``)."""
    rows = []
    for modality in CSV_MODALITIES:
        block = result.get(modality)
        for seg in (block or {}).get("segments", []):
            row = {"input": result.get("input"), "modality": modality, "track_id": seg.get("track_id", ""),
                   "start": seg["start"], "end": seg["end"], "label": seg["label"],
                   "sources": "+".join(seg.get("sources", []))}
            row.update({f"p_{k}": v for k, v in seg["probabilities"].items()})
            rows.append(row)
    return rows + person_rows(result) + utterance_rows(result)


def person_rows(result: dict) -> list[dict]:
    """With more than one person, one row per fused window of each person: modality "person", the person's number
    (from 1) and face tracks ("3+7"), then as the fused rows."""
    rows = []
    for person in several_people(result):
        for seg in person["fused"]["segments"]:
            row = {"input": result.get("input"), "modality": "person",
                   "track_id": "+".join(map(str, person["track_ids"])), "start": seg["start"], "end": seg["end"],
                   "label": seg["label"], "sources": "+".join(seg.get("sources", [])), "person": person["person"] + 1}
            row.update({f"p_{k}": v for k, v in seg["probabilities"].items()})
            rows.append(row)
    return rows


def csv_text(results: Iterable[dict]) -> str:
    """The CSV timeline of several results (one row per window and modality)."""
    rows = [row for result in results for row in timeline_rows(result)]
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields or list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(results: Iterable[dict], path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, csv_text(results))
    return path
