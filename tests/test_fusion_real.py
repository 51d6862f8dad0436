"""Video evaluation and learned fusion on the real paired audio-visual clips (skipped without the data)."""

import json

from emofuse.evaluate import list_labelled_videos, run, train_fusion
from emofuse.fusion import LearnedFusion
from tests.conftest import CREMAD, RAVDESS_VIDEO, need


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


def test_learned_fusion_trains_on_paired_clips(tmp_path):
    summary = train_fusion([str(need(RAVDESS_VIDEO)), str(need(CREMAD))], tmp_path)
    assert summary["clips"] == 24 and 0.0 <= summary["learned_accuracy"] <= 1.0
    model = LearnedFusion.load(tmp_path / "fusion.json")
    assert model.weights.shape == (18, 7)


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
    noisy = analyzer.analyze_video(need(CREMAD) / "1001_IEO_HAP_HI.flv")
    assert noisy["speech"]["snr_db"] < 40 and noisy["speech"]["domain_match"] < 0.2
    assert noisy["fused"]["weights"]["face"] > 0.8 and noisy["fused"]["sources"] == ["speech", "face"]
    assert noisy["fused"]["label"] == noisy["face"]["label"] == "happy"
    assert "noisier than the speech model's training audio" in fusion_summary(noisy)
    face_share = noisy["fused"]["weights"]["face"]
    assert summary_line(noisy).endswith(f"face {noisy['face']['label']} "
                                        f"{noisy['face']['probabilities'][noisy['face']['label']]:.0%}; "
                                        f"weighed voice {1 - face_share:.0%}, face {face_share:.0%})")
    studio = analyzer.analyze_video(need(RAVDESS_VIDEO) / "01-01-06-02-02-02-05.mp4")
    assert studio["speech"]["domain_match"] > 0.9 and studio["fused"]["weights"]["speech"] > 0.5
    assert "noisier" not in fusion_summary(studio)
    shipped = Analyzer().analyze_video(need(CREMAD) / "1001_IEO_HAP_HI.flv")  # trained on noisy renditions too
    assert shipped["speech"]["domain_match"] > 0.9 and "noisier" not in (fusion_summary(shipped) or "")
