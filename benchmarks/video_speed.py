"""Video pipeline speed and memory: a generated 720p 30 fps clip with a real face and real speech,
analysed with default settings; reports x real time and peak resident memory.

    python benchmarks/video_speed.py [--seconds 60] [--threads 2] [--detector mtcnn] [--fast-face]
    python benchmarks/video_speed.py --seconds 600        # the 10-minute memory check
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import SHARED, encode_mono_audio, parse_args, save, table

from emofuse.face.detect import DEFAULT_DETECTOR, DETECTORS


def make_clip(path: Path, seconds: float, size: tuple[int, int] = (1280, 720)) -> None:
    """H.264 (30 fps, ``size``, 720p by default) + AAC: a RAVDESS face moving slowly, RAVDESS speech looped."""
    import av

    from emofuse.media import iter_video_frames, load_audio

    face = next(f for t, f in iter_video_frames(SHARED / "ravdess_video" / "01-01-03-01-01-02-05.mp4", fps=2)
                if t > 1.0)
    import cv2

    face = cv2.resize(face, size)
    speech = np.concatenate([load_audio(p) for p in sorted((SHARED / "ravdess").glob("Actor_01/*.flac"))[:20]])
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        audio = container.add_stream("aac", rate=16_000)
        audio.layout = "mono"
        frames: dict[int, av.VideoFrame] = {}  # 41 distinct shifts: each picture converted to YUV once
        for i in range(int(seconds * 30)):
            shift = int(20 * np.sin(i / 30))
            if shift not in frames:
                frames[shift] = av.VideoFrame.from_ndarray(np.roll(face, shift, axis=1), format="rgb24").reformat(
                    format="yuv420p")
            frames[shift].pts = None
            for packet in video.encode(frames[shift]):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        encode_mono_audio(container, audio, np.resize(speech, int(seconds * 16_000)))


def analyse(path: str, detector: str, fast_face: bool) -> None:
    """Child process: analyse and print elapsed seconds and peak RSS (MB)."""
    from emofuse import Analyzer, AnalyzerConfig

    start = time.perf_counter()
    result = Analyzer(AnalyzerConfig(detector=detector, fast_face=fast_face)).analyze(path)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(elapsed, peak, result.fused.label, len(result.fused.segments))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS))
    parser.add_argument("--fast-face", action="store_true", help="the distilled face network")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parse_args(parser)
    if args.child:
        analyse(args.child, args.detector, args.fast_face)
        return
    size = (160, 90) if args.smoke else (1280, 720)
    args.seconds = 3.0 if args.smoke else args.seconds
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.mp4"
        make_clip(clip, args.seconds, size)
        env = {**os.environ, "EMOFUSE_THREADS": str(args.threads)}
        child = [sys.executable, __file__, "--child", str(clip), "--detector", args.detector,
                 *(["--fast-face"] if args.fast_face else [])]
        out = subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout.split()
    elapsed, peak = float(out[0]), float(out[1])
    row = {"video_s": args.seconds, "resolution": f"{size[0]}x{size[1]}@30", "analysis_s": elapsed,
           "x_realtime": args.seconds / elapsed, "peak_rss_mb": peak, "fused_label": out[2], "windows": int(out[3]),
           "threads": args.threads, "detector": args.detector, "fast_face": args.fast_face}
    table([row])
    suffix = ("" if args.detector == DEFAULT_DETECTOR else f"_{args.detector}") + ("_fast" if args.fast_face else "")
    save(f"video_speed_{int(args.seconds)}s{suffix}", {"results": row})


if __name__ == "__main__":
    main()
