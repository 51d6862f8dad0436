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


# ---------------------------------------------------------------- audio frames as WebRTC and microphones deliver them
HAPPY = "01-01-03-01-01-02-05.mp4"  # the file analysis reads the voice as happy (88%)


def pyav_frames(audio: np.ndarray, rate: int, fmt: str, channels: int, samples: int = 960,
                start_pts: int = 0) -> list:
    """``audio`` (mono float) as PyAV frames of ``fmt``; with two channels the right one is silent."""
    from fractions import Fraction

    import av

    layout = "mono" if channels == 1 else "stereo"
    frames = []
    for i in range(0, len(audio) - samples + 1, samples):
        chunk = np.zeros((samples, channels), np.float64)
        chunk[:, 0] = audio[i:i + samples]
        kind = av.AudioFormat(fmt)
        if fmt.startswith("s16"):
            chunk = np.clip(np.round(chunk * 32768), -32768, 32767).astype(np.int16)
        elif fmt.startswith("s32"):
            chunk = np.clip(np.round(chunk * 2**31), -2**31, 2**31 - 1).astype(np.int32)
        elif fmt.startswith("u8"):
            chunk = np.clip(np.round(chunk * 128 + 128), 0, 255).astype(np.uint8)
        elif fmt.startswith("flt"):
            chunk = chunk.astype(np.float32)
        array = chunk.T if kind.is_planar else chunk.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(array), format=fmt, layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, start_pts + i, Fraction(1, rate)
        frames.append(frame)
    return frames


@pytest.mark.parametrize("fmt, channels, rate", [
    ("s16", 2, 48_000),   # what aiortc's Opus decoder delivers (packed stereo), whatever the browser sent
    ("s16", 1, 8_000),    # aiortc's G.711 (PCMU/PCMA) decoder
    ("s16p", 2, 48_000), ("fltp", 2, 48_000), ("flt", 1, 48_000), ("s32", 2, 44_100), ("dblp", 1, 16_000),
    ("u8", 1, 22_050),
])
def test_pyav_audio_frames_become_the_audio_a_file_read_gives(fmt, channels, rate):
    """Every layout and sample format a WebRTC track or a microphone delivers, in 20 ms frames, through
    audio_samples and the streaming resampler, is the audio `load_audio` reads from the same file."""
    from emofuse.live import audio_samples
    from emofuse.media import StreamResampler, load_audio, resample

    native = load_audio(need(RAVDESS_VIDEO) / HAPPY, rate)[: 2 * rate]
    expected = resample(native, rate) / channels  # the right channel is silent: the mix is half as loud
    resample_stream = StreamResampler()
    heard = np.concatenate([resample_stream(*audio_samples(f))
                            for f in pyav_frames(native, rate, fmt, channels, samples=rate // 50)])
    n = len(heard) - 100  # the streaming filter holds back its last few milliseconds
    assert n > 1.9 * 16_000
    snr = 10 * np.log10(np.sum(expected[:n] ** 2) / (np.sum((heard[:n] - expected[:n]) ** 2) + 1e-12))
    assert snr > {"u8": 10, "s16": 50}.get(fmt.rstrip("p"), 80), snr  # 8 bits on quiet speech: 16 dB


def test_the_feed_times_frames_by_their_own_clock_and_counts_trouble(analyzer):
    """Frames that arrive in bursts land where their pts says; a frame that never came leaves a gap heard as
    silence, a longer hole restarts the window, a frame already heard is dropped, all counted."""
    from emofuse.live import AudioFrameFeed

    session = LiveSession(analyzer)
    feed = AudioFrameFeed(session)
    frames = pyav_frames(tone(4.0, rate=48_000), 48_000, "s16", 2, start_pts=123_456_789)  # RTP starts anywhere
    feed.feed(frames[:50])                     # one second at once (a burst)
    feed.feed(frames[51:100])                  # frame 50 never came: 20 ms of silence
    feed.feed([frames[60]])                    # a frame already heard
    feed.feed(frames[140:])                    # 0.8 s missing: the voice window starts afresh
    health = session.audio_health()
    assert (health.chunks, health.out_of_order, health.gaps) == (4, 1, 2)
    assert abs(health.missing_seconds - 0.82) < 0.005
    assert abs(session.heard_until() - 4.0) < 0.03  # the session clock began with the first frame, time from pts
    assert len(session._audio) <= int((4.0 - 2.8) * 16_000) + 10


def test_a_happy_voice_stays_happy_through_bursty_webrtc_delivery(analyzer):
    """The happy clip as Opus-decoded WebRTC frames (48 kHz s16 stereo, 20 ms), delivered in bursts of 1-12 frames
    as the app's queue hands them over, one in 50 lost: the voice reads as the file analysis does."""
    from emofuse.live import AudioFrameFeed
    from emofuse.media import load_audio

    rng = np.random.default_rng(0)
    session = LiveSession(analyzer)
    feed = AudioFrameFeed(session)
    frames = [f for f in pyav_frames(load_audio(need(RAVDESS_VIDEO) / HAPPY, 48_000), 48_000, "s16", 2)
              if rng.random() > 0.02]
    while frames:
        size = int(rng.integers(1, 13))
        burst, frames = frames[:size], frames[size:]
        feed.feed(burst)
    heard = [top for u in session.updates() if u.time > 2.0 and (top := u.to_dict()["speech"])]
    assert heard and sum(h["label"] == "happy" for h in heard) > len(heard) / 2, [h["label"] for h in heard]
    assert session.audio_health().gaps >= 1


def test_the_session_clock_starts_with_the_first_input(analyzer, face_frame):
    import time

    session = LiveSession(analyzer)
    time.sleep(0.3)
    assert session.clock() == 0.0
    session.add_frame(face_frame)
    assert session.clock() < 0.3 and session.latest() is None or session.latest().time < 0.3


def test_receiving_says_whether_the_camera_or_microphone_sent_anything_lately(analyzer, face_frame):
    import time

    session = LiveSession(analyzer)
    assert not session.receiving()
    session.add_audio(np.zeros(1600, np.float32), 16_000)
    assert session.receiving()
    time.sleep(0.3)
    assert not session.receiving(within=0.2)
    session.add_frame(face_frame)
    assert session.receiving(within=0.2)


def test_a_replaced_stream_never_interleaves_with_the_new_one(analyzer):
    """START pressed again: a new track (its own random RTP clock) starts while the old one's last frames are in
    flight: the old frames are dropped, the new stream's time runs on."""
    from emofuse.live import AudioFrameFeed

    session = LiveSession(analyzer)
    feed = AudioFrameFeed(session)
    old = pyav_frames(tone(2.0, rate=48_000), 48_000, "s16", 2, start_pts=5_000_000)
    new = pyav_frames(tone(2.0, rate=48_000), 48_000, "s16", 2, start_pts=900_000_000)
    feed.feed(old[:50])
    for old_frame, new_frame in zip(old[50:], new):
        feed.feed([new_frame, old_frame])
    health = session.audio_health()
    assert feed.superseded == len(old) - 50 and health.out_of_order == 0 and health.gaps <= 1
