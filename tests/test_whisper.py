"""The Whisper front end and encoder: ours against the references (torch.stft, ctranslate2), and the shipped ONNX.

The reference checks need the `train` extra (torch, ctranslate2 and the packages that ship the weights).
"""

import numpy as np
import pytest

from emofuse.audio.whisper import ENCODER_FRAMES_PER_SECOND, peak_normalize, warp_spectrum, whisper_log_mel
from emofuse.media import load_audio
from tests.conftest import RAVDESS, need, tone


@pytest.fixture(scope="module")
def thirty_seconds() -> np.ndarray:
    """30 s of real speech (RAVDESS actor 02 utterances back to back), Whisper's full input length."""
    clips = sorted((need(RAVDESS) / "Actor_02").glob("*.flac"))[:10]
    audio = np.concatenate([load_audio(c) for c in clips])[: 30 * 16_000]
    return np.pad(audio, (0, 30 * 16_000 - len(audio)))


def reference_log_mel(audio: np.ndarray) -> np.ndarray:
    """OpenAI Whisper's log_mel_spectrogram, written with torch.stft as whisper/audio.py does."""
    torch = pytest.importorskip("torch")
    from emofuse.audio.features import mel_filterbank

    stft = torch.stft(torch.from_numpy(audio), 400, 160, window=torch.hann_window(400), return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    mel = torch.from_numpy(mel_filterbank(16_000, 400, 80)) @ magnitudes
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).numpy()


def test_front_end_matches_whisper(thirty_seconds):
    ours = whisper_log_mel(thirty_seconds, normalize_peak=False)
    ref = reference_log_mel(thirty_seconds)
    assert ours.shape == ref.shape == (80, 3000)
    assert np.abs(ours - ref).max() < 1e-4


def test_the_speaker_perturbation_moves_a_voice_up_or_down_in_frequency():
    """warp_spectrum (the recipe's --warps): a factor of 1 changes nothing; 1.1 moves a 440 Hz tone's peak to ~484 Hz
    and 0.9 to ~396 Hz; Nyquist stays put."""
    def peak_hz(spectrum: np.ndarray) -> float:
        return float(np.argmax(spectrum)) * 8000 / (len(spectrum) - 1)

    power = np.abs(np.fft.rfft(tone(0.5, freq=440.0)[:512] * np.hanning(512))) ** 2  # 31.25 Hz bins
    np.testing.assert_allclose(warp_spectrum(power, 1.0), power, rtol=1e-6)
    assert peak_hz(power) == pytest.approx(440, abs=16)
    assert peak_hz(warp_spectrum(power, 1.1)) == pytest.approx(484, abs=16)
    assert peak_hz(warp_spectrum(power, 0.9)) == pytest.approx(396, abs=16)
    edge = np.zeros_like(power)
    edge[-1] = 1.0
    assert warp_spectrum(edge, 1.1)[-1] == pytest.approx(1.0)
    assert not np.allclose(whisper_log_mel(tone(1.0), warp=1.1), whisper_log_mel(tone(1.0)))


def test_front_end_is_level_invariant_and_handles_short_input():
    rng = np.random.default_rng(0)
    audio = (0.05 * rng.standard_normal(8000)).astype(np.float32)
    np.testing.assert_allclose(whisper_log_mel(audio * 8), whisper_log_mel(audio), atol=1e-4)
    assert whisper_log_mel(np.zeros(100, np.float32)).shape == (80, 2)  # shorter than one FFT frame
    assert whisper_log_mel(audio).shape[1] % 2 == 0  # the encoder halves time
    assert np.abs(peak_normalize(audio)).max() == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    assert ENCODER_FRAMES_PER_SECOND == 50


@pytest.mark.parametrize("name", ["tiny.en", "base"])
def test_encoder_matches_ctranslate2(name, thirty_seconds):
    torch = pytest.importorskip("torch")
    ctranslate2 = pytest.importorskip("ctranslate2")
    from emofuse.train.whisper import load_encoder, whisper_model_dir

    try:
        model_dir = whisper_model_dir(name)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    mel = whisper_log_mel(thirty_seconds, normalize_peak=False)[None]
    with torch.no_grad():
        ours = load_encoder(name)(torch.from_numpy(mel))[0, -1].numpy()
    reference = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="float32")
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))[0]
    assert ours.shape == theirs.shape == (1500, 384 if name == "tiny.en" else 512)
    assert np.abs(ours - theirs).max() < 2e-3 * np.abs(theirs).max()


def test_shipped_encoder_matches_torch_on_short_windows(thirty_seconds):
    """The ONNX encoder (cut after block 3, positions cut to the window, fp16 storage) equals the torch model."""
    torch = pytest.importorskip("torch")
    from emofuse.audio.whisper import WhisperFeatures
    from emofuse.models import load_card, model_path
    from emofuse.train.whisper import PooledEncoder, load_encoder

    card = load_card("speech")
    layers = tuple(card["encoder"]["layers"])
    try:
        encoder = load_encoder("base", max(layers))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    pooled = PooledEncoder(encoder, layers, card["encoder"]["pooling"] == "mean+std")
    windows = [thirty_seconds[:48_000], thirty_seconds[48_000:96_000], thirty_seconds[100_000:125_000]]
    ours = WhisperFeatures(model_path(card, card["encoder"]["file"]))(windows)
    with torch.no_grad():
        ref = np.concatenate([pooled(torch.from_numpy(whisper_log_mel(w)[None])).numpy() for w in windows])
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3


def test_reader_sees_the_encoder_arrays():
    pytest.importorskip("torch")
    from emofuse.train.whisper import read_ct2, whisper_model_dir

    try:
        arrays = read_ct2(whisper_model_dir("tiny.en") / "model.bin")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    assert arrays["conv1/weight"].shape == (384, 80, 3) and arrays["conv1/weight"].dtype == np.float16
    assert int(arrays["num_heads"]) == 6
    assert {k.split("/")[0] for k in arrays if k.startswith("layer_") and "/" in k} >= {f"layer_{i}" for i in range(4)}
