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
