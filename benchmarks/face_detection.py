"""Face detector comparison on real video frames: every clip in shared/data/ravdess_video and crema_d has
exactly one face, so a frame is right when exactly one face is found. Also the median time per frame.

    python benchmarks/face_detection.py [--fps 2] [--max-side 640]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("EMOFUSE_THREADS", "2")

import numpy as np  # noqa: E402
from _common import SHARED, few, parse_args, save, table  # noqa: E402

from emofuse.face.detect import DETECTORS  # noqa: E402
from emofuse.media import iter_video_frames  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--max-side", type=int, nargs="+", default=[640, 320])
    args = parse_args(parser)
    clips = few(sorted((SHARED / "ravdess_video").glob("*.mp4"))) + few(sorted((SHARED / "crema_d").glob("*.flv")))
    frames = [frame for clip in clips for _, frame in iter_video_frames(clip, fps=args.fps)]
    frames = few(frames, 4)
    rows = []
    for name, detector_class in DETECTORS.items():
        for side in args.max_side:
            detector = detector_class(min_face_size=40, max_side=side)
            counts, times = [], []
            for frame in frames:
                start = time.perf_counter()
                counts.append(len(detector(frame)))
                times.append(time.perf_counter() - start)
            counts = np.array(counts)
            rows.append({"detector": name, "max_side": side, "frames": len(frames),
                         "exactly_one": float(np.mean(counts == 1)), "missed": float(np.mean(counts == 0)),
                         "extra": float(np.mean(counts > 1)), "median_ms": float(np.median(times) * 1000)})
    table(rows)
    save("face_detection", {"clips": len(clips), "fps": args.fps, "results": rows,
                            "protocol": "frames of 15 RAVDESS (640x360) + 9 CREMA-D (480x360) clips, one face each"})


if __name__ == "__main__":
    main()
