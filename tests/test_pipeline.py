import numpy as np
import pytest

from emofuse import Analyzer, AnalyzerConfig
from emofuse.labels import FACE_LABELS, FUSION_LABELS, SPEECH_LABELS
from tests.conftest import RAVDESS_VIDEO, checked, need, tone, write_video, write_wav


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer()


def check_schema(typed):
    result = checked(typed)
    assert set(result) >= {"input", "kind", "duration", "speech", "face", "fused"}
    for name, labels in (("speech", SPEECH_LABELS), ("face", FACE_LABELS), ("fused", FUSION_LABELS)):
        block = result[name]
        if block is None:
            continue
        assert block["labels"] == list(labels)
        if block["label"] is not None:
            assert sum(block["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        for seg in block["segments"]:
            assert seg["start"] < seg["end"] and seg["label"] in labels
    return result


def test_real_video_gives_three_timelines(analyzer):
    result = check_schema(analyzer.analyze(need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"))
    assert result["kind"] == "video" and 3.0 < result["duration"] < 4.0
    assert len(result["face"]["faces"]) == 1 and result["face"]["face_ratio"] > 0.8
    assert result["speech"]["segments"]
    fused = result["fused"]
    assert len(fused["segments"]) >= 3 and fused["sources"] == ["speech", "face"]
    assert any(seg["sources"] == ["speech", "face"] for seg in fused["segments"])
    assert fused["missing"] == []
    assert fused["reliability"] == {"speech": 1.0, "face": 1.0}  # over a second of speech and of face


def test_video_without_face_falls_back_to_speech(analyzer, tmp_path):
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 20
    audio = np.concatenate([np.zeros(8000, np.float32), tone(1.2), np.zeros(8000, np.float32)])
    result = check_schema(analyzer.analyze(write_video(tmp_path / "noface.mp4", frames, fps=10, audio=audio)))
    assert result["face"]["faces"] == [] and result["face"]["label"] is None
    assert result["fused"]["missing"] == ["face"]
    assert result["fused"]["segments"] and all(s["sources"] == ["speech"] for s in result["fused"]["segments"])


def test_silent_video_without_audio_track(analyzer, tmp_path):
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 10
    result = check_schema(analyzer.analyze(write_video(tmp_path / "mute.mp4", frames, fps=10)))
    assert result["speech"] is None and result["fused"]["label"] is None
    assert result["fused"]["missing"] == ["speech", "face"]


def test_silence_is_not_an_error(analyzer, tmp_path):
    result = check_schema(analyzer.analyze(write_wav(tmp_path / "silence.wav", np.zeros(32000, np.float32))))
    assert result["kind"] == "audio" and result["speech"]["label"] is None and result["speech"]["segments"] == []
    assert result["fused"]["label"] is None and result["fused"]["missing"] == ["speech", "face"]


def test_audio_file_gives_speech_timeline(analyzer, speech_wav):
    result = check_schema(analyzer.analyze(speech_wav))
    assert result["face"] is None and result["speech"]["label"] in SPEECH_LABELS
    assert result["fused"]["sources"] == ["speech"]


def test_image_and_pair(analyzer, tmp_path, face_frame, speech_wav):
    import cv2

    photo = tmp_path / "face.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(face_frame, cv2.COLOR_RGB2BGR))
    image_result = check_schema(analyzer.analyze(photo))
    assert image_result["kind"] == "image" and len(image_result["face"]["faces"]) == 1
    assert image_result["fused"]["sources"] == ["face"]
    pair = check_schema(analyzer.analyze_pair(speech_wav, photo))
    assert pair["fused"]["sources"] == ["speech", "face"] and pair["fused"]["label"] in FUSION_LABELS


def test_face_crop_mode_skips_detection(analyzer, tmp_path):
    import cv2

    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), np.full((48, 48), 120, np.uint8))
    result = analyzer.analyze_image(crop, face_crop=True)
    assert len(result.face.faces) == 1 and result.face.label in FACE_LABELS
    assert analyzer.analyze_image(crop).face.faces == ()


def test_a_video_header_claiming_hours_does_not_make_hours_of_windows(tmp_path, monkeypatch):
    """Duration and windows come from the decoded frames and audio, not from what the container declares."""
    import emofuse.pipeline as pipeline
    from emofuse.media import video_info

    clip = write_video(tmp_path / "short.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 20, fps=10, audio=tone(2.0))
    truthful = check_schema(pipeline.Analyzer().analyze_video(clip))
    monkeypatch.setattr(pipeline, "video_info", lambda path: {**video_info(path), "duration": 36_000.0})
    lied_to = check_schema(pipeline.Analyzer().analyze_video(clip))
    assert lied_to["duration"] == pytest.approx(truthful["duration"], abs=0.1) and 1.8 < lied_to["duration"] < 2.2
    assert len(lied_to["fused"]["segments"]) <= 3
    assert pipeline.decoded_duration(2.0, 1.9, 2.0) == 2.0 and pipeline.decoded_duration(0.0, 1.5, 0.0) == 1.5


def test_reading_the_models_changes_no_setting():
    """Loading a model does not write its temperature into the user's config; fusion_config() supplies it."""
    from emofuse.fusion import FusionConfig
    from emofuse.pipeline import AnalyzerConfig

    analyzer = Analyzer(AnalyzerConfig(fusion=FusionConfig(face_temperature=2.5)))
    before = analyzer.config.fusion
    assert analyzer.speech and analyzer.face
    assert analyzer.config.fusion is before and before.speech_temperature is None and before.face_temperature == 2.5
    used = analyzer.fusion_config()
    assert used.speech_temperature == analyzer.speech.temperature and used.face_temperature == 2.5


def test_image_arrays_enter_through_one_boundary(analyzer, face_frame):
    """Grey, RGBA, float and uint16 arrays give the uint8 RGB result; a wrong shape or type is an InputError."""
    from emofuse.errors import InputError

    reference = analyzer.analyze_image(face_frame).face
    rgba = np.dstack([face_frame, np.full(face_frame.shape[:2], 255, np.uint8)])
    as_float = face_frame.astype(np.float32) / 255.0
    as_float[0, 0, 0] = np.nan
    for variant in (rgba, as_float, face_frame.astype(np.uint16) * 257):
        result = analyzer.analyze_image(variant).face
        assert len(result.faces) == len(reference.faces) and result.label == reference.label
    grey = analyzer.analyze_image(face_frame.mean(axis=2).astype(np.uint8)).face
    assert len(grey.faces) == 1
    for bad in (np.zeros((10, 10, 5), np.uint8), np.zeros((0, 10, 3), np.uint8), np.zeros(10), np.array([["a"]])):
        with pytest.raises(InputError, match="image array"):
            analyzer.analyze_image(bad)


def test_fast_face_reads_the_same_face_with_the_distilled_network(analyzer, face_frame):
    fast = Analyzer(AnalyzerConfig(fast_face=True))
    assert fast.face.card["name"] == "emofuse-face-fast-cnn" and analyzer.face.card["name"] != fast.face.card["name"]
    default, quick = analyzer.analyze_image(face_frame).face, fast.analyze_image(face_frame).face
    assert default.faces[0].box == quick.faces[0].box  # the same detector: only the classifier differs
    assert quick.probs.shape == default.probs.shape and not np.allclose(quick.probs, default.probs)
