"""Speech accuracy under added noise, speaker-independent: each RAVDESS clip (actors 01-20) is scored by the CV
fold model that held its actor out, clean and with pink noise at fixed SNRs. Also prints the SNR that
emofuse.audio.quality measures and the resulting domain match (the speech weight factor in fusion).

    python benchmarks/speech_noise.py --speech-run runs/speech3 [--every 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import SHARED, fold_classifiers, parse_args, save, table

from emofuse.datasets import list_ravdess
from emofuse.labels import SPEECH_LABELS
from emofuse.media import load_audio
from emofuse.train.augment import add_noise

NOISE_SNRS = (None, 40, 30, 20, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-run", type=Path, help="run folder of 'emofuse train speech' (a smoke run without "
                                                        "one scores 5 clips with the shipped model)")
    parser.add_argument("--every", type=int, default=1, help="use every k-th clip (default: all 1,200)")
    args = parse_args(parser)
    if args.speech_run:
        by_actor = fold_classifiers(args.speech_run)
    elif args.smoke:
        from emofuse.audio.classifier import SpeechClassifier

        by_actor, args.every = dict.fromkeys(range(1, 21), SpeechClassifier()), 240
    else:
        parser.error("--speech-run is required")
    clips = list_ravdess(SHARED / "ravdess", actors=set(by_actor))[::args.every]
    rng = np.random.default_rng(0)
    rows = []
    for snr in NOISE_SNRS:
        hits, measured, matches = [], [], []
        for clip in clips:
            audio = load_audio(clip.path)
            audio = audio if snr is None else add_noise(audio, snr, rng, exponent=1.0).astype(np.float32)
            block = by_actor[clip.actor].analyze(audio)
            hits.append((block.label or "neutral") == clip.label)
            measured.append(block.snr_db if block.snr_db is not None else np.nan)
            matches.append(block.domain_match)
        rows.append({"added noise": "none" if snr is None else f"pink, {snr} dB SNR", "clips": len(clips),
                     "accuracy": float(np.mean(hits)), "measured SNR (median dB)": float(np.nanmedian(measured)),
                     "domain match (median)": float(np.median(matches))})
        print(rows[-1], flush=True)
    table(rows)
    save("speech_noise", {"protocol": "RAVDESS actors 01-20, 8 classes, each clip scored by the CV fold model that "
                                      f"held its actor out (speaker-independent), every {args.every} clip(s); "
                                      "pink noise added to the whole clip", "labels": list(SPEECH_LABELS),
                          "rows": rows})


if __name__ == "__main__":
    main()
