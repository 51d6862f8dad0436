"""The app's analyses, cached by upload content: a click, a download or a page switch re-runs nothing.

Streamlit re-runs the page script on every interaction; these functions only run when an upload's bytes (or
the voice calibration) are new. ``CALLS`` counts the analyses actually run (for tests and the curious).
"""

from __future__ import annotations

import json
from collections import Counter

import streamlit as st

from emofuse.app.uploads import saved_upload

CALLS: Counter[str] = Counter()


@st.cache_resource(show_spinner="Loading models…")
def shared_analyzer():
    """One Analyzer (and its models) per server process, shared by every session and rerun."""
    from emofuse.pipeline import Analyzer

    analyzer = Analyzer()
    _ = analyzer.speech, analyzer.face  # load both models now, not on the first upload
    return analyzer


@st.cache_resource(show_spinner="Loading the speech-to-text model…")
def shared_transcriber():
    """One Whisper per server process (loaded on the first transcription asked for)."""
    from emofuse.audio.transcribe import Transcriber

    transcriber = Transcriber()
    _ = transcriber.model
    return transcriber


def transcription_available() -> bool:
    """Whether the transcribe extra is installed (the pages offer transcription only then)."""
    import importlib.util

    return importlib.util.find_spec("faster_whisper") is not None


@st.cache_resource(show_spinner="Loading the fast face model…")
def shared_fast_face():
    """The distilled face network (models/face_fast.md) with the shared analyzer's detector settings."""
    from emofuse.face.classifier import FaceClassifier
    from emofuse.models import load_card

    config = shared_analyzer().config
    return FaceClassifier(load_card("face_fast"), detector=config.detector, min_face_size=config.min_face_size,
                          max_side=config.detect_max_side)


@st.cache_data(show_spinner=False)
def face_model_accuracy() -> dict[str, float]:
    """FER2013 PublicTest accuracy of the default and the fast face model, from their cards (read once per server
    process, not at every rerun of the sidebar)."""
    from emofuse.models import load_card

    return {task: load_card(task)["publictest_report"]["accuracy"] for task in ("face", "face_fast")}


def analyzer_for(settings: str = "", transcribe: bool = False):
    """The shared analyzer, or one made from a browser session's ``settings`` (JSON: ``profile``, a voice
    calibration to read voices against; ``fast_face``, the distilled face network) and/or transcribing; the
    models are shared."""
    from dataclasses import replace

    from emofuse.audio.adapt import VoiceProfile
    from emofuse.pipeline import Analyzer

    shared = shared_analyzer()
    chosen = json.loads(settings) if settings else {}
    profile, fast = chosen.get("profile"), bool(chosen.get("fast_face"))
    if not profile and not fast and not transcribe:
        return shared
    return Analyzer(replace(shared.config, transcribe=transcribe, fast_face=fast), shared.learned_fusion,
                    shared.speech, shared_fast_face() if fast else shared.face,
                    profile=VoiceProfile.from_dict(profile) if profile else None,
                    transcriber=shared_transcriber() if transcribe else None)


def analyse_upload(kind: str, name: str, data: bytes, settings: str = "", transcribe: bool = False) -> dict:
    """The result (JSON form) of an uploaded audio, video or image file, under the upload's own name."""
    if kind == "video":
        return analyse_video(name, data, settings, transcribe)[0]
    return analyse_file(kind, name, data, settings, transcribe)


@st.cache_data(max_entries=32, show_spinner=False)
def analyse_file(kind: str, name: str, data: bytes, settings: str = "", transcribe: bool = False) -> dict:
    """The result of an uploaded audio or image file (audio transcribed when asked)."""
    CALLS[kind] += 1
    analyzer = analyzer_for(settings, transcribe and kind == "audio")
    action = analyzer.analyze_audio if kind == "audio" else analyzer.analyze_image
    with saved_upload(name, data) as path:
        return action(path).renamed(name).to_dict()


@st.cache_data(max_entries=16, show_spinner=False)
def analyse_video(name: str, data: bytes, settings: str = "", transcribe: bool = False) -> tuple[dict, list]:
    """A video's result and its face samples (what the annotated video is drawn from)."""
    CALLS["video"] += 1
    analyzer = analyzer_for(settings, transcribe)
    with saved_upload(name, data) as path:
        part = analyzer.analyze_video_span(path)
        return analyzer.join_video(path, [part]).renamed(name).to_dict(), part.samples


@st.cache_data(max_entries=8, show_spinner=False)
def annotated_video(name: str, data: bytes, settings: str = "", transcribe: bool = False) -> bytes:
    """The uploaded video with every face's box and label on every frame (mp4 bytes), audio kept."""
    import tempfile
    from pathlib import Path

    from emofuse.video.annotate import write_annotated_video

    _, samples = analyse_video(name, data, settings, transcribe)  # the cached analysis, not a second one
    with saved_upload(name, data) as path, tempfile.TemporaryDirectory(prefix="emofuse-") as folder:
        target = Path(folder) / "annotated.mp4"
        write_annotated_video(path, samples, target)
        return target.read_bytes()


@st.cache_data(max_entries=16, show_spinner=False)
def analyse_pair(audio_name: str, audio: bytes, image_name: str, image: bytes, settings: str = "") -> dict:
    """The fused result of a recording and a photo of the speaker."""
    CALLS["pair"] += 1
    with saved_upload(audio_name, audio) as audio_path, saved_upload(image_name, image) as image_path:
        result = analyzer_for(settings).analyze_pair(audio_path, image_path).renamed(audio_name)
    return {**result.to_dict(), "image": image_name}


@st.cache_data(max_entries=16, show_spinner=False)
def decoded_image(name: str, data: bytes):
    """An uploaded image as RGB (for drawing its faces)."""
    from emofuse.media import load_image

    with saved_upload(name, data) as path:
        return load_image(path)
