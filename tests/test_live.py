"""The live engine (camera + microphone, fused) on a real clip played as if live, and `emofuse live`."""

import json
import subprocess
import sys
import threading

import jsonschema
import numpy as np
import pytest

from emofuse.live import LiveSession, play_file
from emofuse.pipeline import Analyzer, AnalyzerConfig
from emofuse.results import result_schema
from tests.conftest import RAVDESS_VIDEO, need, tone

CLIP = "01-01-06-02-02-01-05.mp4"  # fearful, strong: voice and face


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(AnalyzerConfig(detector="mtcnn"))


def test_a_clip_played_live_is_read_by_voice_and_face_and_fused(analyzer):
    session = LiveSession(analyzer)
    updates = list(play_file(session, need(RAVDESS_VIDEO) / CLIP, realtime=False))
    assert len(updates) >= 5 and [u.time for u in updates] == sorted(u.time for u in updates)
    both = [u for u in updates if u.sources == ("speech", "face")]
    assert both and all(u.fused is not None and abs(u.fused.sum() - 1) < 1e-4 for u in both)
    assert updates[0].speech is None  # the voice is read once half a second has been heard
    result = session.to_result("clip").to_dict()
    jsonschema.validate(result, result_schema())
    assert result["kind"] == "live" and result["fused"]["sources"] == ["speech", "face"]
    assert result["speech"]["label"] == "fearful"  # RAVDESS actor 05, strong fear: as the file analysis says
    header = session.history_csv().splitlines()[0].split(",")
    assert header[:6] == ["time", "sources", "faces", "fused", "voice", "face"] and "voice_calm" in header


def test_silence_and_no_face_fuse_to_nothing_without_error(analyzer):
    session = LiveSession(analyzer)
    blank = np.full((240, 320, 3), 90, np.uint8)
    for k in range(1, 31):
        session.add_frame(blank, at=k / 10)
        session.add_audio(np.zeros(1600, np.float32), 16_000, at=k / 10)
    latest = session.latest()
    assert latest is not None and latest.fused is None and latest.sources == () and latest.faces == 0
    assert session.to_result().to_dict()["fused"]["label"] is None


def test_frames_and_audio_from_two_threads(analyzer, face_frame):
    """WebRTC delivers video and audio on different threads, timed by the session's clock: it stays consistent."""
    import time

    session = LiveSession(analyzer, adapt="session")
    voice = tone(3.0, freq=160)

    def speak() -> None:
        for k in range(30):
            session.add_audio(voice[k * 1600:(k + 1) * 1600], 16_000)
            time.sleep(0.1)

    speaker = threading.Thread(target=speak)
    speaker.start()
    while speaker.is_alive():
        session.add_frame(face_frame)
        time.sleep(0.05)
    speaker.join()
    result = session.to_result().to_dict()
    jsonschema.validate(result, result_schema())
    assert result["face"]["label"] and result["speech"]["adaptation"]["mode"] == "session"
    assert session.fps > 2 and 2.5 < result["duration"] < 4.5


def test_a_live_session_starts_from_the_persons_profile(analyzer):
    from emofuse.media import load_audio
    from tests.conftest import RAVDESS

    actor = need(RAVDESS) / "Actor_05"
    profile = analyzer.speech.enrol(load_audio(actor / "03-01-01-01-01-01-05.flac"))  # neutral
    personal = Analyzer(analyzer.config, speech_model=analyzer.speech, face_model=analyzer.face, profile=profile)
    session = LiveSession(personal, adapt="session")
    np.testing.assert_allclose(session.session_reference.profile().mean, profile.mean)  # nothing heard yet
    voice = load_audio(actor / "03-01-05-02-01-01-05.flac")  # angry
    for k in range(len(voice) // 1600):
        session.add_audio(voice[k * 1600:(k + 1) * 1600], 16_000, at=(k + 1) / 10)
    adaptation = session.to_result().to_dict()["speech"]["adaptation"]
    assert adaptation["mode"] == "session" and adaptation["windows"] >= 1 and adaptation["prior"] == profile.describe()


def test_emofuse_live_plays_a_recording_and_writes_both_modalities(tmp_path):
    out, whole = tmp_path / "live.jsonl", tmp_path / "live.json"
    done = subprocess.run([sys.executable, "-m", "emofuse.cli", "live", "--source", str(need(RAVDESS_VIDEO) / CLIP),
                           "--jsonl", str(out), "--json", str(whole)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and any(r["sources"] == ["speech", "face"] for r in rows)
    assert " s  " in done.stdout and "voice " in done.stdout and "face " in done.stdout
    jsonschema.validate(json.loads(whole.read_text()), result_schema())
