"""Convert Resemblyzer's pretrained speaker encoder (Apache-2.0) to the ONNX file emofuse ships.

The weights are ``resemblyzer/pretrained.pt`` inside the ``Resemblyzer==0.1.4`` wheel on PyPI (a GE2E-trained
3-layer LSTM, 256 units, over 40-band mel power frames of 16 kHz audio, 25 ms windows every 10 ms). The wheel
is fetched without its dependencies and only that file is read, with ``torch.load(weights_only=True)``.
The network is rebuilt here in torch and exported: input (batch, frames, 40) mel power, output (batch, 256)
L2-normalised embeddings.

    python -m emofuse.train.voice_encoder --out emofuse/models/voice_encoder.onnx
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

WHEEL = "Resemblyzer==0.1.4"
MEMBER = "resemblyzer/pretrained.pt"


class VoiceEncoder(nn.Module):
    """Resemblyzer's network: the last LSTM layer's final state -> linear -> ReLU -> unit length."""

    def __init__(self, mels: int = 40, hidden: int = 256, layers: int = 3, embedding: int = 256):
        super().__init__()
        self.lstm = nn.LSTM(mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(frames)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)


def load_weights(wheel: Path | None, folder: Path) -> dict[str, torch.Tensor]:
    """The network's weights out of ``wheel`` (fetched with pip when not given)."""
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--only-binary=:all:",
                        "-d", str(folder)], check=True)
        wheel = next(folder.glob("[Rr]esemblyzer-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        state = torch.load(io.BytesIO(archive.read(MEMBER)), map_location="cpu", weights_only=True)
    return {k: v for k, v in state["model_state"].items() if k.startswith(("lstm.", "linear."))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the ONNX model")
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} wheel (default: fetch it with pip)")
    args = parser.parse_args(argv)
    model = VoiceEncoder()
    with tempfile.TemporaryDirectory() as tmp:
        model.load_state_dict(load_weights(args.wheel, Path(tmp)))
    model.eval()
    example = torch.from_numpy(np.random.default_rng(0).random((2, 160, 40), dtype=np.float32))
    torch.onnx.export(model, (example,), str(args.out), input_names=["frames"], output_names=["embedding"],
                      dynamic_axes={"frames": {0: "batch", 1: "time"}, "embedding": {0: "batch"}},
                      opset_version=17, dynamo=False)
    import onnxruntime as ort

    session = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(example).numpy()
    difference = float(np.abs(session.run(None, {"frames": example.numpy()})[0] - expected).max())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB); largest difference from torch {difference:.1e}")


if __name__ == "__main__":
    main()
