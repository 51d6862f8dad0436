"""Where a live session's frames and audio come from: a recording played as if live, this machine's camera and
microphone, and the conversion of PyAV audio frames (a microphone's, a WebRTC track's) into samples."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.live.session import STEP, LiveSession, LiveUpdate
from emofuse.media import SAMPLE_RATE

AUDIO_CHUNK = 0.1
"""Seconds of audio handed to the session at a time when a file plays as a microphone."""


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
    device = cv2.VideoCapture(camera) if camera is not None else None
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


def _listen(session: LiveSession, microphone: str, stop: threading.Event) -> None:
    """Read the microphone into the session until ``stop`` (a thread)."""
    import av

    fmt, _, name = microphone.partition(":")
    with av.open(name, format=fmt) as container:
        for frame in container.decode(audio=0):
            if stop.is_set():
                return
            session.add_audio(*audio_samples(frame))


def audio_samples(frame) -> tuple[np.ndarray, int]:
    """A PyAV audio frame (a microphone's, a WebRTC track's) as float samples (N, channels) and its rate."""
    data = frame.to_ndarray()
    samples = data.T if frame.format.is_planar else data.reshape(-1, len(frame.layout.channels))
    if samples.dtype.kind == "i":
        scale = float(np.iinfo(samples.dtype.type).max)
        return samples.astype(np.float32) / scale, frame.sample_rate
    return samples.astype(np.float32), frame.sample_rate
