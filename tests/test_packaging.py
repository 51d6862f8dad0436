"""What a user gets from `pip install emofuse`: shipped models with cards, and no torch at inference."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from emofuse.errors import EmofuseError
from emofuse.models import MODELS_DIR, card_from_file, load_card, model_path

ROOT = Path(__file__).resolve().parents[1]


def test_base_dependencies_have_no_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("torch") for dep in project["dependencies"])
    assert "torch==2.13.0" in project["optional-dependencies"]["train"]


def test_inference_never_imports_torch(tmp_path):
    code = ("import sys, numpy as np\nfrom emofuse import Analyzer\n"
            "a = Analyzer()\n"
            "r = a.analyze_audio(np.random.default_rng(0).normal(0, .1, 48000).astype('float32'))\n"
            "import emofuse.cli, emofuse.report, emofuse.evaluate, emofuse.live\n"
            "assert a.face and a.speech\n"
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def card_files(card: dict) -> list[Path]:
    parts = card.get("members") or [card[k] for k in ("encoder", "head", "adapted_head") if k in card]
    return [model_path(card, part["file"]) for part in parts]


def test_shipped_models_have_cards_with_measured_metrics():
    for task in ("speech", "face", "face_fast"):
        card = load_card(task)
        assert (MODELS_DIR / f"{task}.md").exists()
        files = card_files(card)
        assert files and all(path.exists() and path.stat().st_size < 25e6 for path in files)  # git keeps them
        assert set(card["files"]) == {path.name for path in files}
        assert "license" in card and "protocol" in card and card["temperature"] > 0
    speech = load_card("speech")
    assert len(speech["cross_validation"][speech["chosen"]]["folds"]) == 5
    assert "MIT" in speech["license"] and "RAVDESS" in speech["license"]  # every part's licence
    assert speech["cross_corpus"]["emodb"]["n"] == 454
    face, fast = load_card("face"), load_card("face_fast")
    assert 0.0 < fast["publictest_report"]["accuracy"] < face["publictest_report"]["accuracy"] <= 1.0
    assert "distilled" in fast["training_data"] and fast["members"][0]["file"] == "face_fast_cnn.onnx"
    json.dumps(speech)


@pytest.mark.parametrize("card, model, source", [("blazeface.md", "blazeface_short_range.onnx", "mediapipe==0.10.14"),
                                                  ("voice_encoder.md", "voice_encoder.onnx", "Resemblyzer==0.1.4")])
def test_converted_pretrained_models_ship_with_their_cards(card, model, source):
    text = (MODELS_DIR / card).read_text()
    assert "Apache-2.0" in text and source in text and f"`{model}`" in text
    assert (MODELS_DIR / model).stat().st_size < 25e6


def test_installed_models_stay_small():
    total = sum(p.stat().st_size for p in MODELS_DIR.iterdir() if p.suffix == ".onnx")
    assert total < 60e6  # well under the package's 150 MB budget (47 MB since one FaceCNN replaced four members)


def test_speech_and_face_models_agree_with_their_cards_on_real_data():
    """A sanity check that the shipped weights are the trained ones (not a speaker-independent measure)."""
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.datasets import list_ravdess, load_fer2013
    from emofuse.face.classifier import FaceClassifier
    from emofuse.labels import SPEECH_LABELS
    from tests.conftest import FER_CSV, RAVDESS, need

    faces = load_fer2013(need(FER_CSV), usage="PublicTest")
    probs = FaceClassifier().classify_batch(faces.images[:600])
    assert (probs.argmax(1) == faces.labels[:600]).mean() > 0.5  # card: ~60%+ on all of PublicTest
    clips = list_ravdess(need(RAVDESS), actors={1, 10})[::3]
    clf = SpeechClassifier()
    hits = [clf.classify_file(c.path).label == c.label for c in clips]
    assert np.mean(hits) > 0.5 and all(c.label in SPEECH_LABELS for c in clips)


def test_sessions_do_not_spin_while_idle():
    # spinning thread pools of consecutive sessions (MTCNN's three nets, ensemble members) starve each other:
    # MTCNN detect + classify took 80 ms per 640x480 frame instead of 24 ms (docs/results.md)
    from emofuse.runtime import onnx_session

    session = onnx_session(MODELS_DIR / "face_cnn.onnx")
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_a_candidate_card_is_read_from_its_folder_or_named_in_the_error(tmp_path):
    (tmp_path / "face.json").write_text(json.dumps({"members": [{"file": "net.onnx"}]}))
    card = card_from_file(tmp_path / "face.json")
    assert model_path(card, "net.onnx") == tmp_path.resolve() / "net.onnx"
    (tmp_path / "torn.json").write_text('{"members": [')
    for bad in ("torn.json", "missing.json"):
        with pytest.raises(EmofuseError, match=bad):
            card_from_file(tmp_path / bad)
