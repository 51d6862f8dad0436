"""Web app timings in headless Chromium: first page load after the server is up, and the live view's
frames per second with the browser's fake camera (a real face) and fake microphone (real speech, looped)
over --seconds: voice and face analysed together.

    python benchmarks/app_speed.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
from _common import SHARED, parse_args, save, table

from emofuse.media import iter_video_frames


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_camera(folder: Path) -> Path:
    frame = next(f for t, f in iter_video_frames(SHARED / "ravdess_video" / "01-01-03-01-01-02-05.mp4", fps=2)
                 if t > 1.0)
    canvas = np.full((480, 640, 3), 255, np.uint8)
    canvas[60:420] = frame
    path = folder / "cam.y4m"
    with open(path, "wb") as handle:
        handle.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
        for i in range(60):
            shifted = np.roll(canvas, i % 12 - 6, axis=1)
            handle.write(b"FRAME\n" + cv2.cvtColor(shifted, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def fake_microphone(folder: Path) -> Path:
    import soundfile

    from emofuse.media import load_audio

    path = folder / "mic.wav"
    soundfile.write(str(path), load_audio(SHARED / "ravdess_video" / "01-01-03-01-01-02-05.mp4"), 16_000)
    return path


def start_live(panel, fps, attempts: int = 3) -> None:
    """START, and START again when no frame arrives within 15 s (now and then the WebRTC connection falls back to
    START before its first frame, as tests/test_browser.py also sees)."""
    start = panel.frame_locator("iframe").first.get_by_role("button", name="START")
    for _ in range(attempts):
        start.click(timeout=60_000)
        fps.wait_for(timeout=60_000)
        deadline = time.time() + 15
        while time.time() < deadline:
            if float(fps.inner_text()) > 0:
                return
            time.sleep(0.5)
    raise SystemExit(f"no live frame after {attempts} STARTs")


def voice_health(caption: str) -> dict:
    """From the Live panel's caption at the end of the run: whether the voice was fused, and how its audio fared
    ("audio 0.2 s behind: 512 chunks, 3 late, 0 out of order, 1 gap (0.06 s missing)")."""
    audio = re.search(r"audio ([\d.]+) s behind: (\d+) chunks, (\d+) late, \d+ out of order, \d+ gaps? "
                      r"\(([\d.]+) s missing\)", caption)
    if audio is None:
        raise SystemExit(f"the Live panel's caption has no audio health: {caption!r}")
    return {"speech_fused": "speech" in caption.split("fused from", 1)[1].split("·", 1)[0],
            "audio_behind_s": float(audio[1]), "audio_late_share": int(audio[3]) / max(int(audio[2]), 1),
            "audio_missing_s": float(audio[4])}


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parse_args(parser)
    args.seconds = 3.0 if args.smoke else args.seconds
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "emofuse.cli", "app", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with tempfile.TemporaryDirectory() as folder, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={fake_camera(Path(folder))}",
                f"--use-file-for-fake-audio-capture={fake_microphone(Path(folder))}"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            start = time.perf_counter()
            page.goto(url)
            page.get_by_role("tab", name="Voice", exact=True).wait_for(timeout=60_000)
            first_load = time.perf_counter() - start
            page.get_by_role("tab", name="Live", exact=True).click()
            panel = page.get_by_role("tabpanel", name="Live")
            fps = panel.get_by_test_id("stMetric").filter(has_text="Frames per second").get_by_test_id(
                "stMetricValue")
            start_live(panel, fps)
            readings = []
            deadline = time.time() + args.seconds
            while time.time() < deadline:
                time.sleep(1)
                readings.append(float(fps.inner_text()))
            voice = voice_health(panel.get_by_text("fused from").first.inner_text())
            browser.close()
    finally:
        server.terminate()
    steady = readings[len(readings) // 2:]
    row = {"first_load_s": first_load, "live_fps_median": float(np.median(steady)),
           "live_fps_min": float(np.min(steady)), **voice, "seconds": args.seconds}
    table([row])
    save("app_speed", {"results": row, "readings": readings,
                       "protocol": "server and headless Chromium on the same machine; 640x480 fake camera at 30 fps; "
                                   "fake microphone: a RAVDESS clip's speech, looped; fps = frames labelled per "
                                   "second by the server while it also reads the voice (second half of the run); "
                                   "whether the last reading fused the voice (speech_fused) and the audio's health "
                                   "at the end (behind, share of chunks late, seconds missing)"})


if __name__ == "__main__":
    main()
