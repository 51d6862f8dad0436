"""Real-time emotion from a camera and a microphone, separately and fused: the engine under the app's Live page
and ``emofuse live``.

Video frames and audio chunks arrive (from different threads) with their time in seconds since the session
began (its first frame or audio); PyAV audio frames go through an ``AudioFrameFeed``, which times them by
their own clock and lets the session count late, out-of-order and missing audio. The face is read on every
frame it is given (detected every ``detect_every``-th, tracked in between); the voice on the last
``SPEECH_WINDOW`` seconds, every ``STEP`` seconds; every ``STEP`` the two are fused by the same rule as files
(emofuse.fusion), each weighted by how much recent evidence backs it.

>>> session = LiveSession(Analyzer())
>>> drawn, faces = session.add_frame(rgb_frame, at=t)        # per camera frame
>>> session.add_audio(samples, 48_000, at=t)                 # per microphone chunk
>>> session.latest()                                         # LiveUpdate: fused, voice and face right now
>>> session.to_result().to_dict()                            # the whole session in the results schema

Modules: ``session`` (LiveSession, LiveUpdate), ``sources`` (a file played as if live, camera and microphone
capture, PyAV audio frames to samples and into a session).
"""

from emofuse.live.session import (
    FACE_MEMORY,
    SPEECH_WINDOW,
    STEP,
    VOICE_MEMORY,
    AudioHealth,
    LiveSession,
    LiveUpdate,
)
from emofuse.live.sources import AUDIO_CHUNK, AudioFrameFeed, audio_samples, capture, play_file

__all__ = ["AUDIO_CHUNK", "FACE_MEMORY", "SPEECH_WINDOW", "STEP", "VOICE_MEMORY", "AudioFrameFeed", "AudioHealth",
           "LiveSession", "LiveUpdate", "audio_samples", "capture", "play_file"]
