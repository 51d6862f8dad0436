"""Partial fine-tuning of the shipped Whisper encoder: its top block(s) and a head trained on cached lower states.

The lower blocks stay frozen and ran once (emofuse.train.whisper_states); each step runs only the trainable blocks
on the cached frames entering them, pools L1..L3 over time (the frozen layers' means from their cached frames),
z-scores with the frozen features' training statistics and applies an MLP head. Windows are random crops of at
most ``CROP_FRAMES`` (3 s, the inference window), batched with clips of similar length; an epoch draws as many
windows as there are clean clips from all renditions (a step of one block costs ~1.4 s for 32 windows on 2 cores).

``tune`` trains one model on some speakers (checkpointed every epoch, resumed exactly); ``tuned_pooled`` reads every
clip whole through the tuned blocks: features in the frozen recipe's layout, so emofuse.train.speech's heads,
adapted heads and benchmarks work on them unchanged; ``tuned_encoder`` puts the tuned blocks back into the encoder
for export.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emofuse.labels import SPEECH_LABELS
from emofuse.train.common import Checkpoint, Timer, log, seed_everything
from emofuse.train.whisper import Block, WhisperEncoder, load_encoder
from emofuse.train.whisper_states import TOP, States, pooled_features

CROP_FRAMES = 150
HEAD_LAYERS = (1, 2, 3)


@dataclass(frozen=True)
class TuneConfig:
    """How many of the top blocks train, for how long, at which learning rates."""

    blocks: int = 1  # 1: block 3; 2: blocks 2-3
    epochs: int = 8  # each epoch: as many windows as clean clips, drawn from all renditions
    batch: int = 32
    block_lr: float = 1e-4
    head_lr: float = 1e-3
    hidden: int = 256
    seed: int = 0


class TunedTop(nn.Module):
    """Trainable top blocks + pooled L1..L3 + fixed z-scoring + MLP head.

    ``forward(below)``: ``below`` = the cached frames [L1, ..., L{first - 1}], each (batch, T, width); the last of them
    enters the first trainable block. Returns logits (batch, 8).
    """

    def __init__(self, blocks: list[Block], mean: np.ndarray, std: np.ndarray, hidden: int):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.first = TOP - len(blocks) + 1  # the first trainable block; the cache holds the layers below it
        self.register_buffer("mean", torch.from_numpy(mean.astype(np.float32)))
        self.register_buffer("std", torch.from_numpy(std.astype(np.float32)))
        n_classes = len(SPEECH_LABELS)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(len(mean), hidden), nn.GELU(), nn.Dropout(0.3),
                                  nn.Linear(hidden, n_classes))

    def pooled(self, below: list[torch.Tensor]) -> torch.Tensor:
        """Means over time of L1..L3: the frozen layers in ``below`` (their last one enters the blocks)."""
        x, means = below[-1], [layer.mean(dim=1) for layer in below]
        for block in self.blocks:
            x = block(x)
            means.append(x.mean(dim=1))
        return torch.cat(means, dim=1)

    def normalized(self, pooled: torch.Tensor) -> torch.Tensor:
        mean: torch.Tensor = self.mean  # type: ignore[assignment]  # registered buffers
        std: torch.Tensor = self.std  # type: ignore[assignment]
        return (pooled - mean) / std

    def forward(self, below: list[torch.Tensor]) -> torch.Tensor:
        return self.head(self.normalized(self.pooled(below)))


def first_tuned(config: TuneConfig) -> int:
    """The first trainable block (1-based): the layers below it are read from the cache."""
    return TOP - config.blocks + 1


def frozen_pooled(states: States, rows: np.ndarray) -> np.ndarray:
    """(n, 3 * width): whole-clip means of L1..L3 from the frozen cache (the z-scoring statistics' source)."""
    return pooled_features(states.pooled[rows], HEAD_LAYERS)


def batches(states: States, rows: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``rows`` shuffled, then grouped with clips of similar length (sorted within chunks of 20 batches)."""
    order = rng.permutation(rows)
    out = []
    for chunk in np.array_split(order, max(1, len(order) // (size * 20))):
        chunk = chunk[np.argsort(states.lengths[chunk], kind="stable")]
        out += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    return [out[i] for i in rng.permutation(len(out))]


def crop_batch(states: States, batch: np.ndarray, layers: list[int], rng: np.random.Generator | None,
               max_frames: int | None = CROP_FRAMES) -> list[torch.Tensor]:
    """The frames of ``layers`` for ``batch``, each clip cropped (randomly with ``rng``, else from its start) to the
    batch's shortest length, at most ``max_frames``: one tensor (batch, T, width) per layer."""
    length = int(states.lengths[batch].min())
    if max_frames:
        length = min(length, max_frames)
    starts = [int(rng.integers(0, states.lengths[i] - length + 1)) if rng is not None else 0 for i in batch]
    return [torch.from_numpy(np.stack([states.clip_frames(layer, i)[s:s + length]
                                       for i, s in zip(batch, starts)]).astype(np.float32)) for layer in layers]


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Cross-entropy weights that make every emotion present count alike (absent ones 0)."""
    counts = np.bincount(labels, minlength=len(SPEECH_LABELS)).astype(np.float32)
    return torch.from_numpy(np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0))


def tune(states: States, rows: np.ndarray, config: TuneConfig, work: Path,
         encoder: WhisperEncoder | None = None) -> TunedTop:
    """Fine-tune the top ``config.blocks`` blocks and a head on ``rows`` of ``states``; checkpoint ``work`` every
    epoch (a rerun resumes it; a finished one just loads)."""
    seed_everything(config.seed)
    encoder = encoder or load_encoder("base", TOP)
    first = first_tuned(config)
    frozen = frozen_pooled(states, rows[states.copy[rows] == 0])
    model = TunedTop([copy.deepcopy(encoder.blocks[b - 1]) for b in range(first, TOP + 1)],  # type: ignore[misc]
                     frozen.mean(0), frozen.std(0) + 1e-5, config.hidden)
    optimizer = torch.optim.AdamW([{"params": model.blocks.parameters(), "lr": config.block_lr},
                                   {"params": model.head.parameters(), "lr": config.head_lr}], weight_decay=0.01)
    steps = int(np.ceil(len(rows) / config.batch)) + 1
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, [config.block_lr, config.head_lr],
                                                    total_steps=config.epochs * steps, pct_start=0.15)
    checkpoint = Checkpoint(work)
    start, history, extra = checkpoint.load(model, optimizer, scheduler)
    rng = np.random.default_rng(config.seed)
    if "rng" in extra:
        rng.bit_generator.state = extra["rng"]
    weights, layers = class_weights(states.labels[rows]), list(range(1, first))
    for epoch in range(start, config.epochs):
        model.train()
        timer, losses = Timer(), []
        epoch_rows = rng.choice(rows, size=min(len(rows), int((states.copy[rows] == 0).sum()) or len(rows)),
                                replace=False)  # as many as there are clips: each epoch sees a sample of renditions
        for batch in batches(states, epoch_rows, config.batch, rng):
            logits = model(crop_batch(states, batch, layers, rng))
            loss = F.cross_entropy(logits, torch.from_numpy(states.labels[batch].astype(np.int64)), weight=weights,
                                   label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(timer.seconds(), 1)})
        log.info("tune %s epoch %d/%d loss %.3f (%s)", work.stem, epoch + 1, config.epochs, history[-1]["loss"], timer)
        checkpoint.save(model, optimizer, scheduler, epoch, history, {"rng": rng.bit_generator.state})
    return model.eval()


@torch.no_grad()
def tuned_pooled(model: TunedTop, states: States, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole-clip features of ``rows`` through the tuned blocks: (pooled (n, 4, 2, width) in the frozen cache's layout
    with L{first}..L3 replaced by the tuned means (std slots zero), logits of the tuned model's own head (n, 8))."""
    first = model.first
    pooled = states.pooled[rows].astype(np.float32).copy()
    pooled[:, first:, 1] = 0.0
    logits = np.zeros((len(rows), len(SPEECH_LABELS)), np.float32)
    by_length: dict[int, list[int]] = {}
    for j, i in enumerate(rows):
        by_length.setdefault(int(states.lengths[i]), []).append(j)
    for js in by_length.values():
        for k in range(0, len(js), 64):
            chunk = np.array(js[k:k + 64])
            below = crop_batch(states, rows[chunk], list(range(1, first)), None, None)
            means = model.pooled(below)
            logits[chunk] = model.head(model.normalized(means)).numpy()
            width = pooled.shape[-1]
            for layer in range(first, TOP + 1):
                pooled[chunk, layer, 0] = means[:, (layer - 1) * width:layer * width].numpy()
    return pooled, logits


def tuned_encoder(model: TunedTop, name: str = "base") -> WhisperEncoder:
    """The encoder cut after block TOP with its top blocks replaced by ``model``'s."""
    encoder = load_encoder(name, TOP)
    first = model.first
    for offset, block in enumerate(model.blocks):
        encoder.blocks[first - 1 + offset].load_state_dict(block.state_dict())
    return encoder.eval()
