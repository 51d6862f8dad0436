"""Speech, face and fused accuracy on the paired audio-visual clips, with speaker-independent speech.

The shipped speech model was trained on RAVDESS actors 01-20, which include the actors of
shared/data/ravdess_video, so its speech numbers there are not speaker-independent. Given the run folder of
`emofuse train speech` (its folds.json lists each cross-validation fold's ONNX models), every RAVDESS clip's
speech is scored by the fold model that never saw its actor. CREMA-D's speaker is unseen by every model, so the
shipped model scores it. Prints, per clip set, speech, face, both fusion rules (with and without the speech
SNR domain match) and leave-one-clip-out learned fusion; writes benchmarks/results/fusion_paired.json.

    python benchmarks/fusion_paired.py --speech-run runs/speech
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from _common import SHARED, few, fold_classifiers, parse_args, save, table

from emofuse.datasets import parse_ravdess_name
from emofuse.evaluate import fusion_index, list_labelled_videos
from emofuse.face.classifier import FaceClassifier
from emofuse.fusion import POOLS, FusionConfig, fuse_clip
from emofuse.fusion.learned import clip_features, leave_one_out
from emofuse.labels import FUSION_LABELS, to_fusion_label
from emofuse.pipeline import Analyzer
from emofuse.results import Result

SETS = {"RAVDESS video (actors 01, 05)": "ravdess_video", "CREMA-D (actor 1001)": "crema_d"}


def analyse(run: Path | None) -> tuple[list[tuple[str, Result, str]], FusionConfig]:
    """(set name, result, true label) of every paired clip, and the fusion settings used."""
    face = FaceClassifier()
    shipped = Analyzer(face_model=face)
    by_actor = fold_classifiers(run) if run else {}
    items = []
    for set_name, folder in SETS.items():
        for path, label in few(list_labelled_videos(SHARED / folder), 3):
            analyzer = shipped
            if path.suffix == ".mp4" and by_actor:
                analyzer = Analyzer(speech_model=by_actor[parse_ravdess_name(path).actor], face_model=face)
            items.append((set_name, analyzer.analyze_video(path), label))
    return items, shipped.fusion_config()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-run", type=Path, help="run folder of 'emofuse train speech' with folds.json")
    args = parse_args(parser)
    items, config = analyse(args.speech_run)
    truth = np.array([FUSION_LABELS.index(to_fusion_label(label)) for _, _, label in items])
    predictions = {
        "speech": [fusion_index(r.speech) for _, r, _ in items],
        "face": [fusion_index(r.face) for _, r, _ in items],
    }
    for rule, use_domain_match in itertools.product(POOLS, (True, False)):
        rule_config = FusionConfig(rule=rule, speech_temperature=config.speech_temperature,
                                   face_temperature=config.face_temperature, use_domain_match=use_domain_match)
        name = f"fused, {rule} rule" + ("" if use_domain_match else ", speech SNR ignored")
        name += " (default)" if rule == FusionConfig().rule and use_domain_match else ""
        predictions[name] = [
            fusion_index(fuse_clip(r.speech, r.face, r.fused.reliability, rule_config))
            for _, r, _ in items]
    x = clip_features([r for _, r, _ in items], config)
    predictions["fused, learned (leave-one-clip-out)"] = list(leave_one_out(x, truth))
    sets = [name for name in SETS] + ["all"]
    rows = []
    for method, predicted in predictions.items():
        hits = np.array(predicted) == truth
        row = {"method": method}
        for name in sets:
            mask = np.array([name in ("all", s) for s, _, _ in items])
            row[name] = f"{hits[mask].mean():.1%} ({hits[mask].sum()}/{mask.sum()})"
        rows.append(row)
    table(rows)
    speech_protocol = ("RAVDESS clips: speech by the CV fold model that held the clip's actor out (speaker-independent)"
                       if args.speech_run else "RAVDESS clips: shipped speech model (actors seen in training)")
    save("fusion_paired" if args.speech_run else "fusion_paired_seen_actors", {
        "protocol": f"7 fusion labels, one label per clip, shipped face model; {speech_protocol}; "
                    "CREMA-D: shipped speech model (unseen speaker)",
        "rows": rows,
        "clips": [{"set": s, "input": Path(r.input).name, "true": to_fusion_label(label),
                   "speech_snr_db": r.speech and r.speech.to_dict()["snr_db"],
                   "speech_domain_match": r.speech and r.speech.to_dict()["domain_match"],
                   "fused_weights": r.fused.to_dict().get("weights"),
                   **{m: FUSION_LABELS[p[i]] for m, p in predictions.items()}}
                  for i, (s, r, label) in enumerate(items)],
    })


if __name__ == "__main__":
    main()
