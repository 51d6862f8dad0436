"""Containers whose headers lie about their length: the batch engine plans from what the file proves."""

import json
import math
import subprocess
import sys
import time

import pytest

from emofuse.batch import Job, WorkerSpec, run_batch, shard
from emofuse.pipeline import Analyzer, AnalyzerConfig
from emofuse.results import read_jsonl
from tests.conftest import tone, write_wav
from tests.lying_headers import CLAIMS, lying_files, write_clip

SECONDS_PER_FILE = 10.0
MEMORY_MB = 1024


@pytest.fixture(scope="module")
def liars(tmp_path_factory):
    return lying_files(tmp_path_factory.mktemp("liars"))


def test_the_generator_makes_headers_that_lie(liars):
    from emofuse.media import video_info

    claimed = [video_info(path)["duration"] for path in liars]
    assert claimed[:len(CLAIMS)] == pytest.approx(list(CLAIMS), rel=1e-6)
    assert min(claimed) >= 65_535  # the AVI's 0xFFFFFFFF frames at 10 frames/s: 429 million seconds


def test_a_plan_follows_the_packets_not_the_header(liars, tmp_path):
    for path in liars:
        assert len(shard(Job.of(path), 300.0)) == 1, path.name  # 2 s of packets: one task, whatever is claimed
    honest = write_clip(tmp_path / "honest.mkv", seconds=8.0)
    tasks = shard(Job.of(honest), 2.0)
    assert [task.span for task in tasks] == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, math.inf)]


CLI_WITH_PEAK = ("import re, resource, sys\nfrom pathlib import Path\nfrom emofuse.cli import main\n"
                 "code = main(sys.argv[1:])\n"
                 "own = int(re.search(r'VmHWM:\\s+(\\d+)', Path('/proc/self/status').read_text())[1])\n"
                 "peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                 "print(f'peak_mb={peak / 1024:.0f}', file=sys.stderr)\nsys.exit(code)")
"""The default CLI, reporting its own peak memory and that of any process it started (workers) on stderr. Its own
is the kernel's high-water mark of its image (ru_maxrss would carry over the forking pytest's, 1.4 GB by then)."""


def test_each_liar_through_the_default_cli_is_quick_small_and_reports_what_was_decoded(liars, tmp_path):
    for path in liars:
        out = tmp_path / f"{path.name}.json"
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-c", CLI_WITH_PEAK, "analyze", str(path), "--json", str(out), "-q"],
                              capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - start
        assert done.returncode == 0, done.stderr
        assert elapsed < SECONDS_PER_FILE, (path.name, elapsed)
        assert json.loads(out.read_text())["duration"] == pytest.approx(2.1, abs=0.2), path.name
        peak_mb = int(done.stderr.rsplit("peak_mb=", 1)[1].split()[0])
        assert peak_mb < MEMORY_MB, (path.name, peak_mb)


def test_a_folder_of_good_files_and_liars_writes_a_row_for_every_file(liars, tmp_path):
    good = [write_wav(tmp_path / f"good{i}.wav", tone(1.0, freq=180 + 20 * i)) for i in range(3)]
    out = tmp_path / "all.jsonl"
    summary = run_batch([*good, *liars], WorkerSpec(AnalyzerConfig(detector="haar")), out, workers=2)
    rows = {row["input"]: row for row in read_jsonl(out)}
    assert summary.done == len(good) + len(liars) and set(rows) == {str(p) for p in [*good, *liars]}
    assert all(rows[str(p)]["duration"] < 3 for p in liars)


def test_a_shard_past_the_real_end_adds_no_time(tmp_path):
    """Joined spans report the decoded length: an empty span's start is not evidence of anything."""
    clip = write_clip(tmp_path / "short.mkv", seconds=3.0)
    analyzer = Analyzer(AnalyzerConfig(detector="haar"))
    spans = [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, math.inf)]
    parts = [analyzer.analyze_video_span(clip, start, end) for start, end in spans]
    assert parts[-1].frames_seen == 0 and parts[-1].audio_seconds == 0
    assert analyzer.join_video(clip, parts).duration == pytest.approx(analyzer.analyze(clip).duration, abs=0.15)
    assert analyzer.join_video(clip, parts).duration < 3.5
