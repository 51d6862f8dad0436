"""Face speed on CPU: batched crop classification (crops/s) of each face model variant, and detection +
classification of a 640x480 frame with one face (median ms), for each detector and with tracking (detect every
2nd frame).

    python benchmarks/face_speed.py [--threads 2] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import _common
from _common import SHARED, crops_per_second, parse_args, save, table

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--frames", type=int, default=60)
ARGS = parse_args(parser)
os.environ["EMOFUSE_THREADS"] = str(ARGS.threads)  # before onnxruntime starts

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from emofuse.errors import EmofuseError  # noqa: E402
from emofuse.face.classifier import FaceClassifier  # noqa: E402
from emofuse.face.detect import DETECTORS  # noqa: E402
from emofuse.live import LiveSession  # noqa: E402
from emofuse.media import iter_video_frames  # noqa: E402
from emofuse.models import load_card  # noqa: E402
from emofuse.pipeline import Analyzer, AnalyzerConfig  # noqa: E402


def test_frame() -> np.ndarray:
    clip = SHARED / "ravdess_video" / "01-01-03-01-01-02-05.mp4"
    frame = next(f for t, f in iter_video_frames(clip, fps=2) if t > 1.0)
    canvas = np.full((480, 640, 3), 255, np.uint8)
    canvas[60:420] = frame
    return canvas


def classifiers() -> dict[str, FaceClassifier]:
    """The shipped face model (as shipped, and every member with test-time flipping), one of its members, and the fast
    network."""
    shipped = load_card("face")
    variants = {"shipped": FaceClassifier(), "shipped, flip TTA on every member": FaceClassifier(flip_tta=True),
                "shipped, first member alone": FaceClassifier({**shipped, "members": shipped["members"][:1]})}
    with contextlib.suppress(EmofuseError):  # while no fast network is shipped
        variants["fast (face_fast)"] = FaceClassifier(load_card("face_fast"))
    return variants


def frame_ms(step, frame: np.ndarray, n: int) -> float:
    step(frame)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        step(frame)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def main() -> None:
    frame = test_frame()
    frames, rounds, batch = (2, 1, 16) if _common.SMOKE else (ARGS.frames, 5, 256)
    rows = []
    for name, clf in classifiers().items():
        rows.append({"what": f"classify 48x48 crops, batch {batch}: {name}",
                     "value": crops_per_second(clf, batch, rounds), "unit": "crops/s"})
    for detector in DETECTORS:
        clf = FaceClassifier(detector=detector)
        found = len(clf.detect(frame))
        ms = frame_ms(lambda f, c=clf: c.classify_faces(f, c.detect(f)), frame, frames)
        rows.append({"what": f"640x480 frame, {detector} detect + classify ({found} face)", "value": ms, "unit": "ms"})
        live = LiveSession(Analyzer(AnalyzerConfig(detector=detector)), detect_every=2, max_side=640)
        ms = frame_ms(lambda f, lv=live: lv.add_frame(f), frame, frames)
        rows.append({"what": f"640x480 frame, live view ({detector}, detect every 2nd, draw)", "value": ms,
                     "unit": "ms"})
    table(rows)
    save("face_speed", {"threads": ARGS.threads, "results": rows, "opencv_threads": cv2.getNumThreads()})


if __name__ == "__main__":
    main()
