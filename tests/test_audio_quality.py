"""Recording SNR and the speech model's domain match, on generated and real recordings."""

import numpy as np
import pytest

from emofuse.audio.quality import MIN_MATCH, domain_match, snr_db, snr_reference
from emofuse.media import load_audio
from emofuse.models import load_card
from tests.conftest import CREMAD, RAVDESS, need, tone


@pytest.mark.parametrize("true_snr", [20.0, 40.0, 60.0])
def test_snr_of_a_voice_with_pauses_in_known_noise(true_snr):
    rng = np.random.default_rng(0)
    voice = tone(2.0, level=0.3)
    audio = np.concatenate([np.zeros(8000, np.float32), voice, np.zeros(8000, np.float32)])
    voice_rms = np.sqrt(np.mean(voice ** 2))
    audio = audio + rng.standard_normal(audio.size).astype(np.float32) * voice_rms / 10 ** (true_snr / 20)
    assert snr_db(audio) == pytest.approx(true_snr, abs=3.0)


def test_domain_match_falls_with_noise_and_is_neutral_without_reference():
    reference = snr_reference(np.linspace(45, 90, 200))
    assert reference["recordings"] == 200 and reference["p01"] < reference["p05"] < reference["p50"]
    matches = [domain_match(snr, reference) for snr in (10, 30, 38, 42, 50, 80)]
    assert matches == sorted(matches) and matches[0] == MIN_MATCH and matches[-1] > 0.99
    assert domain_match(10.0, None) == 1.0


def test_real_recordings_clean_studio_versus_noisy_corpus():
    """Against studio references (RAVDESS actor 01), another RAVDESS actor matches; CREMA-D (20-36 dB) does not."""
    reference = snr_reference([snr_db(load_audio(p)) for p in sorted((need(RAVDESS) / "Actor_01").glob("*.flac"))])
    studio = [load_audio(p) for p in sorted((need(RAVDESS) / "Actor_02").glob("*.flac"))[:5]]
    noisy = [load_audio(p) for p in sorted(need(CREMAD).glob("*.flv"))[:5]]
    assert min(domain_match(snr_db(a), reference) for a in studio) > 0.9
    assert max(domain_match(snr_db(a), reference) for a in noisy) < 0.5


def test_shipped_speech_model_was_trained_on_noisy_renditions():
    """Its card's reference covers CREMA-D-like recordings (it heard noise down to ~10 dB), so they are trusted."""
    reference = load_card("speech")["recording_snr_db"]
    assert reference["p01"] < 20 < 40 < reference["p50"] + 10
    noisy = [load_audio(p) for p in sorted(need(CREMAD).glob("*.flv"))[:5]]
    assert min(domain_match(snr_db(a), reference) for a in noisy) > 0.9
