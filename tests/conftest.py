"""Shared fixtures: paths to the real datasets (skipped when absent) and media generated on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RAVDESS = SHARED / "ravdess"
FER_CSV = SHARED / "fer2013" / "fer2013.csv.xz"
FERPLUS = SHARED / "fer2013" / "fer2013new.csv"
RAVDESS_VIDEO = SHARED / "ravdess_video"
CREMAD = SHARED / "crema_d"
EMODB = SHARED / "emodb"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"dataset not available: {path}")
    return path


def tone(seconds: float, rate: int = 16_000, freq: float = 220.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int = 16_000) -> Path:
    import soundfile

    soundfile.write(str(path), audio, rate, format="WAV")
    return path


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10, audio: np.ndarray | None = None,
                rate: int = 16_000) -> Path:
    """Write RGB frames (and mono float audio) to an mp4 with PyAV."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        astream = None
        if audio is not None:
            astream = container.add_stream("aac", rate=rate)
            astream.layout = "mono"
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if astream is not None:
            samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
            step = 1024
            for start in range(0, len(samples), step):
                chunk = samples[start:start + step][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
                frame.sample_rate = rate
                frame.pts = start
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    """A real video frame with one face (RAVDESS actor 05, 640x360)."""
    from emofuse.media import iter_video_frames

    clip = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"
    for time, frame in iter_video_frames(clip, fps=2):
        if time > 1.0:
            return frame
    raise AssertionError("clip too short")


@pytest.fixture
def speech_wav(tmp_path) -> Path:
    """A real RAVDESS utterance resampled to 44.1 kHz stereo WAV (odd rate and layout on purpose)."""
    import soxr

    from emofuse.media import load_audio

    audio = load_audio(need(RAVDESS) / "Actor_01" / "03-01-05-02-01-01-01.flac")
    stereo = np.stack([audio, audio * 0.5], axis=1)
    return write_wav(tmp_path / "speech.wav", soxr.resample(stereo, 16_000, 44_100), 44_100)


def checked(result) -> dict:
    """A Result's JSON form, validated against emofuse/result.schema.json and shown to survive a round trip."""
    import json

    import jsonschema

    from emofuse.results import Result, result_schema

    data = result.to_dict()
    jsonschema.validate(json.loads(json.dumps(data, allow_nan=False)), result_schema())
    assert Result.from_dict(data).to_dict() == data
    return data
