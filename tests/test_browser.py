"""End to end in headless Chromium (Debian's package) driven by Playwright, against `emofuse app`.

The browser's fake camera and microphone are fed from files the tests generate. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import RAVDESS_VIDEO, need, write_wav

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
playwright_api = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (scripts/test installs it)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_y4m(path: Path, frame: np.ndarray, count: int = 30, fps: int = 15) -> Path:
    """A looping fake-camera file: ``count`` copies of an RGB frame, slightly shifted, in Y4M (I420)."""
    height, width = frame.shape[:2]
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(count):
            shifted = np.roll(frame, (i % 10) - 5, axis=1)
            handle.write(b"FRAME\n" + cv2.cvtColor(shifted, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "emofuse.cli", "app", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the app did not start: " + process.stdout.read().decode()[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(face_frame, tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    camera = write_y4m(folder / "face.y4m", face_frame)
    rng = np.random.default_rng(0)
    microphone = write_wav(folder / "speech.wav", (0.1 * rng.standard_normal(32000)).astype(np.float32))
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera}",
            f"--use-file-for-fake-audio-capture={microphone}"]
    with playwright_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["camera", "microphone"])
    page = context.new_page()
    start = time.time()
    page.goto(server)
    page.get_by_role("tab", name="Voice", exact=True).wait_for(timeout=60_000)
    page.load_seconds = time.time() - start
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_first_page_load_shows_all_tabs(page):
    for name in ("Voice", "Face", "Live", "Video", "Voice + Face"):
        assert page.get_by_role("tab", name=name, exact=True).is_visible()
    shot(page, "home")


def test_video_upload_produces_charts(page):
    clip = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"
    page.get_by_role("tab", name="Video", exact=True).click()
    panel = page.get_by_role("tabpanel", name="Video")
    panel.locator("input[type=file]").set_input_files(str(clip))
    chart = panel.locator("[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']").first
    chart.wait_for(timeout=120_000)
    panel.get_by_role("button", name="HTML report").wait_for(timeout=60_000)
    assert panel.get_by_text("Fused emotion over time").is_visible()
    shot(page, "video_upload")


def test_live_view_labels_the_fake_camera(page):
    page.get_by_role("tab", name="Live", exact=True).click()
    panel = page.get_by_role("tabpanel", name="Live")
    frame = panel.frame_locator("iframe").first
    frame.get_by_role("button", name="START").click(timeout=60_000)
    fps = panel.get_by_test_id("stMetricValue").first
    fps.wait_for(timeout=60_000)
    deadline = time.time() + 60
    while time.time() < deadline and float(fps.inner_text() or 0) <= 0:
        time.sleep(0.5)
    assert float(fps.inner_text()) > 0
    chart = panel.locator("[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']").first
    chart.wait_for(timeout=60_000)  # the chart only has points for frames where a labelled face was found
    video = frame.locator("video").first
    video.wait_for(timeout=30_000)
    time.sleep(2)
    shot(page, "live")
    ARTIFACTS.mkdir(exist_ok=True)
    video.screenshot(path=str(ARTIFACTS / "live_video.png"))
    frame.get_by_role("button", name="STOP").click()
