"""The web app's pages, driven by streamlit's AppTest with real and broken uploads."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

import emofuse.app
from emofuse.app.uploads import friendly_message, saved_upload
from emofuse.errors import InputError
from tests.conftest import RAVDESS_VIDEO, need, write_wav

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(Path(emofuse.app.__file__).parent / "main.py")


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("EMOFUSE_NO_WEBRTC", "1")  # WebRTC needs a browser: see tests/test_browser.py
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def uploader(at, key):
    return next(u for u in at.file_uploader if u.key == key)


def png_bytes(image):
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return data.tobytes()


def test_every_page_is_there(app):
    assert [t.label for t in app.tabs] == ["Voice", "Face", "Live", "Video", "Voice + Face"]
    assert app.title[0].value == "emofuse"


def test_calibrate_to_me_reads_the_voice_against_the_profile(app, speech_wav, tmp_path):
    silent = write_wav(tmp_path / "silent.wav", np.zeros(32_000, np.float32))
    uploader(app, "calibrate_upload").upload("silent.wav", silent.read_bytes(), "audio/wav")
    app.run()
    assert "no voiced audio" in app.sidebar.error[0].value and "voice_profile" not in app.session_state
    uploader(app, "calibrate_upload").upload("calm.wav", speech_wav.read_bytes(), "audio/wav")
    app.run()
    assert not app.exception
    assert "Voice calibrated" in app.sidebar.success[0].value
    assert app.session_state["voice_profile"].mode == "enrol"
    profile = app.session_state["voice_profile"]
    live = app.session_state["live_session"]  # Live reads the voice against the calibration
    assert live.session_reference is None and live.analyzer.profile.describe() == profile.describe()
    next(c for c in app.checkbox if c.key == "live_adapt").check()
    app.run()
    start = app.session_state["live_session"].session_reference.start  # ...and adapts from it on, when asked
    assert start.describe() == profile.describe()
    np.testing.assert_allclose(start.mean, profile.mean, atol=1e-5)
    uploader(app, "voice_upload").upload("speech.wav", speech_wav.read_bytes(), "audio/wav")
    app.run()
    assert not app.exception and app.metric[0].label == "Voice" and app.metric[0].value != "–"
    assert any("read against your calibration" in c.value for c in app.caption)


def test_a_result_on_screen_says_when_a_calibration_rereads_it(app, speech_wav):
    uploader(app, "voice_upload").upload("speech.wav", speech_wav.read_bytes(), "audio/wav")
    app.run()
    assert not any("calibration" in c.value for c in app.caption)
    before = app.metric[0].value
    uploader(app, "calibrate_upload").upload("calm.wav", speech_wav.read_bytes(), "audio/wav")
    app.run()
    assert any("read against your calibration" in c.value for c in app.caption)
    assert app.metric[0].label == "Voice" and app.metric[0].value != "–" and before != "–"


def test_voice_upload_shows_label_and_downloads(app, speech_wav):
    uploader(app, "voice_upload").upload("speech.wav", speech_wav.read_bytes(), "audio/wav")
    app.run()
    assert not app.exception and not app.error
    assert app.metric[0].label == "Voice" and app.metric[0].value != "–"
    assert {b.label for b in app.download_button} >= {"JSON", "CSV", "HTML report"}


def test_silent_recording_warns(app, tmp_path):
    silent = write_wav(tmp_path / "s.wav", np.zeros(32000, np.float32))
    uploader(app, "voice_upload").upload("silence.wav", silent.read_bytes(), "audio/wav")
    app.run()
    assert not app.exception and "silent" in app.warning[0].value


def test_corrupt_upload_gives_friendly_error(app):
    uploader(app, "voice_upload").upload("broken.wav", b"RIFF....WAVEnot really", "audio/wav")
    app.run()
    assert not app.exception
    assert app.error and app.error[0].value.startswith("broken.wav:")
    assert "/tmp" not in app.error[0].value


def test_face_page_annotates_and_reports_no_face(app, face_frame):
    uploader(app, "face_upload").upload("actor.png", png_bytes(face_frame), "image/png")
    app.run()
    assert not app.exception
    assert app.subheader[0].value == "actor.png"
    assert any(m.value.startswith("Face 1: **") for m in app.markdown)
    blank = np.full((200, 200, 3), 128, np.uint8)
    uploader(app, "face_upload").set_value([("blank.png", png_bytes(blank), "image/png")])
    app.run()
    assert any("no face" in w.value for w in app.warning)


def test_the_fast_face_model_is_one_switch_away(app, face_frame):
    """The sidebar's switch reads faces with the distilled network: the same face, other probabilities."""
    def face_line() -> str:
        uploader(app, "face_upload").upload("actor.png", png_bytes(face_frame), "image/png")
        app.run()
        assert not app.exception
        return next(m.value for m in app.markdown if m.value.startswith("Face 1: **"))

    default = face_line()
    next(t for t in app.toggle if t.key == "fast_face").set_value(True).run()
    fast = face_line()
    assert fast != default and fast.split("**")[1].split()[0] in ("happy", "neutral", "surprised", "sad", "angry",
                                                                 "fearful", "disgust")


def test_video_page_shows_fused_result(app):
    clip = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"
    uploader(app, "video_upload").upload(clip.name, clip.read_bytes(), "video/mp4")
    app.run()
    assert not app.exception and not app.error
    labels = {m.label: m.value for m in app.metric}
    assert labels["Fused"] != "–" and labels["Voice"] != "–" and labels["Face"] != "–"
    assert app.get("video")  # the player of the video with its faces labelled
    assert labels["Fused"].endswith("%")  # the label with its own probability
    table = next(frame.value for frame in app.dataframe if "from" in frame.value.columns)
    for _, row in table.iterrows():  # a window fused from a modality shows what that modality said
        assert ("speech" in row["from"]) == (row["voice"] != "–") and ("face" in row["from"]) == (row["face"] != "–")
    assert table["from"][0] == "speech + face" and table["voice"][0].startswith("happy")  # voice from 0.92 s on
    assert "People" not in [h.value for h in app.subheader]  # one person: the video's own results


def test_video_page_shows_each_person_of_a_two_person_video(app, tmp_path):
    import sys

    need(RAVDESS_VIDEO)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from speakers import make_two_person_video

    clip = tmp_path / "two.mp4"
    make_two_person_video(clip, 2, np.random.default_rng(3))
    uploader(app, "video_upload").upload(clip.name, clip.read_bytes(), "video/mp4")
    app.run()
    assert not app.exception and not app.error
    assert "People" in [h.value for h in app.subheader]
    people = [m.value for m in app.markdown if m.value.startswith("**Person ")]
    assert len(people) == 2 and "face on the left" in people[0] and "face on the right" in people[1]


def test_pair_page(app, speech_wav, face_frame):
    uploader(app, "pair_audio").upload("v.wav", speech_wav.read_bytes(), "audio/wav")
    uploader(app, "pair_image").upload("f.png", png_bytes(face_frame), "image/png")
    app.run()
    assert not app.exception and {m.label for m in app.metric} >= {"Fused", "Voice", "Face"}
    assert not any(m.value == "None" for m in app.markdown)  # nothing stray printed on the page


def test_uploads_live_only_in_a_temporary_folder(tmp_path):
    with saved_upload("../../evil name.wav", b"data") as path:
        assert path.name == "evil name.wav" and path.exists()
        folder = path.parent
    assert not folder.exists()
    with pytest.raises(InputError, match="larger than 1 MB"), saved_upload("big.wav", b"x" * (2 * 1024 * 1024), 1):
        pass
    assert friendly_message(InputError("/tmp/x/a.wav", "file is empty"), "a.wav") == "a.wav: file is empty"


@pytest.mark.parametrize("name", ["..", ".", "", "a/..", "é" * 200 + ".wav", "x" * 400, "bad\x00name.wav",
                                  "C:\\Users\\me\\clip.wav"])
def test_any_upload_name_can_be_saved(name):
    """Names a browser may send (``..``, over 255 bytes, control characters, Windows paths) never end in OSError."""
    with saved_upload(name, b"data") as path:
        assert path.exists() and path.read_bytes() == b"data" and len(path.name.encode()) <= 255
        assert path.parent.name.startswith("emofuse-")
        if name.endswith(".wav"):
            assert path.suffix == ".wav"


def test_analyses_are_cached_by_content_so_clicks_rerun_nothing(app, speech_wav):
    """A rerun (any click, a download, a page switch) or another page's upload does not analyse a video again."""
    from emofuse.app.analysis import CALLS

    clip = need(RAVDESS_VIDEO) / "01-01-04-01-01-01-05.mp4"
    before = dict(CALLS)
    uploader(app, "video_upload").upload(clip.name, clip.read_bytes(), "video/mp4")
    app.run()
    assert CALLS["video"] - before.get("video", 0) == 1
    app.run()  # what a click on a button does
    uploader(app, "voice_upload").upload("speech.wav", speech_wav.read_bytes(), "audio/wav")
    app.run()
    assert not app.exception
    assert CALLS["video"] - before.get("video", 0) == 1 and CALLS["audio"] - before.get("audio", 0) <= 1



def test_microphone_and_camera_inputs_are_offered_the_camera_behind_a_switch(app):
    """The browser asks for the camera when its widget is drawn: it appears only once the user asks for it."""
    assert [a.key for a in app.audio_input] == ["voice_record", "calibrate_record"]
    assert app.camera_input.len == 0
    next(t for t in app.toggle if t.key == "face_camera_on").set_value(True)
    app.run()
    assert [c.key for c in app.camera_input] == ["face_camera"]


@pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is None, reason="the transcribe extra is not installed")
def test_video_page_transcribes_when_asked(app):
    """The box on the Video page: each utterance with its time, its words and its emotions, in a table."""
    clip = need(RAVDESS_VIDEO) / "01-01-04-01-02-01-05.mp4"  # sad, statement 02: "Dogs are sitting by the door"
    uploader(app, "video_upload").upload(clip.name, clip.read_bytes(), "video/mp4")
    next(c for c in app.checkbox if c.key == "video_transcribe").check()
    app.run()
    assert not app.exception and not app.error
    table = next(frame.value for frame in app.dataframe if "said" in frame.value.columns)
    assert len(table) == 1 and "dogs are sitting by the door" in table["said"][0].lower()
    assert set(table.columns) == {"time", "said", "fused", "voice", "face"} and table["fused"][0] != "–"


@pytest.mark.parametrize("labels", [("neutral", "happy"), ("neutral", "calm", "happy", "sad", "angry", "fearful",
                                                            "disgust", "surprised")])
def test_probability_bars_name_every_emotion_on_a_0_to_100_percent_axis(labels):
    from emofuse.app.charts import BAR_HEIGHT, probability_bars

    spec = probability_bars({"happy": 0.7, "sad": 0.3}, labels).to_dict()
    y, x = spec["encoding"]["y"], spec["encoding"]["x"]
    assert y["sort"] == list(labels) and y["axis"]["labelOverlap"] is False  # Vega would hide every other name
    assert spec["height"] >= BAR_HEIGHT * len(labels) and BAR_HEIGHT >= 20
    assert x["scale"]["domain"] == [0, 1] and x["axis"]["format"] == "%" and x["axis"]["values"][-1] == 1
    assert [row["emotion"] for row in spec["datasets"][spec["data"]["name"]]] == list(labels)


def test_timelines_stack_to_100_percent_with_the_legend_in_label_order():
    from emofuse.app.charts import timeline
    from emofuse.labels import FUSION_LABELS

    columns = {"time": [0.0, 1.0], **{k: [1 / len(FUSION_LABELS)] * 2 for k in FUSION_LABELS}}
    spec = timeline(columns, FUSION_LABELS).to_dict()
    y, colour = spec["encoding"]["y"], spec["encoding"]["color"]
    assert y["scale"]["domain"] == [0, 1] and y["axis"]["format"] == "%"
    assert colour["scale"]["domain"] == list(FUSION_LABELS) and colour["legend"]["values"] == list(FUSION_LABELS)
