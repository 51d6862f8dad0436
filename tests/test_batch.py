"""Batch work: inputs, the ledger (exactly once, whatever dies), worker processes and the per-file time limit."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emofuse.batch import FileAnalyzer, Job, Task, WorkerSpec, collect_inputs, plan, run_batch, run_pool, run_sequential
from emofuse.errors import EmofuseError
from emofuse.pipeline import AnalyzerConfig
from emofuse.results import read_jsonl
from tests.conftest import RAVDESS, RAVDESS_VIDEO, need, tone, write_wav

HAAR = WorkerSpec(AnalyzerConfig(detector="haar"))


def real_files(count: int) -> list[Path]:
    return sorted(need(RAVDESS).glob("Actor_0[12]/*.flac"))[:count]


def test_inputs_from_folders_patterns_and_a_list(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    first = write_wav(tmp_path / "a" / "one.wav", tone(0.5))
    second = write_wav(tmp_path / "a" / "deep" / "two.wav", tone(0.5))
    (tmp_path / "a" / "notes.txt").write_text("not media")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# inputs\n{second}\n\n{tmp_path / 'missing.wav'}\n")
    found = collect_inputs([str(tmp_path / "a"), str(tmp_path / "a" / "**" / "*.wav")], listing)
    assert found == [second, first, tmp_path / "missing.wav"]  # each once, in order; a listed missing file stays
    with pytest.raises(EmofuseError, match="no file matches"):
        collect_inputs([str(tmp_path / "*.flac")])


def test_worker_processes_give_the_sequential_results(tmp_path):
    files = real_files(4) + [need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"]
    tasks = [Task(Job.of(p)) for p in files]
    sequential = {row["input"]: row for _, row in run_sequential(tasks, HAAR)}
    parallel = {row["input"]: row for _, row in run_pool(tasks, HAAR, workers=2)}
    assert parallel.keys() == sequential.keys() == {str(p) for p in files}
    for name, row in parallel.items():
        for block in ("speech", "face", "fused"):
            want, got = sequential[name][block], row[block]
            assert (want is None) == (got is None)
            if want:
                assert got["label"] == want["label"]
                assert np.allclose(list(got["probabilities"].values()), list(want["probabilities"].values()),
                                   atol=1e-3)


def test_a_changed_file_is_analysed_again_and_its_old_row_dropped(tmp_path):
    audio = write_wav(tmp_path / "a.wav", tone(1.0))
    out = tmp_path / "out.jsonl"
    job = Job.of(audio)
    out.write_text(json.dumps({"input": str(audio), "error": "old", "source": job.source()}) + "\n")
    assert plan([job], out)[0] == []  # unchanged: nothing to do
    os.utime(audio, ns=(job.mtime_ns + 10**9, job.mtime_ns + 10**9))
    changed = Job.of(audio)
    todo, kept = plan([changed], out)
    assert todo == [changed] and kept == [] and out.read_text() == ""


def test_a_file_over_the_time_limit_gets_an_error_row(tmp_path):
    slow = FileAnalyzer(WorkerSpec(AnalyzerConfig(detector="haar"), file_timeout=0.01))
    row = slow(Job.of(need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"))
    assert "took longer than 0.01 s" in row["error"] and row["source"]["size"] > 0
    assert "error" not in FileAnalyzer(WorkerSpec(file_timeout=60))(Job.of(write_wav(tmp_path / "a.wav", tone(1.0))))


def test_a_killed_worker_loses_no_file_and_repeats_none():
    jobs = [Job.of(p) for p in real_files(10)]
    rows, killed = [], []

    def kill_one_worker() -> None:
        while not rows:
            time.sleep(0.05)
        victim = multiprocessing.active_children()[0]
        killed.append(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)

    threading.Thread(target=kill_one_worker, daemon=True).start()
    for _, row in run_pool([Task(job) for job in jobs], HAAR, workers=2):
        rows.append(row)
    assert killed
    assert sorted(r["input"] for r in rows) == sorted(j.input for j in jobs)  # every file once
    assert all("error" not in r for r in rows)  # the files in flight were retried by a new worker


def test_kill_9_of_the_driver_then_the_same_command_gives_every_input_exactly_once(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for path in real_files(100):  # enough work that a quick machine is still mid-run at the kill
        (folder / path.name).symlink_to(path)
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "emofuse.cli", "analyze", str(folder), "--jsonl", str(out), "--workers", "2",
               "--detector", "haar", "-q"]
    driver = subprocess.Popen(command, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 3):
        time.sleep(0.02)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its workers, mid-run
    driver.wait()
    before = len(read_jsonl(out))
    assert 3 <= before < 100
    with open(out, "a") as ledger:
        ledger.write('{"input": "' + str(folder) + '/torn')  # as if killed half-way through a line
    assert subprocess.run(command, timeout=300).returncode == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line whole
    assert sorted(r["input"] for r in rows) == sorted(str(folder / p.name) for p in real_files(100))


def test_a_long_video_in_shards_gives_one_result_shaped_as_the_whole(tmp_path, face_frame):
    """8 s cut into 2 s shards analysed by 2 workers, joined: one row, one face track, the same timeline."""
    from tests.conftest import write_video

    frames = [np.roll(face_frame, i % 6, axis=1) for i in range(80)]
    speech = np.concatenate([tone(3.0), np.zeros(16000, np.float32), tone(4.0, freq=180)])
    clip = write_video(tmp_path / "long.mp4", frames, fps=10, audio=speech)
    whole = FileAnalyzer(HAAR)(Job.of(clip))
    rows = []
    summary = run_batch([clip], HAAR, tmp_path / "out.jsonl", workers=2, shard_seconds=2.0, on_row=rows.append)
    assert summary.done == 1 and len(rows) == 1 and read_jsonl(tmp_path / "out.jsonl") == rows
    joined = rows[0]
    assert joined.keys() == whole.keys() and joined["duration"] == whole["duration"]
    assert joined["video"]["frames_analysed"] == whole["video"]["frames_analysed"] == 40
    assert [f["track_id"] for f in joined["face"]["faces"]] == [1]  # one person, one track across the cuts
    assert len(joined["fused"]["segments"]) == len(whole["fused"]["segments"]) == 8
    assert joined["face"]["label"] == whole["face"]["label"] and joined["speech"]["label"] is not None
    assert joined["speech"]["segments"][-1]["end"] == pytest.approx(whole["speech"]["segments"][-1]["end"], abs=0.1)


def session_processes(sid: int) -> set[int]:
    """Live processes (not zombies) of the process session ``sid``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # after the name: state, ppid, pgrp, session
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_kill_9_of_the_driver_alone_leaves_no_worker_behind(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        write_wav(folder / f"t{i:02d}.wav", tone(2.0, freq=150 + 5 * i))
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "emofuse.cli", "analyze", str(folder), "--jsonl", str(out), "--workers", "2",
               "-q"]
    driver = subprocess.Popen(command, start_new_session=True)  # its own session: every process of ours in it
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or not out.read_text()):
        time.sleep(0.05)
    ours = session_processes(driver.pid)
    assert len(ours) >= 3, ours  # the driver, two workers (and the resource tracker)
    os.kill(driver.pid, signal.SIGKILL)  # the driver alone
    driver.wait()
    deadline = time.time() + 5
    while time.time() < deadline and session_processes(driver.pid):
        time.sleep(0.1)
    assert session_processes(driver.pid) == set(), "workers outlived their driver"
