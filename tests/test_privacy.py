"""Nothing leaves the machine: the API and the CLI, watched by strace, contact nothing outside 127.0.0.1.

onnxruntime's wheels look up an events host about 9 s after a session starts unless telemetry is off before
onnxruntime is imported; each process here lives past that. (The app is watched in tests/test_browser.py.)
"""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import tone, write_video
from tests.network import STRACE, outside_contacts, traced

pytestmark = pytest.mark.skipif(STRACE is None, reason="strace is not installed (scripts/test installs it)")
TELEMETRY_DELAY = 16.0
"""Seconds a watched process lives after loading the models: past onnxruntime's first and second events."""


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_frame):
    folder = tmp_path_factory.mktemp("privacy")
    frames = [np.roll(face_frame, i % 5, axis=1) for i in range(int(TELEMETRY_DELAY * 5))]
    return write_video(folder / "talk.mp4", frames, fps=5, audio=tone(TELEMETRY_DELAY))


def watch(command: list[str], tmp_path, timeout: float = 120) -> list[str]:
    log, home = tmp_path / "strace.log", tmp_path / "home"
    home.mkdir()
    process = traced(command, log, env={**os.environ, "HOME": str(home)}, stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE)
    try:
        _, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert not (home / ".cache" / "Microsoft").exists(), "onnxruntime kept a device id and event queue"
    return outside_contacts(log)


def test_the_api_contacts_nothing_outside(clip, tmp_path):
    script = (f"import time\nfrom emofuse import Analyzer\nAnalyzer().analyze({str(clip)!r})\n"
              f"time.sleep({TELEMETRY_DELAY})\n")
    assert watch([sys.executable, "-c", script], tmp_path) == []


def test_the_cli_contacts_nothing_outside(clip, tmp_path):
    command = [sys.executable, "-m", "emofuse.cli", "live", "--source", str(clip), "-q", "--json",
               str(tmp_path / "live.json")]
    assert watch(command, tmp_path) == []
    assert (tmp_path / "live.json").exists()
