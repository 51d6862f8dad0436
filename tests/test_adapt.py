"""Speech adaptation: voice profiles (enrol, batch), running session references, and their CLI, on real speech."""

import json
import shutil

import numpy as np
import pytest

from emofuse.audio.adapt import (
    SessionReference,
    VoiceProfile,
    balanced_mean,
    batch_mix,
    batch_profile,
    em_mix,
    enrol_profile,
    estimated_mix,
    even_mix,
)
from emofuse.cli import main
from emofuse.errors import InputError
from emofuse.labels import SPEECH_LABELS
from emofuse.media import load_audio
from tests.conftest import RAVDESS, need


@pytest.fixture(scope="module")
def speech():
    from emofuse.audio.classifier import SpeechClassifier

    clf = SpeechClassifier()
    if not clf.adaptable:
        pytest.skip("the shipped speech model has no speaker-referenced head")
    return clf


def offsets_with_neutral(value: float, dim: int = 4) -> np.ndarray:
    offsets = np.zeros((len(SPEECH_LABELS), dim), np.float32)
    offsets[SPEECH_LABELS.index("neutral")] = value
    return offsets


def test_profile_round_trip_and_bad_files(tmp_path):
    profile = enrol_profile(np.ones((3, 4), np.float32), 9.0, offsets_with_neutral(-0.5), np.zeros(4, np.float32),
                            prior_windows=1.0)
    np.testing.assert_allclose(profile.mean, 1.5 * 3 / 4)  # 3 windows of 1.5, shrunk by one window of 0
    assert profile.describe() == {"mode": "enrol", "windows": 3, "seconds": 9.0}
    loaded = VoiceProfile.load(profile.save(tmp_path / "me.json"))
    np.testing.assert_allclose(loaded.mean, profile.mean)
    assert loaded.mode == "enrol" and loaded.windows == 3
    (tmp_path / "bad.json").write_text('{"mean": [1, 2]}')
    with pytest.raises(InputError, match="bad.json: not a readable emofuse profile"):
        VoiceProfile.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="no such profile"):
        VoiceProfile.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="no voiced audio"):
        batch_profile(np.zeros((0, 4), np.float32), even_mix(), 0.0, offsets_with_neutral(0.0))


def test_balanced_mean_undoes_a_lopsided_mix():
    rng = np.random.default_rng(0)
    offsets = rng.normal(size=(len(SPEECH_LABELS), 6)).astype(np.float32)
    offsets -= offsets.mean(0)  # as measured: each emotion's departure from the speaker's mean
    speaker = rng.normal(size=6).astype(np.float32)
    labels = np.array([0] * 7 + [3] * 2 + [4])  # mostly neutral, some sad, one angry
    heard = speaker + offsets[labels]
    shares = np.bincount(labels, minlength=len(SPEECH_LABELS)) / len(labels)
    np.testing.assert_allclose(balanced_mean(heard, shares, offsets), speaker, atol=1e-5)
    assert np.abs(heard.mean(0) - speaker).max() > 0.1  # the plain mean is pulled towards the mix
    readings = np.eye(len(SPEECH_LABELS))[labels]  # a plain head that is always right and sure
    np.testing.assert_allclose(estimated_mix(readings.mean(0), trust=1.0), shares)
    np.testing.assert_allclose(estimated_mix(readings.mean(0), trust=0.5), (shares + 1 / len(SPEECH_LABELS)) / 2)
    assert estimated_mix(readings.mean(0)).sum() == pytest.approx(1.0)


def test_em_finds_the_mix_that_the_mean_reading_blurs():
    # two emotions whose voices overlap: a calibrated reading (even priors) of a 90/10 batch averages to ~70/30
    rng = np.random.default_rng(0)
    angry, sad = SPEECH_LABELS.index("angry"), SPEECH_LABELS.index("sad")
    is_angry = rng.random(4000) < 0.9
    x = rng.normal(np.where(is_angry, 1.0, -1.0))
    readings = np.zeros((len(x), len(SPEECH_LABELS)))
    readings[:, angry] = 1 / (1 + np.exp(-2 * x))  # the exact posterior under even priors
    readings[:, sad] = 1 - readings[:, angry]
    assert readings[:, angry].mean() < 0.8
    mix = em_mix(readings)
    assert mix[angry] == pytest.approx(0.9, abs=0.02) and mix.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(batch_mix(readings, readings), mix)
    # a prior of as many windows as the batch spread over all emotions: pulled about halfway toward an even mix
    shrunk = em_mix(readings, prior_windows=len(readings))
    assert 0.4 < shrunk[angry] < mix[angry] - 0.3 and shrunk.min() > 0.05 and shrunk.sum() == pytest.approx(1.0)


def test_session_reference_moves_from_the_training_mean_to_the_voice():
    offsets = offsets_with_neutral(-1.0, dim=2)
    one_hot = np.eye(len(SPEECH_LABELS), dtype=np.float32)
    neutral, angry = one_hot[SPEECH_LABELS.index("neutral")], one_hot[SPEECH_LABELS.index("angry")]
    session = SessionReference(offsets, np.zeros(2, np.float32), prior_windows=2.0, mix_trust=1.0)
    np.testing.assert_allclose(session.profile().mean, 0.0)  # nothing heard: the training mean
    session.update(np.full((2, 2), 3.0, np.float32), np.stack([neutral, neutral]), 6.0)
    np.testing.assert_allclose(session.profile().mean, 2.0)  # two calm windows (4 all told) against a prior of two
    session.update(np.full((96, 2), 4.0, np.float32), np.tile(angry, (96, 1)), 288.0)
    assert session.profile().mean[0] == pytest.approx(4.0 * 98 / 100)
    assert session.describe() == {"mode": "session", "windows": 98, "seconds": 294.0}
    start = VoiceProfile(np.ones(2, np.float32), "enrol", 3, 9.0)
    from_profile = SessionReference(offsets, np.zeros(2, np.float32), start=start)
    np.testing.assert_allclose(from_profile.profile().mean, 1.0)  # nothing heard yet: the person's profile
    assert from_profile.describe()["prior"] == {"mode": "enrol", "windows": 3, "seconds": 9.0}


def test_enrolment_and_session_on_real_speech(speech):
    actor = need(RAVDESS) / "Actor_07"
    calm = np.concatenate([load_audio(p) for p in sorted(actor.glob("03-01-0[12]-01-*.flac"))])  # neutral, calm
    profile = speech.enrol(calm)
    assert profile.mode == "enrol" and profile.seconds > 5 and profile.windows >= 2
    angry = load_audio(actor / "03-01-05-02-01-01-07.flac")
    plain = speech.analyze(angry).to_dict()
    adapted = speech.analyze(angry, profile=profile).to_dict()
    assert plain["adaptation"] == {"mode": "none"} and adapted["adaptation"]["mode"] == "enrol"
    assert adapted["probabilities"] != plain["probabilities"] and adapted["label"] is not None
    session = speech.analyze(np.concatenate([calm, angry]), session=True).to_dict()
    assert session["adaptation"]["mode"] == "session" and session["adaptation"]["windows"] == len(session["segments"])
    assert "prior" not in session["adaptation"]
    continued = speech.analyze(angry, profile=profile, session=True).to_dict()  # a session from the enrolment
    assert continued["adaptation"]["prior"] == profile.describe() and continued["label"] is not None
    assert continued["probabilities"] not in (plain["probabilities"], adapted["probabilities"])
    silent = speech.analyze(np.zeros(32_000, np.float32), profile=profile).to_dict()  # silence: no error
    assert silent["label"] is None and silent["adaptation"]["mode"] == "enrol"
    with pytest.raises(ValueError, match="no voiced audio"):
        speech.enrol(np.zeros(32_000, np.float32))


def test_cli_enrol_profile_and_batch(tmp_path, speech):
    actor = need(RAVDESS) / "Actor_09"
    calm = actor / "03-01-02-01-01-01-09.flac"
    profile = tmp_path / "me.json"
    assert main(["enrol", "--voice", str(calm), "--out", str(profile)]) == 0
    assert json.loads(profile.read_text())["mode"] == "enrol"
    out = tmp_path / "out.json"
    assert main(["analyze", str(actor / "03-01-05-01-01-01-09.flac"), "--profile", str(profile), "--json", str(out),
                 "-q"]) == 0
    assert json.loads(out.read_text())["speech"]["adaptation"]["mode"] == "enrol"
    assert main(["analyze", str(calm), "--adapt", "enrol", "-q"]) == 2  # enrol needs a profile
    assert main(["analyze", str(calm), "--profile", str(profile), "--adapt", "batch", "-q"]) == 2
    assert main(["analyze", str(actor / "03-01-05-01-01-01-09.flac"), "--profile", str(profile), "--adapt", "session",
                 "--json", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["speech"]["adaptation"]["prior"]["mode"] == "enrol"
    folder = tmp_path / "batch"
    folder.mkdir()
    sources = sorted(actor.glob("*-01-01-09.flac"))[:4] + sorted((RAVDESS / "Actor_10").glob("*-01-01-10.flac"))[:4]
    for source in sources:
        shutil.copy(source, folder / source.name)
    rows = tmp_path / "rows.json"
    assert main(["analyze", str(folder), "--adapt", "batch", "--speaker-from", r"(\d\d)\.flac$", "--json", str(rows),
                 "-q"]) == 0
    results = json.loads(rows.read_text())
    groups = {r["input"][-7:-5]: r["speech"]["adaptation"] for r in results}  # one profile per actor
    assert len(results) == 8 and set(groups) == {"09", "10"}
    assert all(a["mode"] == "batch" and a["windows"] >= 4 for a in groups.values())
    assert groups["09"] != groups["10"]


def test_a_batch_of_one_emotion_reads_no_worse_than_without_adaptation(speech):
    """Eight angry clips of one actor as a batch: with the mix taken half from the mean reading (as before) half the
    windows lost their label; the EM mix and the averaged reading keep all that the plain head had."""
    clips = sorted((need(RAVDESS) / "Actor_09").glob("03-01-05-*.flac"))
    audios = [load_audio(clip) for clip in clips]
    features = np.concatenate([speech.features(speech.voiced_windows(audio)[1]) for audio in audios])
    angry = SPEECH_LABELS.index("angry")
    plain = speech.classify_features(features)
    adapted = speech.classify_profiled(features, speech.batch_profile(audios))
    halfway = balanced_mean(features, estimated_mix(plain.mean(0)), np.asarray(
        speech.card["adapted_head"]["class_offsets"], np.float32))
    right = {name: float((p.argmax(1) == angry).mean()) for name, p in
             (("none", plain), ("batch", adapted), ("halfway mix", speech.classify_features(features, halfway)))}
    assert len(clips) == 8 and right["batch"] >= right["none"] >= 0.75, right
    assert right["halfway mix"] < right["none"], right  # what the issue saw: the old estimate lost the emotion
