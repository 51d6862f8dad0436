"""End to end in headless Chromium (Debian's package) driven by Playwright, against `emofuse app`.

The browser's fake camera and microphone are fed from files the tests generate. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import signal
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
from tests.network import STRACE, outside_contacts, traced

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


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    """A fake-camera file (Chromium loops it): RGB frames in Y4M (I420)."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            handle.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


LIVE_CLIP = "01-01-06-02-02-01-05.mp4"
"""The fake camera and microphone play this real RAVDESS clip (actor 05, fearful, strong), looped."""


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path | None:
    """Where strace logs the app server's network calls (None without strace)."""
    return tmp_path_factory.mktemp("server") / "strace.log" if STRACE else None


@pytest.fixture(scope="module")
def server(server_log):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "emofuse.cli", "app", "--port", str(port)]
    if server_log is not None:  # watched: the last test reads what it tried to reach
        process = traced(command, server_log, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    else:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://localhost:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("the app did not start: " + process.stdout.read().decode()[-2000:])
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from emofuse.media import iter_video_frames, load_audio

    folder = tmp_path_factory.mktemp("media")
    clip = need(RAVDESS_VIDEO) / LIVE_CLIP
    camera = write_y4m(folder / "clip.y4m", [frame for _, frame in iter_video_frames(clip, fps=15)])
    microphone = write_wav(folder / "clip.wav", load_audio(clip))
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


def test_live_fuses_voice_and_face_and_other_pages_keep_working(page):
    """Camera and microphone play a real clip: the Live page shows fused labels from voice and face, and while
    it runs the Video page analyses an upload."""
    page.get_by_role("tab", name="Live", exact=True).click()
    panel = page.get_by_role("tabpanel", name="Live")
    frame = panel.frame_locator("iframe").first
    frame.get_by_role("button", name="START").click(timeout=60_000)
    caption = panel.get_by_text("fused from speech + face")
    caption.first.wait_for(timeout=90_000)
    metrics = {m.get_by_test_id("stMetricLabel").inner_text(): m.get_by_test_id("stMetricValue").inner_text()
               for m in panel.get_by_test_id("stMetric").all()}
    assert metrics["Fused"] != "–" and metrics["Voice"] != "–" and metrics["Face"] != "–", metrics
    assert float(metrics["Frames per second"]) > 1
    frame.locator("video").first.wait_for(timeout=30_000)
    time.sleep(2)
    shot(page, "live")
    # while the camera and microphone keep running, another page analyses an upload
    page.get_by_role("tab", name="Video", exact=True).click()
    video_panel = page.get_by_role("tabpanel", name="Video")
    video_panel.locator("input[type=file]").set_input_files(str(need(RAVDESS_VIDEO) / "01-01-04-01-01-01-05.mp4"))
    video_panel.get_by_role("button", name="HTML report").wait_for(timeout=120_000)
    shot(page, "video_while_live")
    page.get_by_role("tab", name="Live", exact=True).click()
    assert panel.get_by_text("fused from").first.is_visible()
    frame.get_by_role("button", name="STOP").click()


def test_screenshots_of_every_page(page):
    for name in ("Voice", "Face", "Video", "Voice + Face"):
        page.get_by_role("tab", name=name, exact=True).click()
        time.sleep(1)
        shot(page, "page_" + name.lower().replace(" + ", "_"))


def test_the_app_server_contacted_nothing_outside(server, server_log):
    """Last in this module: the server, watched by strace since it started, has served every page, the Live
    page's camera and microphone and two uploads (the models loaded long enough ago for telemetry to fire)."""
    if server_log is None:
        pytest.skip("strace is not installed (scripts/test installs it)")
    assert server_log.exists() and outside_contacts(server_log) == []
