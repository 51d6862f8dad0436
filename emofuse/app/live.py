"""The Live page: webcam frames through streamlit-webrtc, labelled by emofuse.live in real time.

On localhost no STUN/TURN server is needed (``iceServers`` is empty). For a deployment behind NAT set
``EMOFUSE_ICE_SERVERS`` to a JSON list, e.g. ``[{"urls": ["turn:turn.example.org:3478"], "username": "u",
"credential": "p"}]``.
"""

from __future__ import annotations

import json
import os
import time

import streamlit as st

from emofuse.app.uploads import saved_upload
from emofuse.live import LiveFaceAnalyzer


def ice_servers() -> list[dict]:
    return json.loads(os.environ.get("EMOFUSE_ICE_SERVERS", "[]"))


def live_view(face_classifier) -> None:
    """Live webcam labelling; falls back to snapshots without streamlit-webrtc or with EMOFUSE_NO_WEBRTC=1."""
    try:
        if os.environ.get("EMOFUSE_NO_WEBRTC"):
            raise ImportError("disabled by EMOFUSE_NO_WEBRTC")
        import av
        from streamlit_webrtc import WebRtcMode, webrtc_streamer
    except ImportError:
        st.info("Live video is off (it needs streamlit-webrtc). Take snapshots instead.")
        snapshot_view(face_classifier)
        return
    if "live_analyzer" not in st.session_state:
        st.session_state.live_analyzer = LiveFaceAnalyzer(face_classifier)
    live: LiveFaceAnalyzer = st.session_state.live_analyzer

    def on_frame(frame):
        drawn, _ = live.process(frame.to_ndarray(format="rgb24"))
        return av.VideoFrame.from_ndarray(drawn, format="rgb24")

    st.write("Start the camera: faces are boxed and labelled live; the chart follows the main face.")
    context = webrtc_streamer(key="live", mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": ice_servers()},
                              video_frame_callback=on_frame, async_processing=True,
                              media_stream_constraints={"video": True, "audio": False})
    fps_slot, chart_slot = st.empty(), st.empty()
    st.download_button("Download session CSV", live.history_csv(), "emofuse-live.csv", "text/csv", key="live_csv")
    while context.state.playing:
        fps_slot.metric("Frames per second", f"{live.fps:.1f}")
        show_history(chart_slot, live)
        time.sleep(0.5)
    show_history(chart_slot, live)


def show_history(slot, live: LiveFaceAnalyzer) -> None:
    import pandas as pd

    history = live.history()
    if len(history["time"]) > 1:
        slot.line_chart(pd.DataFrame(history).set_index("time"), height=240)


def snapshot_view(face_classifier) -> None:
    from emofuse.face.draw import annotate
    from emofuse.media import load_image

    shot = st.camera_input("Snapshot", key="live_snapshot")
    if shot is not None:
        with saved_upload("snapshot.jpg", shot.getvalue()) as path:
            image = load_image(path)
        block = face_classifier.analyze_image(image)
        st.image(annotate(image, block["faces"]))
