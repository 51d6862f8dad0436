"""A face model in static int8: accuracy kept or lost, and crops/s, on this machine's CPU.

Each float member of the card (the shipped one by default) is quantised as the card tool does
(``emofuse.train.quantize``: QDQ, int8 weights per channel in 7 bits, uint8 activations, its first convolution and
last layer kept in float), calibrated on FER2013 Training crops outside the 10% hold-out, once per calibration
method. Accuracy on the hold-out (where a choice would be made) and on PublicTest (scored for the record), and
crops/s of the float and int8 models (10 batches of 256 each, alternated twice). Members already in int8 (the card
tool's ``--int8``) are read as they are: their card holds the float16 comparison.

7-bit weights (``reduce_range``) are what CPUs without VNNI need (their u8 x s8 instruction saturates on 8-bit
weights); with them, the numbers measured on a VNNI CPU hold on the others.

    python benchmarks/face_int8.py [--card CARD.json] [--methods MinMax,Percentile,Entropy] [--calibration 512]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import SHARED, crops_per_second, parse_args, save, table

from emofuse.datasets import load_fer2013
from emofuse.datasets.fer2013 import FaceSet, stratified_holdout
from emofuse.face.classifier import FaceClassifier
from emofuse.labels import FACE_LABELS
from emofuse.metrics import classification_report
from emofuse.models import card_from_file, load_card, model_path
from emofuse.train.quantize import calibration_crops, is_quantized, quantize_member


def scores(card: dict, holdout: FaceSet, test: FaceSet) -> dict:
    """Hold-out accuracy and PublicTest's figures that the face issues track."""
    clf = FaceClassifier(card)
    held = float((clf.classify_batch(holdout.images).argmax(1) == holdout.labels).mean())
    report = classification_report(test.labels, clf.classify_batch(test.images).argmax(1), FACE_LABELS, "PublicTest")
    per_class = report["per_class"]
    return {"holdout": held, "publictest": report["accuracy"], "macro_f1": report["macro_f1"],
            "fear_recall": per_class["fearful"]["recall"], "sad_recall": per_class["sad"]["recall"],
            "neutral_precision": per_class["neutral"]["precision"]}


def int8_card(card: dict, folder: Path, calibration: np.ndarray, method: str) -> dict:
    """``card`` with each float member quantised into ``folder`` (members already in int8 read in place)."""
    members = []
    for member in card["members"]:
        source = model_path(card, member["file"])
        target = source if is_quantized(source) else quantize_member(
            source, folder / f"int8_{method}_{source.name}", calibration, method)
        members.append({**member, "file": str(target)})
    return {**card, "members": members, "dir": str(folder)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "fer2013" / "fer2013.csv.xz")
    parser.add_argument("--card", help="a face card (JSON) to quantise instead of the shipped one")
    parser.add_argument("--methods", default="MinMax,Percentile,Entropy",
                        help="onnxruntime calibration methods")
    parser.add_argument("--calibration", type=int, default=512, help="Training crops to calibrate on")
    args = parse_args(parser)
    faces = load_fer2013(args.data)
    training = faces.subset(faces.usage == "Training")
    hold = stratified_holdout(training.labels, 0.1)
    holdout, test = training.subset(hold), faces.subset(faces.usage == "PublicTest")
    methods, count, rounds = args.methods.split(","), args.calibration, 10
    if args.smoke:
        holdout, test = holdout.subset(np.arange(len(holdout)) < 128), test.subset(np.arange(len(test)) < 128)
        methods, count, rounds = methods[:1], 64, 1
    calibration = calibration_crops(training.images, ~hold, count)
    card = card_from_file(args.card) if args.card else load_card("face")
    float_members = [m["file"] for m in card["members"] if not is_quantized(model_path(card, m["file"]))]
    rows = [{"model": f"as given ({len(float_members)} of {len(card['members'])} members float)",
             **scores(card, holdout, test)}]
    with tempfile.TemporaryDirectory() as folder:
        cards = {method: int8_card(card, Path(folder), calibration, method) for method in methods if float_members}
        rows += [{"model": f"int8, {method} calibration", **scores(quantised, holdout, test)}
                 for method, quantised in cards.items()]
        table(rows)
        variants = [("as given", card), *((f"int8 ({method})", quantised) for method, quantised in cards.items())][:2]
        speed = [{"model": name, "crops_per_s": crops_per_second(FaceClassifier(variant), rounds=rounds)}
                 for _ in range(2) for name, variant in variants]
    table(speed)
    save("face_int8", {"card": args.card or "shipped", "calibration_crops": count, "results": rows, "speed": speed,
                       "note": "QDQ, per-channel 7-bit int8 weights, uint8 activations, first conv and last layer "
                               "float; batches of 256 on the default threads"})


if __name__ == "__main__":
    main()
