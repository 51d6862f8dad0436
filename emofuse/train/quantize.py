"""Static int8 quantisation of a face member (onnxruntime ``quantize_static``), for the card tool and the int8
benchmark.

QDQ form, int8 weights per output channel in 7 bits (``reduce_range``: CPUs without VNNI saturate on 8-bit
weights, so the accuracy measured on one CPU holds on the others), uint8 activations calibrated on FER2013
Training crops outside the hold-out; the first convolution and the last layer stay in float (they cost little and
lost most of the accuracy when quantised, docs/results.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CALIBRATION_METHOD = "Percentile"
"""Chosen on the Training hold-out against MinMax (and Entropy) for both face models measured (docs/results.md)."""
CALIBRATION_CROPS = 512


def calibration_crops(images: np.ndarray, outside_holdout: np.ndarray, count: int = CALIBRATION_CROPS,
                      seed: int = 0) -> np.ndarray:
    """``count`` network inputs (N, 1, 48, 48) drawn at random from ``images`` where ``outside_holdout`` (all of
    them when fewer)."""
    from emofuse.face.crops import crops_to_input

    candidates = np.flatnonzero(outside_holdout)
    chosen = np.random.default_rng(seed).choice(candidates, min(count, len(candidates)), replace=False)
    return crops_to_input(images[chosen])


def quantize_member(source: Path, target: Path, calibration: np.ndarray, method: str = CALIBRATION_METHOD) -> Path:
    """``source`` (a face member's ONNX, float32 or float16 weights) written to ``target`` in static int8."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"input": calibration[i:i + 64]} for i in range(0, len(calibration), 64)])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as folder:
        folded = Path(folder) / "folded.onnx"  # batch norms folded, float16 weights cast back: what the quantiser reads
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        layers = [n.name for n in onnx.load(str(folded)).graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
        quantize_static(str(folded), str(target), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                        calibrate_method=getattr(CalibrationMethod, method),
                        nodes_to_exclude=[layers[0], layers[-1]])
    return target


def is_quantized(path: Path) -> bool:
    """Whether an ONNX file already holds int8 (QDQ) layers."""
    import onnx

    return any(node.op_type == "QuantizeLinear" for node in onnx.load(str(path)).graph.node)
