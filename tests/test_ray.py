"""Batch work on a Ray cluster: a head started here on 127.0.0.1 (2 CPUs), real files, a Ray worker killed."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RAVDESS, need

pytest.importorskip("ray")
RAY = Path(sys.executable).with_name("ray")


def ray_environment() -> dict:
    """The same Ray settings for the head and the driver: no usage stats, no token authentication (a token left
    in ~/.ray by another Ray run would otherwise split them)."""
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    port = free_port()
    env = ray_environment()
    start = [str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
             "--include-dashboard", "false", "--disable-usage-stats"]
    subprocess.run(start, check=True, env=env, capture_output=True, timeout=180)
    yield f"127.0.0.1:{port}"
    subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)


def ray_worker_pids() -> list[int]:
    """Processes running an emofuse Ray actor (their command line names the actor class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"RayWorker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_a_folder_on_a_ray_cluster_with_a_worker_killed_mid_task(cluster, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    files = sorted(need(RAVDESS).glob("Actor_03/*.flac"))[:12]
    for path in files:
        (folder / path.name).symlink_to(path)
    out = tmp_path / "out.jsonl"
    env = ray_environment()
    driver = subprocess.Popen([sys.executable, "-m", "emofuse.cli", "analyze", str(folder), "--ray", cluster,
                               "--jsonl", str(out), "--detector", "haar", "-q"], env=env,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and (not out.exists() or not out.read_text().strip()):
        time.sleep(0.1)
    victims = ray_worker_pids()
    assert victims, "no Ray worker running emofuse"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["input"] for r in rows) == sorted(str(folder / p.name) for p in files)  # each once
    assert all("error" not in r and r["speech"]["label"] for r in rows)  # the killed actor's file was retried


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path):
    from tests.conftest import tone, write_wav

    clip = write_wav(tmp_path / "a.wav", tone(1.0))
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "emofuse.cli", "analyze", str(clip), "--ray", address, "-q"],
                          env=ray_environment(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "emofuse: error: cannot start or reach the Ray cluster at 127.0.0.1:" in done.stderr
