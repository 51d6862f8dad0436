"""Where a live session's frames and audio come from: a recording played as if live, this machine's camera and
microphone, and the conversion of PyAV audio frames (a microphone's, a WebRTC track's) into samples."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emofuse.live.session import STEP, LiveSession, LiveUpdate, log
from emofuse.media import SAMPLE_RATE

AUDIO_CHUNK = 0.1
"""Seconds of audio handed to the session at a time when a file plays as a microphone."""
NEW_STREAM_JUMP = 5.0
"""A jump of the frames' own clock by more than this many seconds (either way) means a new stream (a restarted
WebRTC track): its time is anchored afresh to the session clock."""


def play_file(session: LiveSession, path: str | Path, realtime: bool = True, fps: float = 15.0,
              until: float | None = None) -> Iterator[LiveUpdate]:
    """Feed a recording to ``session`` as if it were a camera and a microphone; yield each new update.

    ``realtime``: at the recording's own pace, dropping frames the analysis cannot keep up with (as a live
    camera would); otherwise as fast as the analysis goes, every frame at ``fps``. Audio-only and video-only
    files work too.
    """
    from emofuse.media import has_audio, iter_video_frames, load_audio, sniff

    kind = sniff(path)
    audio = load_audio(path) if kind != "image" and has_audio(path) else np.zeros(0, np.float32)
    frames = iter_video_frames(path, fps=fps) if kind == "video" else iter(())
    chunk = int(AUDIO_CHUNK * SAMPLE_RATE)
    audio_events = ((min(len(audio), i + chunk) / SAMPLE_RATE, ("audio", audio[i:i + chunk]))
                    for i in range(0, len(audio), chunk))
    video_events = ((t, ("frame", frame)) for t, frame in frames)
    started = time.monotonic()
    last: LiveUpdate | None = None
    for at, (kind_of, data) in _merged(audio_events, video_events):
        if until is not None and at > until:
            break
        if realtime:
            lag = time.monotonic() - started - at
            if lag < 0:
                time.sleep(-lag)
            elif kind_of == "frame" and lag > 1.5 / fps:
                continue  # behind: drop this frame, as a camera would
        if kind_of == "frame":
            session.add_frame(data, at=at)
        else:
            session.add_audio(data, SAMPLE_RATE, at=at)
        update = session.latest()
        if update is not None and update is not last:
            last = update
            yield update


def _merged(*streams: Iterator[tuple[float, tuple[str, Any]]]) -> Iterator[tuple[float, tuple[str, Any]]]:
    """Events of several time-ordered streams in time order."""
    import heapq

    return heapq.merge(*streams, key=lambda event: event[0])


def capture(session: LiveSession, camera: int | None = 0, microphone: str | None = None,
            seconds: float | None = None) -> Iterator[LiveUpdate]:
    """Feed a local camera (OpenCV device index) and microphone to ``session``; yield each new update.

    ``microphone``: an FFmpeg input device as ``FORMAT:DEVICE``, e.g. ``pulse:default`` or ``alsa:default``
    (Linux), ``avfoundation::0`` (macOS), ``dshow:audio=Microphone`` (Windows); None: no voice.
    """
    import cv2

    from emofuse.errors import EmofuseError

    stop = threading.Event()
    if microphone:
        threading.Thread(target=_listen, args=(session, microphone, stop), daemon=True).start()
    device = _open_camera(camera) if camera is not None else None
    if device is not None and not device.isOpened():
        raise EmofuseError(f"camera {camera}: cannot be opened")
    last: LiveUpdate | None = None
    try:
        while seconds is None or session.clock() < seconds:
            if device is not None:
                ok, frame = device.read()
                if not ok:
                    raise EmofuseError(f"camera {camera}: no frame (disconnected?)")
                session.add_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            else:
                time.sleep(STEP / 5)
            update = session.latest()
            if update is not None and update is not last:
                last = update
                yield update
    finally:
        stop.set()
        if device is not None:
            device.release()


def _open_camera(camera: int):
    """An OpenCV capture of camera ``camera``, without OpenCV's own warnings on stderr when it cannot be opened (the
    caller says so in one line)."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return cv2.VideoCapture(camera)
    finally:
        cv2.utils.logging.setLogLevel(level)


def _listen(session: LiveSession, microphone: str, stop: threading.Event) -> None:
    """Read the microphone into the session until ``stop`` (a thread)."""
    import av

    fmt, _, name = microphone.partition(":")
    feed = AudioFrameFeed(session)
    with av.open(name, format=fmt) as container:
        for frame in container.decode(audio=0):
            if stop.is_set():
                return
            feed.feed([frame])


class AudioFrameFeed:
    """Feeds PyAV audio frames (a WebRTC track's, a microphone's) to a session on the frames' own clock.

    Each frame's time comes from its ``pts`` (anchored to the session clock at the first frame), not from when it
    happened to arrive, so frames that come late or in bursts still land where they belong, and frames that never
    came leave a gap the session knows about (``LiveSession.audio_health``). Frames without a ``pts`` follow one
    another. Frames that arrive together go in as one chunk: at most one voice reading per call, so a struggling
    machine skips readings instead of falling further and further behind. A jump of the frames' clock by more than
    NEW_STREAM_JUMP starts a new stream (START pressed again); frames of a stream it replaced are dropped
    (``superseded`` counts them), so two tracks never interleave.
    """

    def __init__(self, session: LiveSession):
        self.session = session
        self._streams: list[list[float]] = []  # [origin (session time of the stream's time 0), its latest time]
        self.superseded = 0

    def feed(self, frames: list) -> None:
        """Hand ``frames`` (in arrival order) to the session."""
        runs: list[tuple[list[np.ndarray], int, float | None]] = []  # contiguous (samples, rate, end time)
        for frame in frames:
            start = self._session_time(frame)
            if start is False:
                continue
            samples, rate = audio_samples(frame)
            end = None if start is None else start + len(samples) / rate
            if runs and runs[-1][1] == rate and _follows(runs[-1][2], start):
                runs[-1][0].append(samples)
                runs[-1] = (runs[-1][0], rate, end)
            else:
                runs.append(([samples], rate, end))
        for parts, rate, end in runs:
            self.session.add_audio(np.concatenate(parts), rate, at=end)

    def _session_time(self, frame) -> float | None | Literal[False]:
        """The session time where ``frame`` starts; None without a pts; False for a superseded stream's frame."""
        if frame.pts is None or frame.time_base is None:
            return None
        own = float(frame.pts * frame.time_base)
        stream = next((s for s in self._streams if abs(own - s[1]) <= NEW_STREAM_JUMP), None)
        if stream is None:  # a new stream: it replaces the others, and starts now (never before audio heard)
            stream = [max(self.session.clock(), self.session.heard_until()) - own, own]
            self._streams = [*self._streams[-3:], stream]
        elif stream is not self._streams[-1]:
            self.superseded += 1
            if self.superseded == 1:
                log.warning("live audio: frames of a replaced audio stream are dropped")
            return False
        stream[1] = own
        return stream[0] + own


def _follows(end: float | None, start: float | None) -> bool:
    """Whether a frame starting at ``start`` continues a run ending at ``end`` (both None: no clock, they do)."""
    if end is None or start is None:
        return end is None and start is None
    return abs(start - end) < 1e-3


def audio_samples(frame) -> tuple[np.ndarray, int]:
    """A PyAV audio frame (a microphone's, a WebRTC track's) as float samples (N, channels) in [-1, 1] and its rate:
    packed or planar, signed or unsigned integers or floats, any layout."""
    data = frame.to_ndarray()
    samples = data.T if frame.format.is_planar else data.reshape(-1, len(frame.layout.channels))
    if samples.dtype.kind == "i":
        return samples.astype(np.float32) / float(-np.iinfo(samples.dtype).min), frame.sample_rate
    if samples.dtype.kind == "u":  # unsigned: silence is the middle of the range
        middle = float(np.iinfo(samples.dtype).max // 2 + 1)
        return (samples.astype(np.float32) - middle) / middle, frame.sample_rate
    return samples.astype(np.float32), frame.sample_rate
