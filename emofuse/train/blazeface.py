"""Convert MediaPipe's BlazeFace short-range face detector (TFLite, Apache-2.0) to the ONNX file emofuse ships.

The weights come from the ``mediapipe==0.10.14`` wheel (``mediapipe/modules/face_detection/
face_detection_short_range.tflite``); the wheel is fetched without its dependencies (they include GUI OpenCV)
and only that file is read from it. ``tflite2onnx`` converts it (float16 weights become float32; the input
becomes NCHW). With ``ai-edge-litert`` installed the result is checked against the TFLite interpreter.

    pip install tflite2onnx          # and optionally ai-edge-litert for the check
    python -m emofuse.train.blazeface --out emofuse/models/blazeface_short_range.onnx
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "mediapipe==0.10.14"
MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"


def fetch_tflite(folder: Path, wheel: Path | None = None) -> Path:
    """The short-range model file, read out of ``wheel`` (fetched with pip when not given) into ``folder``."""
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--only-binary=:all:",
                        "-d", str(folder)], check=True)
        wheel = next(folder.glob("mediapipe-*.whl"))
    target = folder / Path(MEMBER).name
    with zipfile.ZipFile(wheel) as archive:
        target.write_bytes(archive.read(MEMBER))
    return target


def largest_difference(tflite_path: Path, onnx_path: Path, seed: int = 0) -> float:
    """Largest absolute output difference between the TFLite interpreter and onnxruntime on a random input."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(seed).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    interpreter = Interpreter(str(tflite_path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    expected = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: x.transpose(0, 3, 1, 2)})
    return max(float(np.abs(v - expected[o.name]).max()) for o, v in zip(session.get_outputs(), outputs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the ONNX model")
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} wheel (default: fetch it with pip)")
    args = parser.parse_args(argv)
    import tflite2onnx

    with tempfile.TemporaryDirectory() as tmp:
        tflite_path = fetch_tflite(Path(tmp), args.wheel)
        tflite2onnx.convert(str(tflite_path), str(args.out))
        try:
            print(f"largest difference from the TFLite interpreter: {largest_difference(tflite_path, args.out):.2e}")
        except ImportError:
            print("ai-edge-litert is not installed: the converted model was not checked against TFLite")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
