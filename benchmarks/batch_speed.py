"""Batch throughput on this machine: one process vs --workers 2 vs Ray (local runtime), on real files.

Runs ``emofuse analyze FILES --jsonl ...`` as a user would (200 RAVDESS FLAC clips + the 24 paired RAVDESS mp4 /
CREMA-D flv clips, 224 real files), and reports files/s, media seconds per second and the peak resident memory
of each worker process (sampled every 0.2 s).

    python benchmarks/batch_speed.py [--files 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import SHARED, few, parse_args, save, table


def process_rss_mb() -> dict[int, tuple[str, float]]:
    """(command line, RSS MB) of every emofuse-related process on the machine."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "emofuse" not in cmd and "RayWorker" not in cmd and "multiprocessing" not in cmd:
                continue
            rss = next(int(line.split()[1]) for line in (entry / "status").read_text().splitlines()
                       if line.startswith("VmRSS:")) / 1024
            out[int(entry.name)] = (cmd, rss)
        except (OSError, StopIteration):
            continue
    return out


def run(mode: list[str], files: list[Path], work: Path, env: dict | None = None) -> dict:
    listing = work / "list.txt"
    listing.write_text("\n".join(map(str, files)) + "\n")
    out = work / f"out{len(list(work.iterdir()))}.jsonl"
    peaks: dict[int, tuple[str, float]] = {}
    progress: list[tuple[float, int]] = []  # (seconds since start, rows written)
    done = threading.Event()

    def sample() -> None:
        offset, rows_now = 0, 0
        while not done.is_set():
            for pid, (cmd, rss) in process_rss_mb().items():
                if rss > peaks.get(pid, ("", 0.0))[1]:
                    peaks[pid] = (cmd, rss)
            if out.exists():
                with open(out, "rb") as ledger:  # only the bytes appended since the last look
                    ledger.seek(offset)
                    new = ledger.read()
                offset += len(new)
                rows_now += new.count(b"\n")
            progress.append((time.perf_counter() - start, rows_now))
            time.sleep(0.2)

    start = time.perf_counter()
    threading.Thread(target=sample, daemon=True).start()
    subprocess.run([sys.executable, "-m", "emofuse.cli", "analyze", "--from-list", str(listing), "--jsonl", str(out),
                    "-q", *mode], check=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    done.set()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    media = sum(r.get("duration", 0.0) for r in rows)
    workers = [rss for pid, (cmd, rss) in peaks.items() if "spawn_main" in cmd or "RayWorker" in cmd]
    driver = [rss for pid, (cmd, rss) in peaks.items() if "emofuse.cli" in cmd]
    first = next(((t, n) for t, n in progress if n > 0), (elapsed, 0))
    steady = (len(rows) - first[1]) / (elapsed - first[0]) if elapsed > first[0] else 0.0
    return {"files": len(rows), "errors": sum("error" in r for r in rows), "seconds": round(elapsed, 1),
            "first_row_s": round(first[0], 1), "files_per_s": round(len(rows) / elapsed, 2),
            "steady_files_per_s": round(steady, 2), "media_x": round(media / elapsed, 1),
            "workers": len(workers), "worker_peak_mb": round(max(workers), 0) if workers else None,
            "driver_peak_mb": round(max(driver), 0) if driver else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200, help="RAVDESS FLAC clips (default: %(default)s)")
    args = parse_args(parser)
    args.files = 3 if args.smoke else args.files
    files = sorted((SHARED / "ravdess").glob("Actor_*/*.flac"))[:args.files]
    files += few(sorted((SHARED / "ravdess_video").glob("*.mp4")), 1)
    files += few(sorted((SHARED / "crema_d").glob("*.flv")), 1)
    modes = {"one process (--workers 1), 2 inference threads": (["--workers", "1"], None),
             "one process, 1 thread (EMOFUSE_THREADS=1)": (["--workers", "1"], {"EMOFUSE_THREADS": "1"}),
             "--workers 2": (["--workers", "2"], None),
             "--ray (local runtime, 2 CPUs)": (["--ray", "--workers", "2"], None)}
    if args.smoke:  # Ray's start alone takes longer than the rest; tests/test_ray.py runs it
        modes = {name: mode for name, mode in modes.items() if "ray" not in name}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (mode, env) in modes.items():
            rows.append({"mode": name, **run(mode, files, Path(folder), env)})
    base, steady_base = rows[0]["files_per_s"], rows[0]["steady_files_per_s"]
    for row in rows:
        row["speedup"] = round(row["files_per_s"] / base, 2)
        row["steady_speedup"] = round(row["steady_files_per_s"] / steady_base, 2)
    table(rows)
    save("batch_speed", {"protocol": f"{len(files)} real files ({args.files} RAVDESS FLAC, 15 RAVDESS mp4, "
                                     "9 CREMA-D flv), default analysis settings, fresh --jsonl each run; "
                                     "seconds: wall time including process start and model loading; steady: "
                                     "rows per second from the first row to the last", "rows": rows})


if __name__ == "__main__":
    main()
