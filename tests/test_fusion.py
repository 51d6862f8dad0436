import numpy as np
import pytest

from emofuse.fusion import POOLS, FusionConfig, LearnedFusion, ModalityEvidence, calibrate, confidence, fuse
from emofuse.labels import FACE_LABELS, FUSION_LABELS, SPEECH_LABELS


def one_hot_ish(labels, name, peak=0.9):
    probs = np.full(len(labels), (1 - peak) / (len(labels) - 1))
    probs[labels.index(name)] = peak
    return probs[None]


def test_calibration_and_confidence():
    p = np.array([[0.7, 0.2, 0.1]])
    assert calibrate(p, 1.0) == pytest.approx(p, abs=1e-6)
    assert calibrate(p, 2.0)[0, 0] < 0.7
    assert confidence(np.array([1 / 3] * 3)) == pytest.approx(0.0, abs=1e-6)
    assert confidence(np.array([1.0, 0, 0])) > 0.99


def test_agreeing_modalities_strengthen_each_other():
    speech = ModalityEvidence.from_model(one_hot_ish(SPEECH_LABELS, "happy", 0.6), SPEECH_LABELS, np.ones(1), 1.0)
    face = ModalityEvidence.from_model(one_hot_ish(FACE_LABELS, "happy", 0.6), FACE_LABELS, np.ones(1), 1.0)
    fused, sources = fuse(speech, face, FusionConfig())
    assert FUSION_LABELS[fused[0].argmax()] == "happy" and sources == [["speech", "face"]]
    assert fused.sum() == pytest.approx(1.0, abs=1e-5)


def test_missing_modality_falls_back_to_the_other():
    speech = ModalityEvidence.from_model(one_hot_ish(SPEECH_LABELS, "calm"), SPEECH_LABELS, np.ones(1), 1.0)
    fused, sources = fuse(speech, ModalityEvidence.empty(1), FusionConfig())
    assert FUSION_LABELS[fused[0].argmax()] == "neutral" and sources == [["speech"]]
    fused, sources = fuse(ModalityEvidence.empty(1), ModalityEvidence.empty(1), FusionConfig())
    assert sources == [[]] and np.allclose(fused, 1 / 7)


def test_more_reliable_modality_wins_a_disagreement():
    speech = ModalityEvidence.from_model(one_hot_ish(SPEECH_LABELS, "angry", 0.7), SPEECH_LABELS, np.array([1.0]), 1.0)
    face = ModalityEvidence.from_model(one_hot_ish(FACE_LABELS, "sad", 0.7), FACE_LABELS, np.array([0.2]), 1.0)
    fused, _ = fuse(speech, face, FusionConfig())
    assert FUSION_LABELS[fused[0].argmax()] == "angry"
    face_strong = ModalityEvidence.from_model(one_hot_ish(FACE_LABELS, "sad", 0.7), FACE_LABELS, np.array([1.0]), 1.0)
    speech_weak = ModalityEvidence.from_model(one_hot_ish(SPEECH_LABELS, "angry", 0.7), SPEECH_LABELS,
                                              np.array([0.2]), 1.0)
    fused, _ = fuse(speech_weak, face_strong, FusionConfig())
    assert FUSION_LABELS[fused[0].argmax()] == "sad"


def test_sum_rule_is_not_vetoed_by_one_confidently_wrong_modality():
    speech = np.full((1, 7), 0.02)
    speech[0, FUSION_LABELS.index("happy")], speech[0, FUSION_LABELS.index("sad")] = 0.7, 0.2
    face = np.full((1, 7), 0.0125)
    face[0, FUSION_LABELS.index("happy")] = 0.0
    face[0, FUSION_LABELS.index("sad")], face[0, FUSION_LABELS.index("neutral")] = 0.45, 0.5
    speech_ev = ModalityEvidence(speech, np.ones(1), np.ones(1))
    face_ev = ModalityEvidence(face, np.ones(1), np.ones(1))
    summed, _ = fuse(speech_ev, face_ev, FusionConfig(rule="linear"))
    product, _ = fuse(speech_ev, face_ev, FusionConfig(rule="log-linear"))
    assert FUSION_LABELS[summed[0].argmax()] == "happy"
    assert FUSION_LABELS[product[0].argmax()] == "sad"
    assert summed.sum() == pytest.approx(1.0) and product.sum() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="unknown fusion rule"):
        FusionConfig(rule="max")


def test_learned_fusion_fits_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 60)
    speech = ModalityEvidence(np.eye(7)[y] * 0.6 + 0.4 / 7, np.ones(60), np.ones(60))
    face = ModalityEvidence(rng.dirichlet(np.ones(7), 60), np.ones(60), np.ones(60))
    x = LearnedFusion.features(speech, face)
    model = LearnedFusion().fit(x, y)
    assert (model.predict_proba(x).argmax(1) == y).mean() > 0.9
    model.save(tmp_path / "f.json")
    np.testing.assert_allclose(LearnedFusion.load(tmp_path / "f.json").predict_proba(x), model.predict_proba(x))


def test_fit_temperature_softens_overconfident_predictions():
    from emofuse.fusion import fit_temperature

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 400)
    guess = np.where(rng.random(400) < 0.6, y, rng.integers(0, 7, 400))  # 60% right...
    probs = np.full((400, 7), 0.01 / 6)
    probs[np.arange(400), guess] = 0.99  # ...but 99% sure
    assert fit_temperature(probs, y) > 1.5


def test_speech_from_unlike_recordings_yields_to_a_less_confident_face():
    speech_probs, face_probs = one_hot_ish(SPEECH_LABELS, "sad", 0.8), one_hot_ish(FACE_LABELS, "happy", 0.5)
    face = ModalityEvidence.from_model(face_probs, FACE_LABELS, np.ones(1), 1.0)
    for rule in POOLS:
        config = FusionConfig(rule=rule)
        matched = ModalityEvidence.from_model(speech_probs, SPEECH_LABELS, np.ones(1), 1.0, domain_match=1.0)
        unlike = ModalityEvidence.from_model(speech_probs, SPEECH_LABELS, np.ones(1), 1.0, domain_match=0.05)
        assert FUSION_LABELS[fuse(matched, face, config)[0][0].argmax()] == "sad"
        fused, sources = fuse(unlike, face, config)
        assert FUSION_LABELS[fused[0].argmax()] == "happy" and sources[0] == ["speech", "face"]
