import numpy as np
import pytest

from emofuse.audio import features
from emofuse.audio.vad import split_windows, trim_silence, voiced_segments
from emofuse.media import load_audio
from tests.conftest import RAVDESS, need, tone
from tests.librosa_reference import REFERENCE, synthetic_voice


@pytest.fixture(scope="module")
def utterance():
    return load_audio(need(RAVDESS) / "Actor_03" / "03-01-05-02-01-01-03.flac")


@pytest.fixture(scope="module")
def librosa_reference():
    """librosa 0.11's features of tests.librosa_reference.synthetic_voice (stored: librosa's JIT costs ~40 s)."""
    with np.load(REFERENCE) as stored:
        return {name: stored[name] for name in stored.files}


def test_log_mel_matches_librosa(librosa_reference):
    ours = features.log_mel(synthetic_voice())
    assert ours.shape == librosa_reference["log_mel"].shape
    assert np.abs(ours - librosa_reference["log_mel"]).max() < 0.01


def test_mfcc_and_deltas_match_librosa(librosa_reference):
    spec = features.log_mel(synthetic_voice())
    coeffs = features.mfcc(log_mel_spec=spec)
    np.testing.assert_allclose(coeffs, librosa_reference["mfcc"], atol=0.01)
    np.testing.assert_allclose(features.delta(coeffs)[:, 4:-4], librosa_reference["delta"][:, 4:-4], atol=1e-3)
    assert features.mfcc_with_deltas(synthetic_voice()).shape == (60, spec.shape[1])


def test_speech_arrays_enter_at_any_rate_and_layout(utterance):
    """The same clip as a 16 kHz file, a 44.1 kHz stereo array and an array with NaNs: one answer, no error."""
    import soxr

    from emofuse.audio.classifier import SpeechClassifier

    clf = SpeechClassifier()
    reference = clf.analyze(utterance).to_dict()
    stereo = soxr.resample(np.stack([utterance, utterance], axis=1), 16_000, 44_100)
    resampled = clf.analyze(stereo, 44_100).to_dict()
    assert resampled["label"] == reference["label"]
    assert resampled["probabilities"][reference["label"]] == pytest.approx(
        reference["probabilities"][reference["label"]], abs=0.05)
    broken = utterance.copy()
    broken[::997] = np.nan
    broken[5] = np.inf
    block = clf.analyze(broken).to_dict()
    assert block["label"] is not None and np.isfinite(block["snr_db"])
    with pytest.raises(ValueError, match="below 1000 Hz"):
        clf.analyze(utterance, 1)


def test_vad_finds_speech_between_silences():
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16_000), tone(1.0), np.zeros(24_000), tone(0.8), np.zeros(8_000)])
    audio += rng.normal(0, 1e-4, audio.size).astype(np.float32)
    segments = voiced_segments(audio)
    assert len(segments) == 2
    assert segments[0][0] == pytest.approx(0.9, abs=0.05) and segments[0][1] == pytest.approx(2.1, abs=0.05)
    assert segments[1][0] == pytest.approx(3.4, abs=0.05)
    assert voiced_segments(np.zeros(32_000, np.float32)) == []
    assert len(trim_silence(audio)) < len(audio)


def test_real_utterance_has_one_voiced_stretch(utterance):
    segments = voiced_segments(utterance)
    assert len(segments) == 1 and 1.0 < segments[0][1] - segments[0][0] < 3.5


def test_split_windows_covers_long_segments():
    assert split_windows(0.0, 2.0, 3.0, 1.5) == [(0.0, 2.0)]
    windows = split_windows(1.0, 8.0, 3.0, 1.5)
    assert windows[0] == (1.0, 4.0) and windows[-1] == (5.0, 8.0)
    assert all(e - s == pytest.approx(3.0) for s, e in windows)


def test_voice_embeddings_tell_real_speakers_apart():
    """RAVDESS actors 01, 02 and 03 (two men, one woman), three clips each: pairs of one speaker's clips lie
    far closer than pairs of two speakers' clips."""
    from emofuse.audio.speaker import VoiceEncoder

    encoder = VoiceEncoder()
    embeddings = {actor: [encoder.embed(load_audio(path))
                          for path in sorted((need(RAVDESS) / f"Actor_{actor:02d}").glob("*"))[:3]]
                  for actor in (1, 2, 3)}
    vectors = [v for group in embeddings.values() for v in group]
    assert all(v.shape == (256,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5 for v in vectors)
    same = [float(a @ b) for group in embeddings.values() for i, a in enumerate(group) for b in group[i + 1:]]
    across = [float(a @ b) for x in (1, 2, 3) for y in (1, 2, 3) if x < y
              for a in embeddings[x] for b in embeddings[y]]
    assert np.mean(same) > np.mean(across) + 0.2


def test_voice_embedding_of_audio_shorter_than_a_partial():
    from emofuse.audio.speaker import VoiceEncoder, partial_starts

    assert partial_starts(8_000) == [0] and partial_starts(16_000 * 5) == [0, 77, 154, 231, 308]
    partials = VoiceEncoder().embed_partials(tone(0.5))
    assert partials.shape == (1, 256) and np.isfinite(partials).all()
