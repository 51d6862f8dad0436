import numpy as np

from emofuse import labels


def test_every_dataset_maps_into_the_vocabulary():
    for mapping in (labels.RAVDESS_EMOTIONS, labels.FER2013_EMOTIONS, labels.FERPLUS_COLUMNS, labels.CREMAD_EMOTIONS):
        assert set(mapping.values()) <= set(labels.EMOTIONS)
    assert len(labels.RAVDESS_EMOTIONS) == 8 and len(labels.FER2013_EMOTIONS) == 7
    assert labels.RAVDESS_EMOTIONS["02"] == "calm" and labels.FER2013_EMOTIONS[6] == "neutral"


def test_fusion_set_merges_calm_into_neutral():
    assert labels.to_fusion_label("calm") == "neutral"
    assert len(labels.FUSION_LABELS) == 7 and "calm" not in labels.FUSION_LABELS
    probs = np.eye(8, dtype=np.float32)[labels.SPEECH_LABELS.index("calm")]
    projected = labels.to_fusion_probabilities(probs, labels.SPEECH_LABELS)
    assert projected[labels.FUSION_LABELS.index("neutral")] == 1.0


def test_projection_preserves_mass_and_reorders_face_labels():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(7), size=5)
    projected = labels.to_fusion_probabilities(probs, labels.FACE_LABELS)
    np.testing.assert_allclose(projected.sum(axis=1), 1.0, rtol=1e-5)
    happy = labels.FACE_LABELS.index("happy")
    np.testing.assert_allclose(projected[:, labels.FUSION_LABELS.index("happy")], probs[:, happy], rtol=1e-5)
