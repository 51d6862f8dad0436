import cv2
import numpy as np
import pytest

from emofuse.errors import InputError
from emofuse.media import iter_video_frames, load_audio, load_image, sniff, video_info
from tests.conftest import RAVDESS, RAVDESS_VIDEO, need, tone, write_video, write_wav


def test_audio_any_rate_and_channels_becomes_16k_mono(tmp_path):
    stereo = np.stack([tone(1.0, 44_100), tone(1.0, 44_100)], axis=1)
    path = write_wav(tmp_path / "a.wav", stereo, 44_100)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16_000) <= 2
    assert 0.2 < np.abs(audio).max() <= 1.0


def test_real_flac_loads():
    audio = load_audio(need(RAVDESS) / "Actor_01" / "03-01-01-01-01-01-01.flac")
    assert 3.0 < len(audio) / 16_000 < 4.0


def test_sniff_by_content_not_extension(tmp_path):
    wav = write_wav(tmp_path / "really_audio.mp4", tone(0.5))
    assert sniff(wav) == "audio"
    png = tmp_path / "picture.wav"
    ok, data = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    png.write_bytes(data.tobytes())
    assert sniff(png) == "image"
    video = write_video(tmp_path / "clip.bin", [np.zeros((64, 64, 3), np.uint8)] * 5, audio=tone(0.5))
    assert sniff(video) == "video"


def test_generated_video_frames_and_audio_track(tmp_path):
    frames = [np.full((48, 64, 3), i * 20, np.uint8) for i in range(10)]
    path = write_video(tmp_path / "v.mp4", frames, fps=10, audio=tone(1.0))
    info = video_info(path)
    assert (info["width"], info["height"]) == (64, 48) and info["duration"] == pytest.approx(1.0, abs=0.15)
    decoded = list(iter_video_frames(path))
    assert len(decoded) == 10 and decoded[0][1].shape == (48, 64, 3)
    assert len(list(iter_video_frames(path, fps=5))) == 5
    audio = load_audio(path)
    assert abs(len(audio) / 16_000 - 1.0) < 0.1 and np.abs(audio).max() > 0.1


def test_real_video_audio_track():
    clip = need(RAVDESS_VIDEO) / "01-01-01-01-01-01-01.mp4"
    assert sniff(clip) == "video"
    assert 3.0 < len(load_audio(clip)) / 16_000 < 4.0


@pytest.mark.parametrize("depth", ["grey", "rgba", "16bit"])
def test_images_of_any_depth_become_rgb8(tmp_path, depth):
    image = {"grey": np.full((20, 30), 200, np.uint8), "rgba": np.full((20, 30, 4), 200, np.uint8),
             "16bit": np.full((20, 30, 3), 51200, np.uint16)}[depth]
    path = tmp_path / f"{depth}.png"
    cv2.imwrite(str(path), image)
    rgb = load_image(path)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8 and rgb.max() == 200


def _bad_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 10)
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(write_wav(tmp_path / "full.wav", tone(1.0)).read_bytes()[:30])
    zero_image = tmp_path / "zero.png"
    zero_image.write_bytes(b"")
    return {"empty": empty, "text": text, "truncated": truncated, "zero_image": zero_image}


def test_bad_input_raises_input_error_naming_the_file(tmp_path):
    bad = _bad_files(tmp_path)
    for path in bad.values():
        with pytest.raises(InputError) as info:
            kind = sniff(path)
            load_audio(path) if kind != "image" else load_image(path)
        assert str(path) in str(info.value)
    with pytest.raises(InputError, match="empty"):
        load_audio(bad["empty"])
    with pytest.raises(InputError, match="not a readable"):
        sniff(bad["text"])


def test_truncated_mp4(tmp_path):
    frames = [np.full((48, 64, 3), 100, np.uint8)] * 10
    data = write_video(tmp_path / "v.mp4", frames, audio=tone(1.0)).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="cut.mp4"):
        sniff(cut)
        list(iter_video_frames(cut))


def test_m4a_and_mp3_audio_only(tmp_path):
    import av

    samples = (tone(1.0) * 32767).astype(np.int16)
    for name, codec in (("a.m4a", "aac"), ("a.mp3", "libmp3lame" if "libmp3lame" in av.codecs_available else "mp3")):
        path = tmp_path / name
        with av.open(str(path), "w") as container:
            stream = container.add_stream(codec, rate=16_000)
            stream.layout = "mono"
            frame = av.AudioFrame.from_ndarray(samples[None], format="s16", layout="mono")
            frame.sample_rate = 16_000
            for packet in [*stream.encode(frame), *stream.encode()]:
                container.mux(packet)
        assert sniff(path) == "audio", name
        audio = load_audio(path)
        assert abs(len(audio) / 16_000 - 1.0) < 0.15 and np.abs(audio).max() > 0.1


@pytest.mark.parametrize("declared", ["unknown", "huge"])
def test_flac_whose_header_misstates_its_length_decodes_what_is_there(tmp_path, declared):
    """STREAMINFO total samples 0 (allowed: streaming encoders write it) or 2^36-1 (a lie): the real 2 s come out."""
    import soundfile

    path = tmp_path / "t.flac"
    soundfile.write(str(path), tone(2.0), 16_000, format="FLAC")
    data = bytearray(path.read_bytes())
    field = 8 + 13  # 'fLaC', block header, then STREAMINFO; total samples: the low 4 bits here and 4 bytes after
    data[field] = (data[field] & 0xF0) | (0x0F if declared == "huge" else 0)
    data[field + 1:field + 5] = b"\xff\xff\xff\xff" if declared == "huge" else b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))
    assert len(load_audio(path)) == pytest.approx(32_000, abs=2_000)


def test_image_declaring_giant_dimensions_is_refused_before_decoding(tmp_path):
    ok, encoded = cv2.imencode(".jpg", np.zeros((100, 120, 3), np.uint8))
    from emofuse.media import declared_image_size

    assert declared_image_size(encoded.tobytes()) == (120, 100)
    data = bytearray(encoded.tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = (20000).to_bytes(2, "big") * 2  # an 18 KB-style file claiming 20000x20000
    (tmp_path / "big.jpg").write_bytes(bytes(data))
    with pytest.raises(InputError, match="big.jpg: declares 20000x20000 pixels"):
        load_image(tmp_path / "big.jpg")
    ok, png = cv2.imencode(".png", np.zeros((1, 2000, 3), np.uint8))  # thin but small: fine
    (tmp_path / "thin.png").write_bytes(png.tobytes())
    assert load_image(tmp_path / "thin.png").shape == (1, 2000, 3)


def test_read_ahead_keeps_order_raises_the_producers_error_and_stops_early(tmp_path):
    from emofuse.media import read_ahead

    assert list(read_ahead(range(50), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise InputError(tmp_path / "x.mp4", "cannot decode video")

    with pytest.raises(InputError, match="x.mp4: cannot decode video"):
        list(read_ahead(broken()))

    closed = []

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.append(True)

    for n in read_ahead(endless()):
        if n == 5:
            break
    assert closed == [True]  # the producer stopped and closed its source (a video container)


def test_video_frames_read_ahead_match_a_plain_read(tmp_path):
    from emofuse.media import read_ahead

    clip = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"
    plain = list(iter_video_frames(clip, fps=5))
    ahead = list(read_ahead(iter_video_frames(clip, fps=5)))
    assert [t for t, _ in ahead] == [t for t, _ in plain]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(ahead, plain))
