"""Reading media: sniff the kind of a file by its content, decode images, audio and video (streaming).

Audio always comes out as 16 kHz mono float32 in [-1, 1]; images as uint8 RGB (H, W, 3); video as a
stream of ``(time_seconds, RGB frame)`` pairs, so a long video is never held in memory at once.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from emofuse.errors import InputError

SAMPLE_RATE = 16_000
MediaKind = Literal["image", "audio", "video"]

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".aac", ".opus")
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".flv")
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
MEDIA_SUFFIXES: tuple[str, ...] = AUDIO_SUFFIXES + VIDEO_SUFFIXES + IMAGE_SUFFIXES
"""The one list of media file suffixes: which files a folder offers and an upload accepts. A file's kind is
still decided by its content (``sniff``), never by its suffix."""

_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_AUDIO_MAGIC = (b"fLaC", b"ID3", b"OggS", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")


def sniff(path: str | Path) -> MediaKind:
    """Say whether ``path`` holds an image, audio or video, by its bytes (not its extension)."""
    path = Path(path)
    _check_file(path)
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE" or head.startswith(_AUDIO_MAGIC):
        return "audio"
    return _sniff_container(path)


def _sniff_container(path: Path) -> MediaKind:
    import av

    with decoding(path, "not a readable image, audio or video file"), av.open(str(path)) as container:
        if any(s.frames != 1 or s.duration for s in container.streams.video):
            return "video"
        if container.streams.audio:
            return "audio"
    raise InputError(path, "holds no audio or video stream")


DECODER_ERRORS: tuple[type[Exception], ...] = (UnicodeDecodeError, ValueError, IndexError, KeyError, AttributeError,
                                               TypeError, OverflowError, ZeroDivisionError, RuntimeError, EOFError)
"""What PyAV raises, besides its FFmpegError, on files whose structure is broken (a stream without a codec
context, an index past the streams): each becomes an InputError naming the file."""


@contextmanager
def decoding(path: Path, problem: str) -> Iterator[None]:
    """Turn any decoder failure inside the block into ``InputError(path, f"{problem} (reason)")``."""
    try:
        yield
    except InputError:
        raise
    except _decoder_errors() as exc:
        raise InputError(path, f"{problem} ({_short(exc)})") from None


def _decoder_errors() -> tuple[type[Exception], ...]:
    import av

    return (av.FFmpegError, *DECODER_ERRORS)


def _short(exc: Exception) -> str:
    """The decoder's reason in a few words: FFmpeg's own (its strerror, without the file name), or ours where
    PyAV failed in Python on a broken structure (its message would name Python internals, not the file's fault)."""
    import av

    if isinstance(exc, UnicodeDecodeError):
        return "its metadata is not valid text"
    if not isinstance(exc, av.FFmpegError):
        return "its headers or streams are damaged or inconsistent"
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0][:120] if text else "FFmpeg could not read it"


# ---------------------------------------------------------------- images
MAX_IMAGE_PIXELS = 100_000_000
"""Larger images and video frames are refused before decoding (a 20000x20000 JPEG of 18 KB decodes to 1.2 GB):
PNG and JPEG by their header here, every other format by OpenCV's own limit, set to the same."""
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
_JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def declared_image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) that a PNG or JPEG header declares, without decoding; None for other formats."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if not head.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 <= len(head) and head[i] == 0xFF:
        marker = head[i + 1]
        if marker in _JPEG_SOF:
            return int.from_bytes(head[i + 7:i + 9], "big"), int.from_bytes(head[i + 5:i + 7], "big")
        i += 2 + int.from_bytes(head[i + 2:i + 4], "big")
    return None


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image file to uint8 RGB (H, W, 3): grey, RGB, RGBA and 16-bit inputs are converted."""
    import cv2

    path = Path(path)
    _check_file(path)
    data = np.fromfile(path, dtype=np.uint8)
    size = declared_image_size(data[:65536].tobytes())
    if size and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise InputError(path, f"declares {size[0]}x{size[1]} pixels (more than {MAX_IMAGE_PIXELS // 10**6} million)")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InputError(path, f"not a readable image ({str(exc).strip().splitlines()[-1][:100]})") from None
    if image is None:
        raise InputError(path, "not a readable image (corrupt or unsupported format)")
    return to_rgb8(image, bgr=True)


def image_array(image: np.ndarray) -> np.ndarray:
    """The API's boundary for image arrays: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, of any integer or float
    depth (floats in [0, 1] or [0, 255]; NaN as 0), to uint8 RGB; anything else is an InputError."""
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.shape[0] < 1 or array.shape[1] < 1 or \
            (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InputError(None, f"an image array must be (H, W), (H, W, 3) RGB or (H, W, 4) RGBA, not {array.shape}")
    if array.dtype.kind not in "uifb":
        raise InputError(None, f"an image array must hold numbers, not {array.dtype}")
    if array.dtype.kind == "f":
        array = np.nan_to_num(array, nan=0.0, posinf=255.0, neginf=0.0)
    return to_rgb8(array.astype(np.uint8) if array.dtype.kind == "b" else array)


def to_rgb8(image: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Convert a grey, RGB(A) or BGR(A) array of any integer or float depth to uint8 RGB."""
    import cv2

    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = np.clip(image * (255.0 if image.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported image shape {image.shape}")
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else image


# ---------------------------------------------------------------- audio
MIN_SAMPLE_RATE = 1_000
"""Lower rates are refused: resampling 1 Hz audio to 16 kHz turns a small file into hours of samples."""


def _mono(audio: np.ndarray, rate: int) -> np.ndarray:
    """(N, C) or (N,) audio as finite mono float32 (the checks every audio array passes)."""
    if rate < MIN_SAMPLE_RATE:
        raise ValueError(f"sample rate {rate} Hz is below {MIN_SAMPLE_RATE} Hz")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.ndim != 1:
        raise ValueError(f"audio must be (samples,) or (samples, channels), not shape {audio.shape}")
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return audio


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Mix (N, C) or (N,) audio to mono and resample it to ``target`` Hz, as float32; NaN and inf samples become 0.

    The one entry point for audio arrays: files (``load_audio``) and API arrays both pass here; audio that
    arrives in chunks passes through a ``StreamResampler``.
    """
    import soxr

    audio = _mono(audio, rate)
    if rate != target and audio.size:
        audio = soxr.resample(audio, rate, target, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


class StreamResampler:
    """``resample`` for audio that arrives in chunks (a microphone's, a WebRTC track's): the filter runs across
    chunk boundaries, so the chunks join as the whole recording would (resampling 20 ms chunks one by one
    leaves a buzz at -32 dB); a change of rate starts a new stream."""

    def __init__(self, target: int = SAMPLE_RATE):
        self.target = target
        self._rate: int | None = None
        self._stream: Any = None  # soxr.ResampleStream, made at the first chunk of a rate

    def __call__(self, audio: np.ndarray, rate: int) -> np.ndarray:
        import soxr

        audio = _mono(audio, rate)
        if rate == self.target:
            return np.ascontiguousarray(audio)
        if rate != self._rate:
            self._rate, self._stream = rate, soxr.ResampleStream(rate, self.target, 1, dtype="float32",
                                                                 quality="HQ")
        return np.ascontiguousarray(self._stream.resample_chunk(audio), dtype=np.float32)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the audio of a file (WAV, FLAC, OGG, MP3, M4A or a video's audio track) to mono float32."""
    import soundfile

    path = Path(path)
    _check_file(path)
    try:
        info = soundfile.info(str(path))
        if not 0 < info.frames <= _plausible_samples(path, info.channels):
            return _load_audio_av(path, sample_rate)  # length unknown or a lie: decode what is really there
        if info.samplerate >= MIN_SAMPLE_RATE and info.frames > MAX_AUDIO_SECONDS * info.samplerate:
            raise InputError(path, f"audio longer than {MAX_AUDIO_SECONDS // 3600} hours; split it first")
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return _load_audio_av(path, sample_rate)
    if audio.shape[0] == 0:
        raise InputError(path, "audio has no samples")
    if rate < MIN_SAMPLE_RATE:
        raise InputError(path, f"declares a sample rate of {rate} Hz (below {MIN_SAMPLE_RATE} Hz)")
    return resample(audio, rate, sample_rate)


MAX_AUDIO_SECONDS = 4 * 3600
"""Longest audio decoded whole (an audio track is held in memory: 4 hours at 16 kHz is 920 MB)."""


def _plausible_samples(path: Path, channels: int) -> int:
    """Most samples a file of this size can hold: no codec stores a sample in less than 1/64 of a byte."""
    return 64 * 8 * path.stat().st_size // max(channels, 1)


def _load_audio_av(path: Path, sample_rate: int) -> np.ndarray:
    chunks, total = [], 0
    for chunk in iter_audio_chunks(path, sample_rate):
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_AUDIO_SECONDS * sample_rate:
            raise InputError(path, f"audio longer than {MAX_AUDIO_SECONDS // 3600} hours; split it first")
    if not chunks:
        raise InputError(path, "holds no decodable audio")
    return np.concatenate(chunks)


def iter_audio_chunks(path: str | Path, sample_rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Stream the first audio track of any container as mono float32 chunks at ``sample_rate``."""
    path = Path(path)
    _check_file(path)
    for _, chunk in _resampled_audio(path, sample_rate):
        yield chunk


def _resampled_audio(path: Path, sample_rate: int, start: float = 0.0) -> Iterator[tuple[float | None, np.ndarray]]:
    """(time in seconds the resampler gives it, mono float32 chunk) of the first audio track, from the frame at or
    before ``start`` (a seek) to the end."""
    import av

    with decoding(path, "cannot decode audio"), av.open(str(path)) as container:
        if not container.streams.audio:
            raise InputError(path, "has no audio track")
        stream = container.streams.audio[0]
        if start > 0:
            container.seek(int(start * av.time_base))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in itertools.chain(container.decode(stream), [None]):  # None flushes the resampler
            for out in resampler.resample(frame):
                yield out.time, out.to_ndarray().reshape(-1).astype(np.float32, copy=False)


def has_audio(path: str | Path) -> bool:
    """Whether a media file has an audio track (images: False)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except _decoder_errors():
        return False


# ---------------------------------------------------------------- video
def video_info(path: str | Path) -> dict:
    """Duration (s), frame rate, width and height of a video's first video stream."""
    import av

    path = Path(path)
    _check_file(path)
    with decoding(path, "not a readable video"), av.open(str(path)) as container:
        if not container.streams.video:
            raise InputError(path, "has no video stream")
        stream = container.streams.video[0]
        duration = (float(container.duration) / av.time_base if container.duration
                    else float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0)
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        _check_frame_size(path, width, height)
        return {"duration": duration if np.isfinite(duration) else 0.0, "fps": rate if np.isfinite(rate) else 25.0,
                "width": width, "height": height}


def media_end(path: str | Path) -> float:
    """Where a file's audio and video really end (s): the latest packet end, found by reading the packets without
    decoding them. A header's declared duration can say anything; this is what the file holds."""
    import av

    path = Path(path)
    _check_file(path)
    with decoding(path, "not a readable video"), av.open(str(path)) as container:
        declared = float(container.duration or 0) / av.time_base
        if declared > 60:  # jump near the claimed end first: the tail alone of an honest long file is read
            try:
                container.seek(int((declared - 30) * av.time_base))
                end = _last_packet_end(container)
                if end > 0:
                    return end
            except av.FFmpegError:
                pass
            container.seek(0)
        return _last_packet_end(container)


def _last_packet_end(container) -> float:
    """The latest end (s) of the packets of the first video and audio streams, from here to the end of the file."""
    end = 0.0
    streams = [*container.streams.video[:1], *container.streams.audio[:1]]
    for packet in container.demux(streams):
        if packet.pts is None or packet.time_base is None:
            continue
        packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
        if np.isfinite(packet_end):
            end = max(end, packet_end)
    return end


def _check_frame_size(path: Path, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(path, f"declares {width}x{height} video frames (more than "
                               f"{MAX_IMAGE_PIXELS // 10**6} million pixels)")


def iter_video_frames(path: str | Path, fps: float | None = None, start: float = 0.0,
                      end: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Stream ``(time_seconds, RGB frame)`` from a video, keeping about ``fps`` frames a second (all if None).

    ``start`` / ``end``: only frames in [start, end) (a shard of a long video), the same frames an unbounded read
    keeps there, so consecutive shards together give the frames of the whole.
    """
    for time, frame, _ in _video_frames(path, fps, start, end, lumas=False):
        yield time, frame


def iter_video_frames_and_lumas(path: str | Path, fps: float | None = None, start: float = 0.0,
                                end: float | None = None) -> Iterator[tuple[float, np.ndarray, list]]:
    """``iter_video_frames``, each kept frame with the grey pictures of every frame decoded since the one kept before
    it, itself included: ``(time, RGB frame, [(time, luma at half size), ...])``. What moves faster than the
    frames kept (a talking mouth) is read from these at no extra decoding."""
    yield from _video_frames(path, fps, start, end, lumas=True)


def half_luma(frame) -> np.ndarray:
    """A decoded PyAV frame's grey picture at half width and height: its Y plane, every second pixel, when the
    pixels are planar YUV (no conversion), else converted."""
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"):
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :frame.width]
    else:
        luma = frame.to_ndarray(format="gray")
    return np.ascontiguousarray(luma[::2, ::2])


def _video_frames(path: str | Path, fps: float | None, start: float, end: float | None,
                  lumas: bool) -> Iterator[tuple[float, np.ndarray, list]]:
    import av

    path = Path(path)
    _check_file(path)
    step = 1.0 / fps if fps else 0.0
    next_time = float(np.ceil(start / step - 1e-6) * step) if step else start
    between: list[tuple[float, np.ndarray]] = []
    with decoding(path, "cannot decode video"), av.open(str(path)) as container:
        if not container.streams.video:
            raise InputError(path, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:
            container.seek(int(start * av.time_base))  # to the key frame at or before ``start``
        for frame in container.decode(stream):
            _check_frame_size(path, frame.width, frame.height)
            time = float(frame.time) if frame.time is not None else next_time
            if not np.isfinite(time):
                time = next_time
            if end is not None and time >= end:
                break
            if lumas and time + 1e-6 >= start:
                between.append((time, half_luma(frame)))
            if time + 1e-6 < (next_time if step else start):
                continue
            next_time = (np.floor(time / step + 1e-6) + 1) * step if step else time
            yield time, frame.to_ndarray(format="rgb24"), between
            between = []


T = TypeVar("T")


def read_ahead(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """``items``, produced by a background thread up to ``depth`` ahead (video decoding overlaps the analysis of
    the frames already decoded). The producer's exception is raised here; stopping early stops the producer."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                ahead.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as error:  # handed to the consumer, raised there
            put((end, error))
        finally:
            close = getattr(source, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="emofuse-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ahead.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=2.0)  # a producer deep in a long decode ends by itself at its next frame


def load_audio_span(path: str | Path, start: float, end: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The audio of [start, end) seconds of a file (a shard of a long video), mono float32 at ``sample_rate``."""
    path = Path(path)
    _check_file(path)
    first = int(round(start * sample_rate))
    last = int(round(min(end, MAX_AUDIO_SECONDS) * sample_rate))
    chunks: list[np.ndarray] = []
    position: int | None = None
    for time, samples in _resampled_audio(path, sample_rate, start):
        if position is None:
            position = int(round(float(time) * sample_rate)) if time is not None else 0
        low, high = max(first - position, 0), min(last - position, len(samples))
        if high > low:
            chunks.append(samples[low:high])
        position += len(samples)
        if position >= last:
            break
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
