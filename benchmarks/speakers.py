"""Who is speaking, on generated two-person videos: diarization of the voice, and attribution of each voiced window
to the face that speaks it.

Each video puts two visible people side by side (left: RAVDESS actor 05, right: CREMA-D actor 1001, each half
640x720) and lets them take turns: the speaker's clip plays with its sound, the listener's another of their clips
with the sound removed, so both mouths move and only synchrony with the voice tells them apart. Ground truth:
the speaker of each turn over its voiced time.

    python benchmarks/speakers.py [--videos 6] [--turns 8] [--smoke]

Scores, from the default Analyzer's ``people``: attribution (share of the speaker's voiced time inside the speaking
spans of the person whose face is the speaker's), fused accuracy per turn for the speaker's person against the
video's single-track fusion, the whole analysis' speed; and diarization with the number of speakers estimated from
the voice alone (best mapping), and the speaker encoder's speed (x real time).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import SHARED, encode_mono_audio, parse_args, save, table

from emofuse.audio.diarize import cluster_embeddings, speaker_windows, turns_from_windows, window_embeddings
from emofuse.audio.speaker import VoiceEncoder
from emofuse.audio.vad import voiced_segments
from emofuse.datasets.cremad import parse_cremad_name
from emofuse.datasets.ravdess import parse_ravdess_name
from emofuse.labels import to_fusion_label
from emofuse.media import iter_video_frames, load_audio
from emofuse.pipeline import Analyzer
from emofuse.results import FusedResult, top_label

HALF = (640, 720)  # each person's half of the 1280x720 picture
FPS = 30


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    side: int  # 0 left, 1 right: who speaks
    voiced: tuple[tuple[float, float], ...]  # the speaker's voiced spans, video time
    label: str  # the emotion the speaker's clip was acted with (fusion labels)


def people() -> tuple[list[Path], list[Path]]:
    """The clips of the left and the right person."""
    return (sorted((SHARED / "ravdess_video").glob("01-01-*-05.mp4")),
            sorted((SHARED / "crema_d").glob("1001_*.flv")))


def half_frames(path: Path):
    """The clip's frames at FPS, cut to a HALF-sized picture around the face (centre), endlessly looped."""
    import cv2

    while True:
        for _, frame in iter_video_frames(path, fps=FPS):
            h, w = frame.shape[:2]
            scale = HALF[1] / h
            frame = cv2.resize(frame, (round(w * scale), HALF[1]), interpolation=cv2.INTER_AREA)
            left = (frame.shape[1] - HALF[0]) // 2
            yield frame[:, left:left + HALF[0]]


def make_two_person_video(path: Path, turns: int, rng: np.random.Generator, still_listener: bool = False) -> list[Turn]:
    """Write a two-person video of ``turns`` alternating turns (left first); returns the ground truth.
    ``still_listener``: the listener holds still (their clip's first frame) rather than speaking silently."""
    import av

    clips = people()
    truth, audio_parts, t = [], [], 0.0
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 2 * HALF[0], HALF[1], "yuv420p"
        audio = container.add_stream("aac", rate=16_000)
        audio.layout = "mono"
        for turn in range(turns):
            side = turn % 2
            speaking = clips[side][rng.integers(len(clips[side]))]
            silent = clips[1 - side][rng.integers(len(clips[1 - side]))]
            speech = load_audio(speaking)
            seconds = len(speech) / 16_000
            listening = half_frames(silent)
            frames = [half_frames(speaking), itertools.repeat(next(listening)) if still_listener else listening]
            for _ in range(int(round(seconds * FPS))):
                pair = [next(frames[0]), next(frames[1])]
                picture = np.hstack(pair if side == 0 else pair[::-1])
                for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")):
                    container.mux(packet)
            voiced = tuple((t + s, t + e) for s, e in voiced_segments(speech))
            truth.append(Turn(t, t + seconds, side, voiced, clip_label(speaking)))
            audio_parts.append(speech)
            t += round(seconds * FPS) / FPS
            audio_parts[-1] = np.resize(speech, int(round(seconds * FPS)) * 16_000 // FPS)
        for packet in video.encode():
            container.mux(packet)
        encode_mono_audio(container, audio, np.concatenate(audio_parts))
    return truth


def clip_label(path: Path) -> str:
    """The fusion label a RAVDESS or CREMA-D clip was acted with."""
    parse = parse_cremad_name if path.suffix == ".flv" else parse_ravdess_name
    return to_fusion_label(parse(path).label)


def side_of(box) -> int:
    return int((box[0] + box[2]) / 2 >= HALF[0])


def spoken_share(truth: list[Turn], owner_at) -> float:
    """Share of the truth's voiced time (10 ms steps) at which ``owner_at(time)`` is the speaking side."""
    right = total = 0
    for turn in truth:
        for s, e in turn.voiced:
            for t in np.arange(s, e, 0.01):
                total += 1
                right += owner_at(t) == turn.side
    return right / max(total, 1)


def turn_label(fused: FusedResult, turn: Turn) -> str | None:
    """The fused label over a turn: its windows' probabilities averaged."""
    inside = [seg.probs for seg in fused.segments if turn.start <= (seg.start + seg.end) / 2 < turn.end]
    return top_label(np.mean(inside, axis=0), fused.labels) if inside else None


def evaluate(path: Path, truth: list[Turn], analyzer: Analyzer, encoder: VoiceEncoder) -> dict:
    started = time.perf_counter()
    result = analyzer.analyze(path)
    elapsed = time.perf_counter() - started
    people = result.people or ()
    sides = {person.person_id: side_of(person.box) for person in people if person.box is not None}

    def speaker_at(t: float) -> int | None:
        return next((sides.get(p.person_id) for p in people if any(s <= t < e for s, e in p.speaking)), None)

    speaker_person = {side: next((p for p in people if sides.get(p.person_id) == side), None) for side in (0, 1)}
    per_person = [turn_label(speaker_person[turn.side].fused, turn) == turn.label
                  if speaker_person[turn.side] is not None else False for turn in truth]
    single_track = [turn_label(result.fused, turn) == turn.label for turn in truth]
    audio = load_audio(path)
    windows = speaker_windows(audio)
    started = time.perf_counter()
    embeddings = window_embeddings(audio, windows, encoder)
    encoder_s = time.perf_counter() - started
    estimated = turns_from_windows(windows, cluster_embeddings(embeddings))
    return {"video_s": result.duration, "people": len(people), "attribution": spoken_share(truth, speaker_at),
            "diarization_estimated_speakers": _best_mapping(truth, estimated),
            "fused_per_person": float(np.mean(per_person)), "fused_single_track": float(np.mean(single_track)),
            "x_realtime": result.duration / elapsed, "encoder_x_realtime": len(audio) / 16_000 / encoder_s}


def _best_mapping(truth: list[Turn], turns) -> float:
    """Diarization accuracy: share of voiced time whose speaker is right under the best speaker -> side mapping."""
    speakers = sorted({t.speaker for t in turns})
    best = 0.0
    for sides in itertools.product((0, 1), repeat=len(speakers)):
        mapping = dict(zip(speakers, sides))
        best = max(best, spoken_share(truth, lambda t, m=mapping: next((m[x.speaker] for x in turns
                                                                        if x.start <= t < x.end), None)))
    return best


CONVERSATIONS = [(1, 2), (3, 4), (5, 6), (7, 8), (14, 15), (17, 18), (2, 13), (12,), (13,), (16,), (9, 10, 11),
                 (16, 17, 18)]
"""RAVDESS actors talking in turns, audio only."""


def conversation(actors: tuple[int, ...], turns: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Turn]]:
    """Random RAVDESS utterances of ``actors`` in alternating turns (``side``: the actor's index)."""
    parts, truth, t = [], [], 0.0
    for k in range(turns):
        actor = actors[k % len(actors)]
        files = sorted((SHARED / "ravdess" / f"Actor_{actor:02d}").glob("*.flac"))
        audio = load_audio(files[rng.integers(len(files))])
        seconds = len(audio) / 16_000
        truth.append(Turn(t, t + seconds, actors.index(actor), ((t, t + seconds),), ""))
        parts.append(audio)
        t += seconds
    return np.concatenate(parts), truth


def diarize_conversations(encoder: VoiceEncoder, count: int, turns: int) -> list[dict]:
    """Diarization accuracy (share of the voiced time found whose speaker is right, best mapping) of audio-only
    conversations, with the number of speakers given and estimated."""
    rng, rows = np.random.default_rng(0), []
    for actors in CONVERSATIONS[:count]:
        audio, truth = conversation(actors, turns if len(actors) > 1 else turns * 2 // 3, rng)
        windows = speaker_windows(audio)
        embeddings = window_embeddings(audio, windows, encoder)
        row: dict = {"actors": "+".join(map(str, actors)), "seconds": len(audio) / 16_000}
        for name, n in (("given", len(actors)), ("estimated", None)):
            labels = cluster_embeddings(embeddings, n)
            row[f"speakers_{name}"] = int(labels.max()) + 1 if len(labels) else 0
            row[f"right_{name}"] = _found_right(turns_from_windows(windows, labels), truth)
        rows.append(row)
    return rows


def _found_right(turns, truth: list[Turn]) -> float:
    """Share of 10 ms steps inside the turns found whose speaker maps to the truth's, under the best mapping."""
    speakers = sorted({t.speaker for t in turns})
    sides = sorted({t.side for t in truth})
    steps = [(x.speaker, next((t.side for t in truth if t.start <= at < t.end), None))
             for x in turns for at in np.arange(x.start, x.end, 0.01)]
    best = 0.0
    for mapping in itertools.product(sides, repeat=len(speakers)):
        named = dict(zip(speakers, mapping))
        best = max(best, float(np.mean([named[found] == side for found, side in steps])) if steps else 0.0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--turns", type=int, default=8)
    args = parse_args(parser)
    videos, turns = (1, 2) if args.smoke else (args.videos, args.turns)
    encoder, analyzer = VoiceEncoder(), Analyzer()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(videos):
            path = Path(folder) / f"two_people_{index}.mp4"
            truth = make_two_person_video(path, turns, np.random.default_rng(index))
            rows.append({"video": index, **evaluate(path, truth, analyzer, encoder)})
            table(rows[-1:])
    keys = [k for k in rows[0] if k not in ("video", "people")]
    summary = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    table([summary])
    conversations = diarize_conversations(encoder, 1 if args.smoke else len(CONVERSATIONS), 2 if args.smoke else 12)
    table(conversations)
    save("speakers", {"results": summary, "videos": rows, "conversations": conversations,
                      "conversations_protocol": "RAVDESS actors' utterances (random, seeded) in alternating turns, "
                                                "audio only: share of the voiced time found whose speaker is right "
                                                "under the best speaker mapping, number of speakers given / "
                                                "estimated from the voice",
                      "protocol": f"{videos} generated two-person videos of {turns} alternating turns (left RAVDESS "
                                  "actor 05, right CREMA-D 1001; the listener plays another clip muted); "
                                  "attribution = share of the speaker's voiced time in the spans of the person "
                                  "whose face is the speaker's; fused = the speaker's acted emotion as the fused "
                                  "label over the turn, of the speaker's person (per person) or of the video "
                                  "(single track, as before people)"})


if __name__ == "__main__":
    main()
