"""emofuse web app: Voice, Face, Live, Video and Voice + Face pages over the same Python API as the CLI.

Run with ``emofuse app`` (or ``streamlit run emofuse/app/main.py``).
"""

from __future__ import annotations

import json

import streamlit as st

from emofuse.app.uploads import AUDIO_TYPES, IMAGE_TYPES, MAX_UPLOAD_MB, VIDEO_TYPES, friendly_message, saved_upload
from emofuse.results import csv_text, fusion_summary, timeline_columns

st.set_page_config(page_title="emofuse", page_icon="🎭", layout="wide")


@st.cache_resource(show_spinner="Loading models…")
def get_analyzer():
    """One Analyzer (and its models) per server process, shared by every session and rerun."""
    from emofuse.pipeline import Analyzer

    analyzer = Analyzer()
    _ = analyzer.speech, analyzer.face  # load both models now, not on the first upload
    return analyzer


def current_analyzer():
    """The shared analyzer, or one reading voices relative to this session's calibration (models shared)."""
    from emofuse.pipeline import Analyzer

    shared = get_analyzer()
    profile = st.session_state.get("voice_profile")
    if profile is None:
        return shared
    return Analyzer(shared.config, shared.learned_fusion, shared.speech, shared.face, profile=profile)


def calibration_sidebar() -> None:
    """"Calibrate to me": a calm recording of the user becomes the reference their voice is read against."""
    from emofuse.media import load_audio

    st.sidebar.subheader("Calibrate to me")
    profile = st.session_state.get("voice_profile")
    if profile is not None:
        st.sidebar.success(f"Voice calibrated from {profile.seconds:.0f} s of speech.")
        if st.sidebar.button("Forget calibration", key="forget_profile"):
            del st.session_state["voice_profile"]
            st.rerun()
        return
    st.sidebar.caption("Read a sentence calmly for about 10 s; your voice is then read relative to it.")
    source = st.sidebar.audio_input("Record", key="calibrate_record") or st.sidebar.file_uploader(
        "…or upload a calm recording", type=AUDIO_TYPES, key="calibrate_upload")
    if source is None:
        return
    try:
        with saved_upload(source.name, source.getvalue()) as path:
            st.session_state["voice_profile"] = get_analyzer().speech.enrol(load_audio(path))
    except ValueError as exc:  # silence: say so
        st.sidebar.error(f"{source.name}: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
        st.sidebar.error(friendly_message(exc, source.name))
        return
    st.rerun()


def show_probabilities(block: dict, title: str) -> None:
    import pandas as pd

    st.metric(title, block["label"] or "–")
    if block["probabilities"]:
        frame = pd.DataFrame({"probability": block["probabilities"]}).sort_values("probability", ascending=False)
        st.bar_chart(frame, horizontal=True, height=220)


def show_timeline(block: dict | None, title: str) -> None:
    import pandas as pd

    columns = timeline_columns(block)
    if len(columns.get("time", [])) > 1:
        st.caption(title)
        st.area_chart(pd.DataFrame(columns).set_index("time"), height=220, stack=True)


def analyse_upload(upload, action) -> dict | None:
    """Run ``action(path)`` on an upload inside a temporary folder; show a friendly error on failure."""
    try:
        with saved_upload(upload.name, upload.getvalue()) as path, st.spinner(f"Analysing {upload.name}…"):
            result = action(path)
        return result.renamed(upload.name).to_dict()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
        st.error(friendly_message(exc, upload.name))
        return None


def downloads(result: dict, key: str) -> None:
    from emofuse.report import report_html

    cols = st.columns(3)
    cols[0].download_button("JSON", json.dumps(result, indent=2), "emofuse.json", "application/json", key=f"{key}j")
    cols[1].download_button("CSV", csv_text([result]), "emofuse.csv", "text/csv", key=f"{key}c")
    cols[2].download_button("HTML report", report_html([result]), "emofuse.html", "text/html", key=f"{key}h")


def voice_page() -> None:
    st.write("Upload a recording or record one; the voice is split into voiced windows and classified.")
    upload = st.file_uploader("Audio file", type=AUDIO_TYPES, key="voice_upload")
    recording = st.audio_input("…or record from the microphone", key="voice_record")
    source = upload or recording
    if source is None:
        return
    result = analyse_upload(source, current_analyzer().analyze_audio)
    if result is None:
        return
    speech = result["speech"]
    if speech["label"] is None:
        st.warning("No speech found: the recording seems silent.")
        return
    show_probabilities(speech, "Voice")
    show_timeline(speech, "Speech emotion over time")
    downloads(result, "voice")


def face_page() -> None:
    from emofuse.face.draw import annotate
    from emofuse.media import load_image

    st.write("Upload photos or take a snapshot; every face is found, aligned and classified.")
    uploads = st.file_uploader("Photos", type=IMAGE_TYPES, accept_multiple_files=True, key="face_upload")
    snapshot = st.camera_input("…or take a snapshot", key="face_camera")
    for source in [*(uploads or []), *([snapshot] if snapshot else [])]:
        try:
            with saved_upload(source.name, source.getvalue()) as path:
                image = load_image(path)
            result = get_analyzer().analyze_image(image).to_dict()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
            st.error(friendly_message(exc, source.name))
            continue
        faces = result["face"]["faces"]
        st.subheader(source.name)
        st.image(annotate(image, faces), caption=f"{len(faces)} face(s)")
        if not faces:
            st.warning(f"{source.name}: no face found.")
        for i, face in enumerate(faces, 1):
            st.write(f"Face {i}: **{face['label']}** ({face['probabilities'][face['label']]:.0%})")


def video_page() -> None:
    st.write("Upload a clip with a speaking person: voice and face over time, and both fused.")
    upload = st.file_uploader("Video", type=VIDEO_TYPES, key="video_upload")
    if upload is None:
        return
    result = analyse_upload(upload, current_analyzer().analyze_video)
    if result is None:
        return
    cols = st.columns(3)
    for col, name in zip(cols, ("fused", "speech", "face")):
        with col:
            block = result[name]
            if block and block["label"]:
                show_probabilities(block, name.capitalize())
            else:
                st.metric(name.capitalize(), "–")
                st.caption("no voice" if name == "speech" else "no face" if name == "face" else "nothing to fuse")
    if result["fused"]["missing"]:
        st.info(f"Missing modality: {', '.join(result['fused']['missing'])}; the other one carries the result.")
    if note := fusion_summary(result):
        st.caption(note)
    show_timeline(result["fused"], "Fused emotion over time")
    show_timeline(result["speech"], "Voice over time")
    show_timeline(result["face"], "Face over time (main face)")
    downloads(result, "video")


def pair_page() -> None:
    st.write("An audio recording and a photo of the same person, fused.")
    audio = st.file_uploader("Audio", type=AUDIO_TYPES, key="pair_audio")
    image = st.file_uploader("Photo", type=IMAGE_TYPES, key="pair_image")
    if not (audio and image):
        return
    try:
        with saved_upload(audio.name, audio.getvalue()) as audio_path, \
                saved_upload(image.name, image.getvalue()) as image_path:
            result = current_analyzer().analyze_pair(audio_path, image_path).to_dict()
    except Exception as exc:  # noqa: BLE001
        st.error(friendly_message(exc, f"{audio.name} / {image.name}"))
        return
    cols = st.columns(3)
    for col, name in zip(cols, ("fused", "speech", "face")):
        with col:
            block = result[name]
            show_probabilities(block, name.capitalize()) if block and block["label"] else st.metric(name, "–")
    if note := fusion_summary(result):
        st.caption(note)


def live_page() -> None:
    from emofuse.app.live import live_view

    live_view(get_analyzer().face)


st.title("emofuse")
st.caption("Emotion from voice and face. Results are model outputs, not facts about a person's feelings.")
pages = {"Voice": voice_page, "Face": face_page, "Live": live_page, "Video": video_page, "Voice + Face": pair_page}
for tab, page in zip(st.tabs(list(pages)), pages.values()):
    with tab:
        page()
calibration_sidebar()
st.sidebar.markdown(f"Uploads up to {MAX_UPLOAD_MB} MB. Files are analysed in a temporary folder and deleted.")
