"""The training recipes run end to end on tiny generated data, export ONNX the inference code loads, and resume."""

import argparse
import json

import numpy as np
import pytest

from emofuse.labels import FACE_LABELS, SPEECH_LABELS
from tests.conftest import tone, write_wav

torch = pytest.importorskip("torch")


def speech_args(data, out, **over):
    from emofuse.train.args import add_speech_arguments

    parser = argparse.ArgumentParser()
    add_speech_arguments(parser)
    args = parser.parse_args(["--data", str(data), "--out", str(out), "--copies", "1", "--epochs", "3",
                              "--seeds", "1", "--threads", "1"])
    vars(args).update(over)
    return args


def pitched_corpora(root):
    """RAVDESS (20 actors x 8 emotions) and EmoDB (10 speakers x 6 emotions) layouts of tones, a pitch per emotion."""
    from emofuse.labels import EMODB_EMOTIONS

    def clip(code):
        silence = np.zeros(1600, np.float32)
        return np.concatenate([silence, tone(0.6, freq=110 * code), silence])

    for actor in range(1, 21):
        folder = root / "ravdess" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for code in range(1, 9):
            write_wav(folder / f"03-01-{code:02d}-01-01-01-{actor:02d}.wav", clip(code))
    (root / "emodb").mkdir()
    for speaker in (3, 8, 9, 10, 11, 12, 13, 14, 15, 16):
        for letter, label in EMODB_EMOTIONS.items():
            write_wav(root / "emodb" / f"{speaker:02d}a01{letter}a.wav", clip(SPEECH_LABELS.index(label) + 1))


def test_speech_recipe_cross_validates_exports_and_resumes(tmp_path):
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.models import load_card
    from emofuse.train import speech

    pytest.importorskip("onnx")
    try:
        from emofuse.train.whisper import whisper_model_dir

        whisper_model_dir("base")  # the weights' packages (train extra) are installed
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    pitched_corpora(tmp_path / "data")
    out = tmp_path / "run"
    summary = speech.run(speech_args(tmp_path / "data", out, features=str(tmp_path / "features")))
    assert set(summary["cv"]) == {c.name for c in speech.CANDIDATES}
    chosen = summary["cv"][summary["choice"]]
    assert len(chosen["folds"]) == 5 and set(chosen["folds"][0]) == {"ravdess", "emodb"}
    assert summary["cross_corpus"]["emodb"]["n"] == 60 and "RAVDESS" in summary["cross_corpus"]["trained_on"]
    for name in (summary["encoder_file"], summary["head_file"], "train.log", "folds.json"):
        assert (out / name).exists(), name
    # the exported encoder + head are what SpeechClassifier runs
    card = {**load_card("speech"), "dir": str(out), "encoder": {"file": summary["encoder_file"]},
            "head": {"file": summary["head_file"]}, "normalization": summary["normalization"]}
    probs = SpeechClassifier(card).classify_batch([tone(2.0), tone(0.7, freq=440)])
    assert probs.shape == (2, len(SPEECH_LABELS)) and np.allclose(probs.sum(1), 1, atol=1e-4)
    folds = json.loads((out / "folds.json").read_text())["folds"]  # per-fold heads for held-out evaluation
    assert [f["test_actors"] for f in folds] == [list(range(a, a + 4)) for a in (1, 5, 9, 13, 17)]
    # a rerun reuses the feature cache: no clip goes through the encoder again
    cached = (out / "train.log").read_text().count("cached in")
    speech.run(speech_args(tmp_path / "data", out, features=str(tmp_path / "features")))
    assert (out / "train.log").read_text().count("cached in") == cached > 0


def test_face_recipe_trains_and_exports(tmp_path):
    from emofuse.face.classifier import FaceClassifier
    from emofuse.train import face
    from emofuse.train.args import add_face_arguments

    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for i in range(70):
        usage = "PublicTest" if i % 5 == 0 else "Training"
        lines.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    csv = tmp_path / "fer.csv"
    csv.write_text("\n".join(lines) + "\n")
    parser = argparse.ArgumentParser()
    add_face_arguments(parser)
    out = tmp_path / "run"
    args = parser.parse_args(["--data", str(csv), "--out", str(out), "--epochs", "1", "--batch-size", "32",
                              "--threads", "1"])
    summary = face.run(args)
    assert summary["reports"]["plain"]["n"] == 14
    card = {"members": [{"file": "face_cnn.onnx"}], "dir": str(out)}
    probs = FaceClassifier(card).classify_batch(np.zeros((3, 48, 48), np.uint8))
    assert probs.shape == (3, len(FACE_LABELS))
    pair = {"members": [{"file": "face_cnn.onnx"}] * 2, "dir": str(out)}  # an ensemble averages its members
    np.testing.assert_allclose(FaceClassifier(pair).classify_batch(np.zeros((3, 48, 48), np.uint8)), probs, atol=1e-6)
    args.epochs = 1
    again = face.run(args)  # resumes from the checkpoint: no epoch is trained twice
    assert len(again["history"]) == 1
