"""Video evaluation and learned fusion on the real paired audio-visual clips (skipped without the data)."""

import json

import numpy as np
import pytest

from emofuse.errors import InputError
from emofuse.evaluate import list_labelled_videos, run
from emofuse.fusion import LearnedFusion
from tests.conftest import CREMAD, RAVDESS, RAVDESS_VIDEO, need


def test_labelled_videos_are_listed():
    clips = list_labelled_videos(need(RAVDESS_VIDEO)) + list_labelled_videos(need(CREMAD))
    assert len(clips) == 24
    assert {label for _, label in clips} >= {"neutral", "happy", "sad", "angry", "fearful", "disgust"}


def test_evaluate_video_reports_every_modality(tmp_path):
    report = run("video", need(CREMAD), out=tmp_path, limit=4)
    assert set(report["reports"]) == {"speech", "face", "fused"}
    assert all(r["n"] == 4 for r in report["reports"].values())
    assert (tmp_path / "video_fused_confusion.png").exists()
    saved = json.loads((tmp_path / "video_metrics.json").read_text())
    assert saved["reports"]["fused"]["protocol"].startswith("fused;")


def test_learned_fusion_trains_on_paired_clips_and_is_compared_with_the_rule(tmp_path, capsys):
    """24 clips are too few for the learned fusion: the CLI prints both and warns that the rule is better."""
    from emofuse.cli import main

    assert main(["train", "fusion", "--data", str(need(RAVDESS_VIDEO)), str(need(CREMAD)), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["clips"] == 24 and summary["rule_accuracy"] > 0.5 and summary["learned_accuracy"] > 1 / 7
    out, err = capsys.readouterr()
    assert "learned fusion" in out and "rule" in out
    assert ("learned fusion is worse than the rule" in err) == (summary["learned_accuracy"] < summary["rule_accuracy"])
    model = LearnedFusion.load(tmp_path / "fusion.json")
    assert model.weights.shape == (18, 7)
    (tmp_path / "broken.json").write_text('{"weights": [[1, 2]], "bias": [0]}')
    with pytest.raises(InputError, match="broken.json: fusion model has weights"):
        LearnedFusion.load(tmp_path / "broken.json")
    with pytest.raises(InputError, match="missing.json: cannot read"):
        LearnedFusion.load(tmp_path / "missing.json")


def test_evaluate_video_says_when_speech_saw_the_speakers(tmp_path):
    report = run("video", need(RAVDESS_VIDEO), out=tmp_path, limit=2)
    assert report["seen_speakers"] and "NOT speaker-independent" in report["protocol"]


STUDIO_ONLY_SNR = {"p01": 45.66, "p05": 50.81, "p50": 74.43, "recordings": 1200}
"""The SNR reference of a model trained on clean RAVDESS alone (the speech model shipped before 2026-12)."""


def test_fusion_trusts_the_face_over_speech_from_a_noisier_corpus():
    """A speech model that only heard studio audio: CREMA-D is far noisier, so the face decides."""
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.cli import summary_line
    from emofuse.models import load_card
    from emofuse.pipeline import Analyzer
    from emofuse.results import fusion_summary

    studio_model = SpeechClassifier({**load_card("speech"), "recording_snr_db": STUDIO_ONLY_SNR})
    analyzer = Analyzer(speech_model=studio_model)
    noisy = analyzer.analyze_video(need(CREMAD) / "1001_IEO_HAP_HI.flv").to_dict()
    assert noisy["speech"]["snr_db"] < 40 and noisy["speech"]["domain_match"] < 0.2
    assert noisy["fused"]["weights"]["face"] > 0.8 and noisy["fused"]["sources"] == ["speech", "face"]
    assert noisy["fused"]["label"] == noisy["face"]["label"] == "happy"
    assert "noisier than the speech model's training audio" in fusion_summary(noisy)
    face_share = noisy["fused"]["weights"]["face"]
    assert summary_line(noisy).endswith(f"face {noisy['face']['label']} "
                                        f"{noisy['face']['probabilities'][noisy['face']['label']]:.0%}; "
                                        f"weighed voice {1 - face_share:.0%}, face {face_share:.0%})")
    studio = analyzer.analyze_video(need(RAVDESS_VIDEO) / "01-01-06-02-02-02-05.mp4").to_dict()
    assert studio["speech"]["domain_match"] > 0.9 and studio["fused"]["weights"]["speech"] > 0.5
    assert "noisier" not in fusion_summary(studio)
    shipped = Analyzer().analyze_video(need(CREMAD) / "1001_IEO_HAP_HI.flv").to_dict()  # trained on noisy audio too
    assert shipped["speech"]["domain_match"] > 0.9 and "noisier" not in (fusion_summary(shipped) or "")


def test_with_one_modality_the_fused_reading_is_that_modalitys_own():
    """A voice alone (a RAVDESS FLAC, angry): fused = the voice's probabilities in the fused labels, on the clip
    and in every window, so the fused label never claims more than its only source (it said 98% against 90%)."""
    from emofuse.labels import FUSION_LABELS, to_fusion_probabilities
    from emofuse.pipeline import Analyzer

    result = Analyzer().analyze_audio(need(RAVDESS) / "Actor_05" / "03-01-05-02-01-01-05.flac").to_dict()
    speech, fused = result["speech"], result["fused"]
    assert fused["sources"] == ["speech"] and fused["label"] == speech["label"] == "angry"
    own = to_fusion_probabilities(np.array([[speech["probabilities"][k] for k in speech["labels"]]]),
                                  tuple(speech["labels"]))[0]
    np.testing.assert_allclose([fused["probabilities"][k] for k in FUSION_LABELS], own, atol=2e-4)
    for window in fused["segments"]:
        assert window["sources"] == ["speech"]
        voice = max((s for s in speech["segments"] if s["start"] < window["end"] and s["end"] > window["start"]),
                    key=lambda s: s["probabilities"]["angry"])
        assert window["probabilities"]["angry"] <= voice["probabilities"]["angry"] + 1e-3
