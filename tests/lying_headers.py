"""Short real videos whose container headers claim a length they do not hold (FLV, MKV, AVI).

Each file decodes to ~2 s of frames and sound; only the declared duration (FLV ``onMetaData.duration``,
Matroska ``Info/Duration``) or stream length (AVI ``strh.dwLength``, ``avih.dwTotalFrames``) lies.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SECONDS = 2.0
CLAIMS = (65_535.0, 1e5, 1e7, 1e9, 1e10, 1e12)
CONTAINERS = {"flv": ("flv", "libx264", "aac"), "mkv": ("matroska", "libx264", "aac"), "avi": ("avi", "mpeg4", "mp3")}


def write_clip(path: Path, seconds: float = SECONDS, fps: int = 10, rate: int = 16_000) -> Path:
    """A ``seconds`` long clip (moving grey frames, a tone) in the container that ``path``'s suffix names."""
    import av

    muxer, video_codec, audio_codec = CONTAINERS[path.suffix.lstrip(".")]
    with av.open(str(path), "w", format=muxer) as container:
        video = container.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream(audio_codec, rate=rate)
        audio.layout = "mono"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 9 % 255, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        t = np.arange(int(seconds * rate)) / rate
        samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
        size = audio.frame_size or 1024
        for start in range(0, len(samples), size):
            chunk = av.AudioFrame.from_ndarray(samples[start:start + size][None], format="s16", layout="mono")
            chunk.sample_rate, chunk.pts = rate, start
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


def claim(data: bytes, container: str, seconds: float) -> bytes:
    """``data`` with its header claiming ``seconds`` (AVI: every stream's length and the frame count 0xFFFFFFFF)."""
    buf = bytearray(data)
    if container == "flv":
        at = buf.index(b"duration\x00") + len(b"duration\x00")  # AMF0 number: 8-byte big-endian double
        buf[at:at + 8] = struct.pack(">d", seconds)
    elif container == "mkv":
        at = buf.index(b"\x44\x89")  # Info/Duration, in TimecodeScale units (1 ms by default)
        width = {0x88: 8, 0x84: 4}[buf[at + 2]]
        buf[at + 3:at + 3 + width] = struct.pack(">d" if width == 8 else ">f", seconds * 1000.0)
    else:
        for name, offset in ((b"avih", 24), (b"strh", 40)):
            at = buf.find(name)
            while at >= 0:
                buf[at + offset:at + offset + 4] = b"\xff\xff\xff\xff"
                at = buf.find(name, at + 4)
    return bytes(buf)


def lying_files(folder: Path) -> list[Path]:
    """FLV and MKV clips claiming each of CLAIMS, and an AVI whose lengths are 0xFFFFFFFF."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for container in ("flv", "mkv"):
        honest = write_clip(folder / f"honest.{container}").read_bytes()
        (folder / f"honest.{container}").unlink()
        for seconds in CLAIMS:
            path = folder / f"claims_{seconds:g}s.{container}".replace("+", "")
            path.write_bytes(claim(honest, container, seconds))
            files.append(path)
    honest = write_clip(folder / "honest.avi").read_bytes()
    (folder / "honest.avi").unlink()
    (folder / "claims_ffffffff.avi").write_bytes(claim(honest, "avi", 0))
    return [*files, folder / "claims_ffffffff.avi"]
