"""What every training recipe shares: seeding, logging, resumable checkpoints, ONNX export."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("emofuse.train")


def setup_logging(run_dir: Path) -> None:
    """Log to stderr and to ``run_dir/train.log``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.StreamHandler(), logging.FileHandler(run_dir / "train.log")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers, force=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def snapshot(model: torch.nn.Module) -> dict:
    """A CPU copy of a model's weights (the best-so-far state kept in checkpoints)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


class Checkpoint:
    """One resumable training run in one file: model, optimiser, scheduler, epoch, history and any extra state.

    ``extra`` holds tensors or plain data (EMA weights, the augmentation generator's state, the best epoch).
    Written atomically with ``torch.save`` (a stop mid-write keeps the previous epoch's file), read back with
    ``weights_only=True``; the global torch RNG is saved and restored too, so a resumed run continues exactly.
    """

    def __init__(self, path: Path):
        self.path = path

    def save(self, model, optimizer, scheduler, epoch: int, history: list, extra: dict | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler else None, "epoch": epoch,
                    "history": json.dumps(history), "extra": extra or {}, "rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, self.path)

    def load(self, model, optimizer, scheduler) -> tuple[int, list, dict]:
        """Restore state; returns (next epoch, history, extra); (0, [], {}) when there is no checkpoint."""
        if not self.path.exists():
            return 0, [], {}
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler and state["scheduler"]:
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        log.info("resumed %s at epoch %d", self.path, state["epoch"] + 1)
        return state["epoch"] + 1, json.loads(state["history"]), state["extra"]


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, dynamic_axes: dict) -> None:
    """Export ``model`` (returning logits) to ONNX with input ``input`` and output ``logits``."""
    model = model.cpu().eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, (example,), str(tmp), input_names=["input"], output_names=["logits"],
                      dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    os.replace(tmp, path)


class Timer:
    def __init__(self) -> None:
        self.start = time.time()

    def seconds(self) -> float:
        return time.time() - self.start

    def __str__(self) -> str:
        return f"{self.seconds():.0f}s"


def store_weights_fp16(model, min_size: int = 1024) -> None:
    """Store large float32 initializers as float16 with a Cast back to float32 (exact for fp16-born weights;
    ONNX Runtime folds the casts when it loads the model, so it computes in float32 as before)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        array = numpy_helper.to_array(init)
        if array.size < min_size:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(array.astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
