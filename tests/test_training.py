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
    args = parser.parse_args(["--data", str(data), "--out", str(out), "--archs", "crnn", "--epochs", "2",
                              "--patience", "5", "--threads", "1", "--batch-size", "16"])
    vars(args).update(over)
    return args


def test_speech_recipe_cross_validates_exports_and_resumes(tmp_path):
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.train import speech

    data = tmp_path / "ravdess"
    for actor in range(1, 21):
        folder = data / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for code in range(1, 9):  # each emotion a different pitch, so there is something to learn
            audio = np.concatenate([np.zeros(1600, np.float32), tone(0.6, freq=110 * code), np.zeros(1600, np.float32)])
            write_wav(folder / f"03-01-{code:02d}-01-01-01-{actor:02d}.wav", audio)
    out = tmp_path / "run"
    summary = speech.run(speech_args(data, out))
    assert len(summary["cv"]["crnn"]["folds"]) == 5
    assert all("test actors" in fold["protocol"] for fold in summary["cv"]["crnn"]["folds"])
    assert (out / "speech_crnn.onnx").exists() and (out / "train.log").exists()
    # the training recordings' SNR for the card: tones between digital silences read as the cleanest possible
    assert summary["recording_snr_db"] == {"p01": 100.0, "p05": 100.0, "p50": 100.0, "recordings": 160}
    card = {"members": summary["members"], "temperature": summary["temperature"], "dir": str(out)}
    card["members"][0]["features"] = "mfcc"
    probs = SpeechClassifier(card).classify_batch([tone(2.0), tone(3.5)])
    assert probs.shape == (2, len(SPEECH_LABELS)) and np.allclose(probs.sum(1), 1, atol=1e-4)
    folds = json.loads((out / "folds.json").read_text())["folds"]  # per-fold models for held-out evaluation
    assert [f["test_actors"] for f in folds] == [list(range(a, a + 4)) for a in (1, 5, 9, 13, 17)]
    fold_card = {**folds[2], "dir": str(out)}
    assert SpeechClassifier(fold_card).classify_batch([tone(2.0)]).shape == (1, len(SPEECH_LABELS))
    # resuming: every fold and the final fit are done, so nothing is trained again
    before = (out / "train.log").read_text().count(" loss ")
    speech.run(speech_args(data, out))
    assert (out / "train.log").read_text().count(" loss ") == before
    assert json.loads((out / "summary.json").read_text())["choice"] == "crnn"


def test_speech_members_name_seed_replicas():
    from emofuse.train.speech import member_kind, parse_member

    assert parse_member("cnn") == ("cnn", 0) and parse_member("cnn@2") == ("cnn", 2)
    assert member_kind("crnn@1") == "mfcc"
    with pytest.raises(ValueError, match="unknown speech architecture"):
        parse_member("resnet")


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
