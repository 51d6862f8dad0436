"""Fuzzing: hundreds of seeded mutations of real files give a valid result or an InputError, in bounded memory."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import CREMAD, RAVDESS, need, tone, write_video, write_wav

MUTATIONS = 110
PEAK_MB = 2500
"""Peak resident memory allowed for the whole fuzzing process, models included (a clean run: ~700 MB)."""
SLOWEST_S = 20.0


@pytest.mark.parametrize("seed", [0, 1])
def test_mutated_media_give_a_result_or_an_input_error(tmp_path, face_frame, seed):
    """Seed 0 is the first round's; seed 1 is new, with a lying-header MKV among the files it mutates."""
    import cv2

    from tests.lying_headers import claim, write_clip

    seeds = [next(iter(sorted(need(RAVDESS).glob("Actor_01/*.flac")))), need(CREMAD) / "1001_DFA_ANG_XX.flv",
             write_wav(tmp_path / "tone.wav", tone(1.5)),
             write_video(tmp_path / "clip.mp4", [face_frame] * 8, fps=8, audio=tone(1.0))]
    if seed:
        liar = tmp_path / "liar.mkv"
        liar.write_bytes(claim(write_clip(tmp_path / "honest.mkv").read_bytes(), "mkv", 1e9))
        seeds.append(liar)
    for suffix in (".png", ".jpg", ".bmp"):
        cv2.imwrite(str(tmp_path / f"face{suffix}"), cv2.cvtColor(face_frame, cv2.COLOR_RGB2BGR))
        seeds.append(tmp_path / f"face{suffix}")
    done = subprocess.run([sys.executable, "-m", "tests.fuzz_media", *map(str, seeds), "--work", str(tmp_path / "work"),
                           "--count", str(MUTATIONS), "--seed", str(seed)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["failures"] == [], report["failures"]
    assert sum(report["counts"].values()) == MUTATIONS and min(report["counts"].values()) > 0
    assert report["peak_rss_mb"] < PEAK_MB and report["slowest_s"] < SLOWEST_S, report


@pytest.mark.parametrize("name, header", [
    ("huge.bmp", b"BM" + (54 + 3).to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little")
     + (40).to_bytes(4, "little") + (30000).to_bytes(4, "little") + (30000).to_bytes(4, "little")
     + (1).to_bytes(2, "little") + (24).to_bytes(2, "little") + bytes(24) + b"\x00\x00\x00"),
])
def test_images_of_any_format_declaring_too_many_pixels_are_refused(tmp_path, name, header):
    from emofuse.errors import InputError
    from emofuse.media import load_image

    (tmp_path / name).write_bytes(header)
    with pytest.raises(InputError, match=name):
        load_image(tmp_path / name)


def test_a_video_declaring_giant_frames_is_refused(tmp_path, monkeypatch):
    import emofuse.media as media

    clip = write_video(tmp_path / "v.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 4, fps=4)
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 64 * 64 - 1)
    with pytest.raises(media.InputError, match="v.mp4: declares 64x64 video frames"):
        media.video_info(clip)
    with pytest.raises(media.InputError, match="v.mp4: declares 64x64 video frames"):
        list(media.iter_video_frames(clip))
