"""The shipped face ensemble in static int8: accuracy kept or lost, and crops/s, on this machine's CPU.

Each member is quantised with onnxruntime's ``quantize_static`` (QDQ, int8 weights per channel in 7 bits, uint8
activations, its first convolution and last layer kept in float), calibrated on FER2013 Training crops outside the
10% hold-out, once per calibration method. Accuracy on the hold-out (where a choice would be made) and on
PublicTest (scored for the record), and crops/s of the float and int8 ensembles (10 batches of 256 each,
alternated twice).

7-bit weights (``reduce_range``) are what CPUs without VNNI need (their u8 x s8 instruction saturates on 8-bit
weights); with them, the numbers measured on a VNNI CPU hold on the others.

    python benchmarks/face_int8.py [--methods MinMax,Percentile,Entropy] [--calibration 512]
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
from emofuse.face.crops import crops_to_input
from emofuse.labels import FACE_LABELS
from emofuse.metrics import classification_report
from emofuse.models import load_card, model_path


def quantised_member(source: Path, folder: Path, calibration: np.ndarray, method: str) -> Path:
    """``source`` (an ONNX member) in static int8, written to ``folder``."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    folded = folder / f"float_{source.name}"  # float16 weights cast back once, so the quantiser sees float32
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    layers = [n.name for n in onnx.load(str(folded)).graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"input": calibration[i:i + 64]} for i in range(0, len(calibration), 64)])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    target = folder / f"int8_{method}_{source.name}"
    quantize_static(str(folded), str(target), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                    calibrate_method=getattr(CalibrationMethod, method),
                    nodes_to_exclude=[layers[0], layers[-1]])
    return target


def scores(card: dict, holdout: FaceSet, test: FaceSet) -> dict:
    """Hold-out accuracy and PublicTest's figures that the face issues track."""
    clf = FaceClassifier(card)
    held = float((clf.classify_batch(holdout.images).argmax(1) == holdout.labels).mean())
    report = classification_report(test.labels, clf.classify_batch(test.images).argmax(1), FACE_LABELS, "PublicTest")
    per_class = report["per_class"]
    return {"holdout": held, "publictest": report["accuracy"], "macro_f1": report["macro_f1"],
            "fear_recall": per_class["fearful"]["recall"], "sad_recall": per_class["sad"]["recall"],
            "neutral_precision": per_class["neutral"]["precision"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "fer2013" / "fer2013.csv.xz")
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
    chosen = np.random.default_rng(0).choice(np.flatnonzero(~hold), count, replace=False)
    calibration = crops_to_input(training.images[chosen])
    shipped = load_card("face")
    rows = [{"model": "float (shipped)", **scores(shipped, holdout, test)}]
    with tempfile.TemporaryDirectory() as folder:
        cards = {}
        for method in methods:
            members = [{**m, "file": quantised_member(model_path(shipped, m["file"]), Path(folder), calibration,
                                                      method).name} for m in shipped["members"]]
            cards[method] = {**shipped, "members": members, "dir": folder}
            rows.append({"model": f"int8, {method} calibration", **scores(cards[method], holdout, test)})
        table(rows)
        int8 = cards[methods[0]]
        speed = [{"model": name, "crops_per_s": crops_per_second(FaceClassifier(card), rounds=rounds)}
                 for _ in range(2) for name, card in (("float", shipped), (f"int8 ({methods[0]})", int8))]
    table(speed)
    save("face_int8", {"calibration_crops": count, "results": rows, "speed": speed,
                       "note": "QDQ, per-channel 7-bit int8 weights, uint8 activations, first conv and last layer "
                               "float; batches of 256 on the default threads"})


if __name__ == "__main__":
    main()
