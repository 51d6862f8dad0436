"""Face recipe: train the expression CNN on FER2013 ``Training``, select on ``PublicTest``, export ONNX.

Run with ``emofuse train face --data fer2013.csv.xz [--ferplus fer2013new.csv] --out runs/face``.
Each epoch is checkpointed; an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emofuse.datasets.fer2013 import load_fer2013
from emofuse.face.crops import crops_to_input
from emofuse.labels import FACE_LABELS
from emofuse.metrics import classification_report
from emofuse.results import write_json
from emofuse.train.args import add_face_arguments
from emofuse.train.common import (
    Checkpoint,
    Timer,
    export_onnx,
    log,
    pick_device,
    seed_everything,
    setup_logging,
    snapshot,
)
from emofuse.train.nets import FaceCNN

PROTOCOL = "FER2013 PublicTest (3,589 images), 7 classes; trained on Training (28,709), model chosen on PublicTest"


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flip, rotation (+-15 deg), scale (0.9-1.1), shift (+-8%), contrast/brightness and erasing."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * np.pi / 12
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.1
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * 0.08
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.3
    bright = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.1
    x = (x * contrast + bright).clamp(-0.5, 0.5)
    erase = torch.rand(n, generator=gen) < 0.25
    for i in torch.nonzero(erase).flatten().tolist():
        h, w = torch.randint(8, 20, (2,), generator=gen).tolist()
        y0 = int(torch.randint(0, 48 - h, (1,), generator=gen))
        x0 = int(torch.randint(0, 48 - w, (1,), generator=gen))
        x[i, :, y0:y0 + h, x0:x0 + w] = 0
    return x


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, device: torch.device, flip_tta: bool = True) -> np.ndarray:
    """Probabilities (N, 7); with ``flip_tta`` averaged with the mirrored image."""
    model.eval()
    out = []
    for start in range(0, len(images), 512):
        x = torch.from_numpy(crops_to_input(images[start:start + 512])).to(device)
        probs = torch.softmax(model(x), dim=1)
        if flip_tta:
            probs = (probs + torch.softmax(model(x.flip(-1)), dim=1)) / 2
        out.append(probs.cpu().numpy())
    return np.concatenate(out)


def targets(labels: np.ndarray, soft: np.ndarray | None, ferplus_weight: float) -> np.ndarray:
    """Training targets: the FER2013 label, blended with FER+ vote shares where the row has votes."""
    onehot = np.eye(len(FACE_LABELS), dtype=np.float32)[labels]
    if soft is None or ferplus_weight == 0:
        return onehot
    has_votes = soft.sum(axis=1, keepdims=True) > 0
    return np.where(has_votes, (1 - ferplus_weight) * onehot + ferplus_weight * soft, onehot).astype(np.float32)


def run(args: argparse.Namespace) -> dict:
    out = Path(args.out)
    setup_logging(out)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = pick_device(args.device)
    faces = load_fer2013(args.data, ferplus=args.ferplus)
    train, test = faces.subset(faces.usage == "Training"), faces.subset(faces.usage == "PublicTest")
    log.info("FER2013: %d Training, %d PublicTest", len(train), len(test))
    y_train = torch.from_numpy(targets(train.labels, train.soft_labels, args.ferplus_weight))
    x_train = torch.from_numpy(crops_to_input(train.images))
    model = FaceCNN(n_classes=len(FACE_LABELS)).to(device)
    if args.init:  # continue from another run's best weights (a fresh schedule: fine-tuning)
        state = torch.load(Path(args.init) / "face.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["best"]["state"])
        log.info("initialised from %s (its best epoch %d)", args.init, state["best"]["epoch"])
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = int(np.ceil(len(train) / args.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.epochs * steps,
                                                    pct_start=0.15)
    ckpt = Checkpoint(out / "face.pt")
    start, history, best, extra = ckpt.load(model, optimizer, scheduler)
    gen = torch.Generator().manual_seed(args.seed + start)
    for epoch in range(start, args.epochs):
        model.train()
        timer, losses = Timer(), []
        order = torch.randperm(len(train), generator=gen)
        for b in range(steps):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            x = augment(x_train[idx], gen).to(device)
            y = y_train[idx].to(device)
            loss = -(y * F.log_softmax(model(x), dim=1)).sum(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if b % 50 == 0:
                log.info("epoch %d step %d/%d loss %.3f", epoch, b, steps, np.mean(losses[-50:]))
        probs = predict(model, test.images, device)
        rep = classification_report(test.labels, probs.argmax(1), FACE_LABELS, PROTOCOL)
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"]}
        history.append(row)
        if best is None or rep["accuracy"] > best["score"]:
            best = {"score": rep["accuracy"], "epoch": epoch,
                    "state": snapshot(model)}
        log.info("epoch %d loss %.3f PublicTest acc %.4f macro-F1 %.3f (%s)", epoch, row["loss"],
                 rep["accuracy"], rep["macro_f1"], timer)
        ckpt.save(model, optimizer, scheduler, epoch, history, best, extra)
    assert best is not None, "at least one epoch ran"
    model.load_state_dict(best["state"])
    probs_plain = predict(model, test.images, device, flip_tta=False)
    probs_tta = predict(model, test.images, device, flip_tta=True)
    reports = {name: classification_report(test.labels, p.argmax(1), FACE_LABELS, PROTOCOL)
               for name, p in (("plain", probs_plain), ("flip_tta", probs_tta))}
    export_onnx(model, x_train[:2], out / "face_cnn.onnx", {"input": {0: "batch"}, "logits": {0: "batch"}})
    result = {"protocol": PROTOCOL, "best_epoch": best["epoch"], "history": history, "reports": reports,
              "seed": args.seed, "ferplus_weight": args.ferplus_weight, "epochs": args.epochs, "lr": args.lr,
              "init": str(args.init) if args.init else None}
    write_json(result, out / "summary.json")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_face_arguments(parser)
    run(parser.parse_args())
