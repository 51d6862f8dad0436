"""Face detector comparison, on real video frames and on FER2013 stills.

Video: every clip in shared/data/ravdess_video and crema_d has exactly one face, so a frame is right when exactly
one face is found; median time per frame as decoded, and per frame scaled up to 1280x720.
Stills: FER2013 PublicTest crops, each scaled x2 into a 256-pixel frame with its border repeated: the share in
which exactly one face is found, and the shipped face model's accuracy on the crop each detector's box and
landmarks cut (a miss counts as wrong), beside its accuracy on the dataset's own crops.

    python benchmarks/face_detection.py [--fps 2] [--max-side 640 320] [--stills 3589]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("EMOFUSE_THREADS", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from _common import SHARED, few, parse_args, save, table  # noqa: E402

from emofuse.datasets.fer2013 import FaceSet, load_fer2013  # noqa: E402
from emofuse.face.align import face_crops  # noqa: E402
from emofuse.face.classifier import FaceClassifier  # noqa: E402
from emofuse.face.detect import DETECTORS  # noqa: E402
from emofuse.labels import FACE_LABELS  # noqa: E402
from emofuse.media import iter_video_frames  # noqa: E402

SCALES_WITH_SIZE = {"mtcnn", "haar"}  # BlazeFace always looks at the whole frame at 128x128


def still_frames(count: int, video_frames: list[np.ndarray], smoke: bool
                 ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """PublicTest crops as 256-pixel RGB frames, the crops themselves and their labels. A smoke run does not read
    FER2013 (half a minute): it takes grey 48x48 thumbnails of the video frames, labelled neutral."""
    if smoke:
        images = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (48, 48)) for f in video_frames[:count]])
        faces = FaceSet(images, np.full(len(images), FACE_LABELS.index("neutral")), np.array(["PublicTest"] * count))
    else:
        faces = load_fer2013(SHARED / "fer2013" / "fer2013.csv.xz", usage="PublicTest")
    frames = []
    for crop in faces.images[:count]:
        big = cv2.copyMakeBorder(cv2.resize(crop, (96, 96), interpolation=cv2.INTER_CUBIC), 80, 80, 80, 80,
                                 cv2.BORDER_REPLICATE)
        frames.append(np.repeat(big[:, :, None], 3, axis=2))
    return frames, faces.images[:count], faces.labels[:count]


def time_per_frame(detector, frames: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Faces found per frame and the median milliseconds."""
    counts, times = [], []
    for frame in frames:
        start = time.perf_counter()
        counts.append(len(detector(frame)))
        times.append(time.perf_counter() - start)
    return np.array(counts), float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--max-side", type=int, nargs="+", default=[640, 320])
    parser.add_argument("--stills", type=int, default=3589, help="FER2013 PublicTest images to use")
    args = parse_args(parser)
    clips = few(sorted((SHARED / "ravdess_video").glob("*.mp4"))) + few(sorted((SHARED / "crema_d").glob("*.flv")))
    frames = few([frame for clip in clips for _, frame in iter_video_frames(clip, fps=args.fps)], 4)
    frames_720p = [cv2.resize(f, (1280, 720)) for f in frames[:40]]
    stills, crops, labels = still_frames(len(few(range(args.stills), 4)), frames, args.smoke)
    classifier = FaceClassifier()
    dataset_crop_accuracy = float(np.mean(classifier.classify_batch(crops).argmax(1) == labels))
    rows = []
    for name, detector_class in DETECTORS.items():
        for side in args.max_side if name in SCALES_WITH_SIZE else args.max_side[:1]:
            detector = detector_class(min_face_size=40, max_side=side)
            counts, ms = time_per_frame(detector, frames)
            _, ms_720p = time_per_frame(detector, frames_720p)
            found = [detector(frame) for frame in stills]
            right = [bool(faces) and classifier.classify_batch(face_crops(frame, faces[:1]))[0].argmax() == label
                     for frame, faces, label in zip(stills, found, labels)]
            rows.append({"detector": name, "max_side": side if name in SCALES_WITH_SIZE else "-",
                         "frames": len(frames), "exactly_one": float(np.mean(counts == 1)),
                         "missed": float(np.mean(counts == 0)), "extra": float(np.mean(counts > 1)),
                         "median_ms": ms, "median_ms_720p": ms_720p,
                         "stills_exactly_one": float(np.mean([len(f) == 1 for f in found])),
                         "stills_accuracy": float(np.mean(right))})
    table(rows)
    save("face_detection", {
        "clips": len(clips), "fps": args.fps, "stills": len(stills),
        "stills_accuracy_on_dataset_crops": dataset_crop_accuracy, "results": rows,
        "protocol": "frames of 15 RAVDESS (640x360) + 9 CREMA-D (480x360) clips, one face each; the first 40 also "
                    "scaled to 1280x720 for timing; FER2013 PublicTest crops x2 in a 256-px frame (border repeated), "
                    "shipped face model on each detector's aligned crop of the largest face (a miss is wrong)"})


if __name__ == "__main__":
    main()
