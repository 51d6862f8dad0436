"""Speech inference speed: a 60 s recording, features included, on one CPU core; model size.

    python benchmarks/speech_speed.py [--seconds 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("EMOFUSE_THREADS", "1")  # one core, as the target says; set before any session exists

import numpy as np  # noqa: E402
from _common import SHARED, save, table  # noqa: E402

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
    args = parser.parse_args()
    audio = long_recording(args.seconds)
    clf = SpeechClassifier()
    clf.analyze(audio[:16_000 * 5])  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = clf.analyze(audio)
        times.append(time.perf_counter() - start)
    card = load_card("speech")
    size_mb = sum(model_path(card, m["file"]).stat().st_size for m in card["members"]) / 1e6
    median = float(np.median(times))
    row = {"audio_s": len(audio) / 16_000, "median_s": median, "x_realtime": len(audio) / 16_000 / median,
           "windows": len(result["segments"]), "model_mb": size_mb, "threads": int(os.environ["EMOFUSE_THREADS"])}
    table([row])
    save("speech_speed", {"results": row, "repeats": args.repeats})


if __name__ == "__main__":
    main()
