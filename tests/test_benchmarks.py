"""Every benchmark runs in its smoke mode (tiny sizes, result to a temporary folder), so none can rot.

A new script in benchmarks/ is picked up here by itself. Benchmarks read the real data in ../shared/data: without
it they are skipped, as are those needing what this machine lacks (Chromium for the app, openSMILE).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
NEEDS = {"app_speed.py": lambda: shutil.which("chromium") is not None and importlib.util.find_spec("playwright"),
         "speech_baseline.py": lambda: importlib.util.find_spec("opensmile") and importlib.util.find_spec("sklearn"),
         "transcribe_speed.py": lambda: importlib.util.find_spec("faster_whisper") is not None}


def test_every_script_is_listed():
    assert len(SCRIPTS) >= 15 and "face_speed.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_in_smoke_mode(script, tmp_path):
    if not SHARED.exists():
        pytest.skip("needs ../shared/data")
    if script in NEEDS and not NEEDS[script]():
        pytest.skip(f"{script} needs what this machine lacks")
    env = {**os.environ, "EMOFUSE_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke"], cwd=BENCHMARKS, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    written = list(tmp_path.glob("*.json"))
    assert len(written) == 1, done.stdout[-2000:]
    record = json.loads(written[0].read_text())
    assert record["machine"]["cores"] and "--smoke" in record["command"]
