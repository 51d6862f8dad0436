"""A long video analysed whole in one process vs cut into shards for 2 worker processes, on this machine.

Generates a 30 fps clip of ``--seconds`` at ``--size`` (a RAVDESS face moving, RAVDESS speech looped; as
video_speed.py),
then runs ``emofuse analyze clip.mp4 --json`` with ``--workers 1`` and with ``--workers 2 --shard-seconds S``;
reports wall time, x real time, and whether the two results agree (duration, frames, windows, labels).

    python benchmarks/shard_speed.py [--seconds 3600] [--shard-seconds 300] [--size 640x360] [--sharded-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import parse_args, save, table
from video_speed import make_clip


def analyse(clip: Path, out: Path, options: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emofuse.cli", "analyze", str(clip), "--json", str(out), "-q", *options],
                   check=True)
    return time.perf_counter() - start, json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--shard-seconds", type=float, default=300.0)
    parser.add_argument("--size", default="640x360", help="frame size (default: %(default)s, as RAVDESS video)")
    parser.add_argument("--sharded-only", action="store_true", help="skip the one-process run")
    args = parse_args(parser)
    if args.smoke:
        args.seconds, args.shard_seconds, args.size = 12.0, 4.0, "160x90"
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "long.mp4"
        make_clip(clip, args.seconds, (width, height))
        runs = {"whole, one process (--workers 1)": ["--workers", "1"],
                f"shards of {args.shard_seconds:g} s, --workers 2": ["--workers", "2", "--shard-seconds",
                                                                     str(args.shard_seconds)]}
        if args.sharded_only:
            del runs["whole, one process (--workers 1)"]
        rows, results = [], []
        for name, options in runs.items():
            seconds, result = analyse(clip, Path(folder) / f"{len(rows)}.json", options)
            results.append(result)
            rows.append({"mode": name, "seconds": round(seconds, 1), "x_realtime": round(args.seconds / seconds, 2),
                         "duration": result["duration"], "frames": result["video"]["frames_analysed"],
                         "fused_windows": len(result["fused"]["segments"]), "fused": result["fused"]["label"],
                         "speech": result["speech"]["label"], "face": result["face"]["label"],
                         "face_tracks": len(result["face"]["faces"])})
    if len(rows) == 2:
        rows[1]["speedup"] = round(rows[0]["seconds"] / rows[1]["seconds"], 2)
    table(rows)
    size = "" if args.size == "640x360" else f"_{args.size}"
    save(f"shard_speed_{int(args.seconds)}s{size}", {
        "protocol": f"generated {args.seconds:g} s {args.size}@30 H.264 + AAC clip, default analysis settings; "
                    "wall time of the whole command (process start, model loading, joining included)",
        "rows": rows})


if __name__ == "__main__":
    main()
