"""Write a video with each face's box and label drawn on every frame, its audio kept (``--annotate-video``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emofuse.errors import InputError
from emofuse.face.draw import annotate
from emofuse.labels import FACE_LABELS
from emofuse.media import SAMPLE_RATE, decoding, iter_video_frames, load_audio
from emofuse.results import top_label
from emofuse.video.faces import FaceSample

HOLD_SECONDS = 0.5
"""A face sample labels the frames after it until the next sample of its track, for at most this long."""


def faces_at(samples: Sequence[FaceSample], time: float) -> list[dict]:
    """The faces to draw at ``time``: each track's latest sample within HOLD_SECONDS before it."""
    latest: dict[int, FaceSample] = {}
    for sample in samples:
        if time - HOLD_SECONDS <= sample.time <= time + 1e-6:
            latest[sample.track_id] = sample
    return [{"box": list(s.box), "track_id": s.track_id, "label": top_label(s.probs, FACE_LABELS),
             "probabilities": dict(zip(FACE_LABELS, map(float, s.probs)))} for s in latest.values()]


def write_annotated_video(source: str | Path, samples: Sequence[FaceSample], target: str | Path) -> Path:
    """Every frame of ``source`` with its faces drawn (H.264 mp4), and its audio track as AAC; written atomically."""
    import av

    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.mp4")
    ordered = sorted(samples, key=lambda s: s.time)
    try:
        audio = load_audio(source)
    except InputError:
        audio = None  # a video without sound stays without sound
    with decoding(source, "cannot read the video to annotate"), av.open(str(source)) as reader:
        stream = reader.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 25
    with av.open(str(tmp), "w", format="mp4") as writer:
        video = writer.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=rate)
        video.pix_fmt = "yuv420p"
        sound = writer.add_stream("aac", rate=SAMPLE_RATE) if audio is not None and len(audio) else None
        if sound is not None:
            sound.layout = "mono"
        begin = end = 0
        sized = False
        for time, frame in iter_video_frames(source):
            if not sized:  # H.264 wants even sides: an odd last row or column is dropped
                video.width, video.height = frame.shape[1] // 2 * 2, frame.shape[0] // 2 * 2
                sized = True
            while end < len(ordered) and ordered[end].time <= time + 1e-6:
                end += 1
            while begin < end and ordered[begin].time < time - HOLD_SECONDS:
                begin += 1
            drawn = annotate(frame, faces_at(ordered[begin:end], time))[:video.height, :video.width]
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(drawn), format="rgb24")):
                writer.mux(packet)
        for packet in video.encode():
            writer.mux(packet)
        if sound is not None and audio is not None:
            _write_audio(writer, sound, audio)
    tmp.replace(target)
    return target


def _write_audio(writer, stream, audio: np.ndarray) -> None:
    import av

    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    for begin in range(0, len(pcm), 1024):
        frame = av.AudioFrame.from_ndarray(pcm[begin:begin + 1024][None], format="s16", layout="mono")
        frame.sample_rate, frame.pts = SAMPLE_RATE, begin
        for packet in stream.encode(frame):
            writer.mux(packet)
    for packet in stream.encode():
        writer.mux(packet)
