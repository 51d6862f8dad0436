"""emofuse web app: Voice, Face, Live, Video and Voice + Face pages over the same Python API as the CLI.

Run with ``emofuse app`` (or ``streamlit run emofuse/app/main.py``). Analyses are cached by upload content
(emofuse.app.analysis); downloads do not re-run the page.
"""

from __future__ import annotations

import json

import streamlit as st

from emofuse.app.analysis import (
    analyse_pair,
    analyse_upload,
    analyzer_for,
    annotated_video,
    decoded_image,
    face_model_accuracy,
    shared_analyzer,
    transcription_available,
)
from emofuse.app.charts import probability_bars, timeline
from emofuse.app.uploads import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    MAX_UPLOAD_MB,
    VIDEO_TYPES,
    camera_snapshot,
    friendly_message,
    saved_upload,
)
from emofuse.results import (
    clock_text,
    csv_text,
    fusion_summary,
    label_with_share,
    person_name,
    segment_during,
    several_people,
    timeline_columns,
)

st.set_page_config(page_title="emofuse", page_icon="🎭", layout="wide")

TITLES = {"fused": "Fused", "speech": "Voice", "face": "Face"}
NOTHING = {"fused": "nothing to fuse", "speech": "no voice", "face": "no face"}


def analysis_settings() -> str:
    """This browser session's analysis settings (voice calibration, fast face model) as JSON: the cache key of its
    analyses and what its analyzer is made from (app.analysis.analyzer_for)."""
    profile = st.session_state.get("voice_profile")
    return json.dumps({"profile": None if profile is None else profile.to_dict(),
                       "fast_face": bool(st.session_state.get("fast_face", False))}, sort_keys=True)


def face_model_sidebar() -> None:
    st.sidebar.subheader("Face model")
    accuracy = face_model_accuracy()
    st.sidebar.toggle("Fast face model", key="fast_face",
                      help=f"A small network distilled from an earlier face model: 3 to 5 times faster on a CPU than "
                           f"the default, {100 * (accuracy['face'] - accuracy['face_fast']):.1f} points lower on "
                           f"FER2013 PublicTest ({accuracy['face_fast']:.1%} vs {accuracy['face']:.1%}); for slow "
                           "machines.")


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
            st.session_state["voice_profile"] = shared_analyzer().speech.enrol(load_audio(path))
    except ValueError as exc:  # silence: say so
        st.sidebar.error(f"{source.name}: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
        st.sidebar.error(friendly_message(exc, source.name))
        return
    st.rerun()


# ---------------------------------------------------------------- pieces
def show_block(block: dict | None, name: str) -> None:
    """A modality's label with its own probability, and its probabilities as bars (0-1, fixed colours)."""
    if not block or not block.get("label"):
        st.metric(TITLES[name], "–")
        st.caption(NOTHING[name])
        return
    st.metric(TITLES[name], label_with_share(block))
    st.altair_chart(probability_bars(block["probabilities"], block["labels"]), width="stretch")


def calibration_note(result: dict) -> None:
    """Say when a result's voice was read against the user's calibration (it is re-read when one is made)."""
    adaptation = (result.get("speech") or {}).get("adaptation") or {}
    if adaptation.get("mode") == "enrol":
        st.caption(f"Voice read against your calibration ({adaptation['seconds']:.0f} s of calm speech); "
                   "\"Forget calibration\" in the sidebar reads it plainly again.")


def show_timeline(block: dict | None, title: str, track_id: int | None = None) -> None:
    columns = timeline_columns(block, track_id)
    if block and len(columns.get("time", [])) > 1:
        st.caption(title)
        st.altair_chart(timeline(columns, block["labels"]), width="stretch")


def analysed(kind: str, upload, transcribe: bool = False) -> dict | None:
    """The cached analysis of an upload; a friendly message in the page when it fails."""
    try:
        with st.spinner(f"Analysing {upload.name}…"):
            return analyse_upload(kind, upload.name, upload.getvalue(), analysis_settings(), transcribe)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
        st.error(friendly_message(exc, upload.name))
        return None


def downloads(result: dict, key: str) -> None:
    """JSON, CSV and HTML of a result; clicking one does not re-run the page."""
    from emofuse.report import report_html

    cols = st.columns(3)
    cols[0].download_button("JSON", json.dumps(result, indent=2), "emofuse.json", "application/json",
                            key=f"{key}j", on_click="ignore")
    cols[1].download_button("CSV", csv_text([result]), "emofuse.csv", "text/csv", key=f"{key}c", on_click="ignore")
    cols[2].download_button("HTML report", report_html([result]), "emofuse.html", "text/html", key=f"{key}h",
                            on_click="ignore")


def transcribe_choice(key: str) -> bool:
    """The page's "what was said" switch (offered when the transcribe extra is installed)."""
    if not transcription_available():
        st.caption("Transcripts with emotion per utterance: `pip install 'emofuse[transcribe]'`.")
        return False
    return st.checkbox("Transcribe what is said (emotion per utterance; offline Whisper, slower)", key=key)


def show_transcript(result: dict) -> None:
    """What was said, one row per utterance: time, words, fused emotion, the voice's and the face's."""
    import pandas as pd

    transcript = result.get("transcript")
    if transcript is None:
        return
    st.caption(f"What was said ({transcript['model']}, {transcript.get('language') or 'language unknown'})")
    if not transcript["utterances"]:
        st.info("No speech was transcribed.")
        return
    rows = [{"time": f"{clock_text(u['start'])}–{clock_text(u['end'])}", "said": u["text"],
             "fused": label_with_share(u["fused"]) or "–", "voice": label_with_share(u["speech"]) or "–",
             "face": label_with_share(u["face"]) or "–"} for u in transcript["utterances"]]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# ---------------------------------------------------------------- pages
def voice_page() -> None:
    st.write("Upload a recording or record one; the voice is split into voiced windows and classified.")
    upload = st.file_uploader("Audio file", type=AUDIO_TYPES, key="voice_upload")
    recording = st.audio_input("…or record from the microphone", key="voice_record")
    transcribe = transcribe_choice("voice_transcribe")
    for source, key in ((upload, "voice_file"), (recording, "voice_rec")):
        if source is None:
            continue
        result = analysed("audio", source, transcribe)
        if result is None:
            continue
        st.subheader("Your recording" if source is recording else source.name)
        speech = result["speech"]
        if speech["label"] is None:
            st.warning(f"{source.name}: no speech found, the recording seems silent.")
            continue
        show_block(speech, "speech")
        calibration_note(result)
        show_timeline(speech, "Voice over time")
        show_transcript(result)
        downloads(result, key)


def face_page() -> None:
    from emofuse.face.draw import annotate

    st.write("Upload photos or take a snapshot; every face is found, aligned and classified.")
    uploads = st.file_uploader("Photos", type=IMAGE_TYPES, accept_multiple_files=True, key="face_upload")
    snapshot = camera_snapshot("face_camera")
    for source in [*(uploads or []), *([snapshot] if snapshot else [])]:
        result = analysed("image", source)
        if result is None:
            continue
        faces = result["face"]["faces"]
        st.subheader(source.name)
        st.image(annotate(decoded_image(source.name, source.getvalue()), faces), caption=f"{len(faces)} face(s)")
        if not faces:
            st.warning(f"{source.name}: no face found.")
        for i, face in enumerate(faces, 1):
            st.write(f"Face {i}: **{face['label']}** {face['probabilities'][face['label']]:.0%}")


def video_page() -> None:
    st.write("Upload a clip with a speaking person: voice and face over time, and both fused.")
    upload = st.file_uploader("Video", type=VIDEO_TYPES, key="video_upload")
    transcribe = transcribe_choice("video_transcribe")
    if upload is None:
        return
    result = analysed("video", upload, transcribe)
    if result is None:
        return
    video_slot = st.container()  # the labelled video goes here once drawn, after the results below are shown
    for col, name in zip(st.columns(3), ("fused", "speech", "face")):
        with col:
            show_block(result[name], name)
    if result["fused"]["missing"]:
        missing = " and ".join(NOTHING[m] for m in result["fused"]["missing"])
        st.info(f"{missing[0].upper()}{missing[1:]}: the result rests on what there is.")
    if note := fusion_summary(result):
        st.caption(note)
    calibration_note(result)
    show_timeline(result["fused"], "Fused emotion over time")
    show_people(result)
    show_transcript(result)
    show_timeline(result["speech"], "Voice over time")
    faces = (result["face"] or {}).get("faces") or []
    for face in faces:
        title = "Face over time" if len(faces) == 1 else f"Face #{face['track_id']} over time ({face['frames']} frames)"
        show_timeline(result["face"], title, face["track_id"])
    segment_table(result)
    downloads(result, "video")
    with video_slot:
        if st.toggle("Show the video with the faces labelled", value=True, key="video_annotated"):
            with st.spinner("Drawing the faces on the video…"):
                st.video(annotated_video(upload.name, upload.getvalue(), analysis_settings(), transcribe))


def show_people(result: dict) -> None:
    """With several people: each one's labels and fused timeline (their voice only where they speak, their face
    only their own)."""
    people = several_people(result)
    if not people:
        return
    st.subheader("People")
    st.caption("Each voice goes with the face that moves in time with it.")
    width = (result.get("video") or {}).get("width")
    for person in people:
        name = person_name(person, width).capitalize()
        st.markdown(f"**{name}**: " + ", ".join(f"{what} {label_with_share(person.get(key)) or '–'}" for key, what in
                                                  (("fused", "fused"), ("speech", "voice"), ("face", "face"))))
        show_timeline(person["fused"], f"{name}: fused emotion over time")


def segment_table(result: dict) -> None:
    """One row per fused window: time, fused label and probability, what each modality said, sources."""
    import pandas as pd

    fused = result["fused"]["segments"]
    if not fused:
        return

    def said(modality: str, window: dict) -> str:
        """What a modality (its main face, for faces) said over the window: the segment overlapping it most."""
        return label_with_share(segment_during(result[modality], window["start"], window["end"])) or "–"

    rows = [{"start (s)": s["start"], "end (s)": s["end"], "fused": label_with_share(s),
             "voice": said("speech", s), "face": said("face", s), "from": " + ".join(s["sources"])} for s in fused]
    with st.expander("Per-window table"):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def pair_page() -> None:
    st.write("An audio recording and a photo of the same person, fused.")
    audio = st.file_uploader("Audio", type=AUDIO_TYPES, key="pair_audio")
    image = st.file_uploader("Photo", type=IMAGE_TYPES, key="pair_image")
    if not (audio and image):
        return
    try:
        result = analyse_pair(audio.name, audio.getvalue(), image.name, image.getvalue(), analysis_settings())
    except Exception as exc:  # noqa: BLE001
        st.error(friendly_message(exc, f"{audio.name} / {image.name}"))
        return
    for col, name in zip(st.columns(3), ("fused", "speech", "face")):
        with col:
            show_block(result[name], name)
    if note := fusion_summary(result):
        st.caption(note)
    calibration_note(result)


def live_page() -> None:
    from emofuse.app.live import live_view

    adapt = st.checkbox("Adapt to this voice as the session goes", value=False, key="live_adapt",
                        help="Reads your voice relative to how it has sounded so far in this session (settles after "
                             "about 10 s of speech), starting from your calibration when you made one. Helps when "
                             "the session holds calm speech too; a voice that stays in one emotion drifts towards "
                             "neutral (a happy sentence said over and over: 34% of readings happy, 90% without). "
                             "\"Calibrate to me\" in the sidebar is the surer way to a personal reading.")
    settings = analysis_settings()
    live_view(analyzer_for(settings), "session" if adapt else "none", settings)


st.title("emofuse")
st.caption("Emotion from voice and face. Results are model outputs, not facts about a person's feelings.")
pages = {"Voice": voice_page, "Face": face_page, "Live": live_page, "Video": video_page, "Voice + Face": pair_page}
for tab, page in zip(st.tabs(list(pages)), pages.values()):
    with tab:
        page()
calibration_sidebar()
face_model_sidebar()
st.sidebar.markdown(f"Uploads up to {MAX_UPLOAD_MB} MB. Files are analysed in a temporary folder and deleted.")
