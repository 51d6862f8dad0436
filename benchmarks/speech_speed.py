"""Speech inference speed: a 60 s recording, features included, on 2 CPU threads (``--threads``); model size and
peak memory of the process.

    python benchmarks/speech_speed.py [--seconds 60] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
os.environ["EMOFUSE_THREADS"] = _threads  # before any onnxruntime session exists

import numpy as np  # noqa: E402
from _common import SHARED, parse_args, save, table  # noqa: E402

from emofuse.audio.classifier import SpeechClassifier  # noqa: E402
from emofuse.media import load_audio  # noqa: E402
from emofuse.models import load_card, model_path  # noqa: E402


def long_recording(seconds: float) -> np.ndarray:
    """Real RAVDESS utterances back to back (with their silences) up to ``seconds``."""
    clips = sorted((SHARED / "ravdess").glob("Actor_0*/*.flac"))
    audio, parts = 0, []
    for clip in clips:
        parts.append(load_audio(clip))
        audio += len(parts[-1])
        if audio >= seconds * 16_000:
            break
    return np.concatenate(parts)[: int(seconds * 16_000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default: %(default)s)")
    args = parse_args(parser)
    if args.smoke:
        args.seconds, args.repeats = 6.0, 1
    audio = long_recording(args.seconds)
    clf = SpeechClassifier()
    clf.analyze(audio[:16_000 * 5])  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = clf.analyze(audio)
        times.append(time.perf_counter() - start)
    card = load_card("speech")
    size_mb = sum(model_path(card, card[part]["file"]).stat().st_size for part in ("encoder", "head")) / 1e6
    median = float(np.median(times))
    row = {"audio_s": len(audio) / 16_000, "median_s": median, "x_realtime": len(audio) / 16_000 / median,
           "windows": len(result.segments), "model_mb": size_mb, "threads": int(os.environ["EMOFUSE_THREADS"]),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    table([row])
    save("speech_speed", {"results": row, "repeats": args.repeats})


if __name__ == "__main__":
    main()
