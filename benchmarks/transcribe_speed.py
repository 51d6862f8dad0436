"""Transcription speed on this machine: a long recording (real RAVDESS speech back to back, with its pauses) and a
folder of short clips packed into 30 s windows (``transcribe_many``), for Whisper base and tiny.en; and the cost of
``--transcribe`` on a whole analysis of a real clip against the same analysis without it.

    python benchmarks/transcribe_speed.py [--seconds 120] [--clips 60] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import SHARED, few, parse_args, save, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the long recording")
    parser.add_argument("--clips", type=int, default=60, help="short clips in the folder")
    parser.add_argument("--threads", type=int, default=2)
    args = parse_args(parser)
    if args.smoke:
        args.seconds, args.clips = 8.0, 3
    os.environ["EMOFUSE_THREADS"] = str(args.threads)
    from emofuse.audio.transcribe import PACKABLE, Transcriber, TranscriberConfig, transcribe_many
    from emofuse.media import load_audio
    from emofuse.pipeline import Analyzer, AnalyzerConfig

    paths = sorted((SHARED / "ravdess").glob("Actor_1*/*.flac"))
    clips = [load_audio(p) for p in paths[::max(1, len(paths) // args.clips)][:args.clips]]
    long = np.concatenate([load_audio(p) for p in paths[:int(args.seconds / 3) + 1]])[:int(args.seconds * 16_000)]
    rows = []
    for model, beam in few([("base", 1), ("base", 5), ("tiny.en", 1)], 1):
        transcriber = Transcriber(TranscriberConfig(model, language="en", threads=args.threads, beam_size=beam))
        transcriber.transcribe(clips[0])  # load and warm up
        for name, run, seconds in (("long recording", lambda t=transcriber: t.transcribe(long), len(long)),
                                   (f"{len(clips)} short clips, {'packed' if model in PACKABLE else 'one by one'}",
                                    lambda t=transcriber: transcribe_many(t, clips), sum(map(len, clips)))):
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            rows.append({"model": model, "beam": beam, "input": name, "audio_s": round(seconds / 16_000, 1),
                         "seconds": round(elapsed, 2), "x_realtime": round(seconds / 16_000 / elapsed, 1)})
    clip = SHARED / "ravdess_video" / "01-01-03-01-01-02-05.mp4"
    shared = Analyzer()
    for transcribe in (False, True):
        analyzer = Analyzer(AnalyzerConfig(transcribe=transcribe), speech_model=shared.speech, face_model=shared.face)
        if not args.smoke:
            analyzer.analyze(clip)  # warm up
        start = time.perf_counter()
        analyzer.analyze(clip)
        rows.append({"model": "base" if transcribe else "-", "beam": 1 if transcribe else None,
                     "input": f"analyze {clip.name}"
                     f"{' --transcribe' if transcribe else ''}", "audio_s": 3.2,
                     "seconds": round(time.perf_counter() - start, 2), "x_realtime": None})
    table(rows)
    save("transcribe_speed", {"protocol": f"faster-whisper int8, word timestamps, language given (en), "
                                          f"{args.threads} threads; long: RAVDESS actors 10-19 back to back; "
                                          "short: RAVDESS clips packed into 30 s windows without their silences",
                              "rows": rows})


if __name__ == "__main__":
    main()
