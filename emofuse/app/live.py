"""The Live page: camera and microphone through streamlit-webrtc into an emofuse.live.LiveSession.

Frames and audio are analysed in streamlit-webrtc's own threads; the page shows the session through a fragment
that re-runs itself every second, so nothing holds the script run and the other pages keep working.

On localhost no STUN/TURN server is needed (``iceServers`` is empty). For a deployment behind NAT set
``EMOFUSE_ICE_SERVERS`` to a JSON list, e.g. ``[{"urls": ["turn:turn.example.org:3478"], "username": "u",
"credential": "p"}]``.
"""

from __future__ import annotations

import json
import os

import numpy as np
import streamlit as st

from emofuse.app.charts import probability_bars, timeline
from emofuse.labels import FUSION_LABELS
from emofuse.live import AudioFrameFeed, LiveSession
from emofuse.results import label_with_share

REFRESH_SECONDS = 1.0
"""How often the readings, charts and downloads are redrawn. Redrawing costs the server and the browser more than
the frames do (2-core AMD EPYC, benchmarks/app_speed.py; docs/results.md "Face path speed")."""
CHART_SECONDS = 60.0
"""The live chart shows the last minute: a whole session's chart would cost more with every minute (the downloads
hold the whole session)."""
MICROPHONE = {"channelCount": 1, "echoCancellation": False, "noiseSuppression": False, "autoGainControl": False}
"""The voice as spoken: the browser's echo cancelling, noise suppression and gain control change the very cues
the speech model reads (and cost CPU); one channel is all it uses."""
CAMERA = {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30, "max": 30}}
"""The face is analysed at 480 pixels at most: a bigger picture only costs encoding and decoding, in the browser
and here, and leaves less of the machine to the voice. 30 frames/s asked: the server labels 25 a second with the
voice still on time (2 cores, benchmarks/app_speed.py; 15 asked gave 13.6)."""


def ice_servers() -> list[dict]:
    return json.loads(os.environ.get("EMOFUSE_ICE_SERVERS", "[]"))


def live_view(analyzer, adapt: str = "none", settings: str = "") -> None:
    """Camera and microphone together; falls back to snapshots without streamlit-webrtc or with
    EMOFUSE_NO_WEBRTC=1. ``adapt``: the LiveSession's speech adaptation; ``settings``: what the analyzer was made
    from (app.main.analysis_settings: calibration, face model). A change of either starts a new session."""
    if st.session_state.get("live_settings") != (adapt, settings):
        start_session(analyzer, adapt)
        st.session_state.live_settings = (adapt, settings)
    try:
        if os.environ.get("EMOFUSE_NO_WEBRTC"):
            raise ImportError("disabled by EMOFUSE_NO_WEBRTC")
        import av
        from streamlit_webrtc import WebRtcMode, webrtc_streamer
    except ImportError:
        st.info("Live video is off (it needs streamlit-webrtc). Take snapshots instead.")
        snapshot_view(analyzer)
        return
    session: LiveSession = st.session_state.live_session
    feed: AudioFrameFeed = st.session_state.live_feed

    def on_frame(frame):
        drawn, _ = session.add_frame(frame.to_ndarray(format="rgb24"))
        return av.VideoFrame.from_ndarray(drawn, format="rgb24")

    async def on_audio(frames: list) -> list:
        # every frame that queued up while the last ones were read (a plain audio_frame_callback would get only
        # the newest and the voice would be read from scraps of audio)
        feed.feed(frames)
        return [silence(frame) for frame in frames]  # what goes back to the browser: no echo of the voice

    st.write("Start: your face is boxed and labelled live, your voice is read four times a second, and both are "
             "fused. Nothing is recorded or sent anywhere but this machine.")
    context = webrtc_streamer(key="live", mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": ice_servers()},
                              video_frame_callback=on_frame, queued_audio_frames_callback=on_audio,
                              async_processing=True, media_stream_constraints={"video": CAMERA, "audio": MICROPHONE})
    live_panel(session, playing=context.state.playing)
    if st.button("New session", key="live_reset"):
        start_session(analyzer, adapt)
        st.rerun()


def start_session(analyzer, adapt: str) -> None:
    """A fresh LiveSession in this browser session, with the feed that times its audio frames."""
    st.session_state.live_session = session = LiveSession(analyzer, adapt=adapt)
    st.session_state.live_feed = AudioFrameFeed(session)


def silence(frame):
    """A PyAV audio frame of silence shaped and timed like ``frame``."""
    import av

    silent = av.AudioFrame.from_ndarray(np.zeros_like(frame.to_ndarray()), format=frame.format.name,
                                        layout=frame.layout.name)
    silent.sample_rate, silent.pts, silent.time_base = frame.sample_rate, frame.pts, frame.time_base
    return silent


@st.fragment(run_every=REFRESH_SECONDS)
def live_panel(session: LiveSession, playing: bool = False) -> None:
    """The latest fused, voice and face readings, the last minute of the fused ones, and (once the camera and
    microphone stop) the session's downloads. ``playing``: the stream is on (STOP not pressed); a pause of the
    frames alone (a busy machine) does not make the downloads, only STOP or a dropped connection does."""
    update = session.latest()
    cols = st.columns(4)
    now = update.to_dict() if update is not None else {}
    cols[0].metric("Fused", label_with_share(now.get("fused")) or "–")
    cols[1].metric("Voice", label_with_share(now.get("speech")) or "–")
    cols[2].metric("Face", label_with_share(now.get("face")) or "–")
    cols[3].metric("Frames per second", f"{session.fps:.1f}")
    if update is None:
        st.caption("Waiting for the camera and the microphone…")
        return
    st.caption(f"{update.time:.1f} s · fused from {' + '.join(update.sources) or 'nothing yet'} · "
               f"{update.faces} face(s) on screen · {session.audio_health().describe()}")
    if update.fused is not None:
        st.altair_chart(probability_bars(dict(zip(FUSION_LABELS, map(float, update.fused))), FUSION_LABELS),
                        width="stretch")
    history = session.history(since=update.time - CHART_SECONDS)
    if len(history["time"]) > 1:
        st.caption("Fused emotion, the last minute")
        st.altair_chart(timeline(history, FUSION_LABELS), width="stretch")
    if playing or session.receiving():
        st.caption("Stop to download the session as CSV or JSON.")
        return
    csv_text, json_text = session_files(session, update.time)
    left, right = st.columns(2)
    left.download_button("Session CSV", csv_text, "emofuse-live.csv", "text/csv", key="live_csv", on_click="ignore")
    right.download_button("Session JSON", json_text, "emofuse-live.json", "application/json", key="live_json",
                          on_click="ignore")


def session_files(session: LiveSession, until: float) -> tuple[str, str]:
    """The session's CSV and JSON, made once per reading (the panel redraws every second; a session of an hour
    takes a while to write). While the session runs none are made: writing them at each redraw halved the frame
    rate (docs/results.md "Face path speed")."""
    key = (id(session), until)
    cached = st.session_state.get("live_files")
    if cached is None or cached[0] != key:
        files = session.history_csv(), json.dumps(session.to_result().to_dict(), indent=2)
        st.session_state.live_files = cached = (key, files)
    return cached[1]


def snapshot_view(analyzer) -> None:
    from emofuse.app.uploads import camera_snapshot, saved_upload
    from emofuse.face.draw import annotate
    from emofuse.media import load_image

    shot = camera_snapshot("live_snapshot", "Take snapshots with the camera")
    if shot is not None:
        with saved_upload("snapshot.jpg", shot.getvalue()) as path:
            image = load_image(path)
        result = analyzer.analyze_image(image).to_dict()
        st.image(annotate(image, result["face"]["faces"]))
