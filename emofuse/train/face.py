"""Face recipe: train the expression CNN on FER2013 ``Training``, select on a hold-out of it, export ONNX.

Run with ``emofuse train face --data fer2013.csv.xz [--ferplus fer2013new.csv] [--work DIR] [--resume]``.
A fixed, stratified 10% of ``Training`` is held out for choosing the epoch (raw or EMA weights); ``PublicTest``
is scored once, at the end, with the same test-time rule (``--tta``) that chose the epoch and that ships.
Every epoch is checkpointed under ``--work`` (outside the repository by default: ``~/.cache/emofuse/train/face``)
with the model, optimiser, schedule, EMA weights and random state; ``--resume`` continues exactly there.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emofuse.datasets.fer2013 import FaceSet, load_fer2013, stratified_holdout
from emofuse.errors import EmofuseError
from emofuse.face.crops import CROP_SIZE, crops_to_input
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
from emofuse.train.nets import FaceCNN, Lite0Face, lite0_imagenet

PROTOCOL = ("FER2013 PublicTest (3,589 images), 7 classes, scored once after training; trained on 90% of Training, "
            "epoch and weights chosen on a fixed stratified 10% hold-out of Training")
HOLDOUT_PROTOCOL = "FER2013 Training hold-out (fixed stratified 10%, never trained on), 7 classes"


def erase_masks(n: int, gen: torch.Generator, p: float = 0.25, size: int = CROP_SIZE) -> torch.Tensor:
    """Random-erasing masks (N, 1, size, size): a rectangle of 8-19 px sides in a ``p`` share of the images."""
    h, w = torch.randint(8, 20, (2, n), generator=gen)
    y0 = (torch.rand(n, generator=gen) * (size - h)).long()
    x0 = (torch.rand(n, generator=gen) * (size - w)).long()
    on = torch.rand(n, generator=gen) < p
    pos = torch.arange(size)
    rows = (pos[None] >= y0[:, None]) & (pos[None] < (y0 + h)[:, None])
    cols = (pos[None] >= x0[:, None]) & (pos[None] < (x0 + w)[:, None])
    return (rows[:, :, None] & cols[:, None, :] & on[:, None, None])[:, None]


def augment(x: torch.Tensor, gen: torch.Generator, shift_px: float = 4.0) -> torch.Tensor:
    """Random flip, rotation (+-15 deg), scale (0.9-1.1), shift (+-``shift_px``), contrast/brightness, erasing."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * np.pi / 12
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.1
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * shift_px / CROP_SIZE)  # grid units: 2 = full width
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.3
    bright = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.1
    x = (x * contrast + bright).clamp(-0.5, 0.5)
    return x.masked_fill(erase_masks(n, gen), 0.0)


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, device: torch.device, flip_tta: bool = False) -> np.ndarray:
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


def targets(labels: np.ndarray, soft: np.ndarray | None, ferplus_weight: float,
            label_smoothing: float = 0.0) -> np.ndarray:
    """Training targets: the FER2013 label, blended with FER+ vote shares where the row has votes, then smoothed."""
    n_classes = len(FACE_LABELS)
    target = np.eye(n_classes, dtype=np.float32)[labels]
    if soft is not None and ferplus_weight > 0:
        has_votes = soft.sum(axis=1, keepdims=True) > 0
        target = np.where(has_votes, (1 - ferplus_weight) * target + ferplus_weight * soft, target)
    return ((1 - label_smoothing) * target + label_smoothing / n_classes).astype(np.float32)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy (N,) of ``logits`` against target distributions (N, classes), in float32."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1)


def vote_loss(logits: torch.Tensor, votes: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the auxiliary output against FER+ vote shares, over the rows that have votes."""
    has_votes = votes.sum(dim=1) > 0
    return soft_cross_entropy(logits, votes)[has_votes].sum() / has_votes.sum().clamp(min=1)


def batch_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, votes: torch.Tensor | None,
               aux_weight: float, bf16: bool) -> torch.Tensor:
    """Cross-entropy against the soft targets ``y``, plus ``aux_weight`` x the auxiliary output's vote loss;
    the network runs in bfloat16 with ``bf16``, the losses in float32."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        if votes is None:
            logits = model(x)
        else:
            assert isinstance(model, FaceCNN)
            logits, aux = model.forward_both(x)
    loss = soft_cross_entropy(logits, y).mean()
    return loss if votes is None else loss + aux_weight * vote_loss(aux, votes)


def prior_correction(labels: np.ndarray, soft: np.ndarray | None, ferplus_weight: float) -> np.ndarray:
    """Class weights (7,) that undo the prior shift the FER+ blend teaches: the FER2013 label prior over the mean
    blended target (``FaceClassifier`` multiplies a member's probabilities by them, as its card says).

    The blend moves training mass to neutral (FER+ raters call many sad and fearful FER2013 faces neutral); a
    network learns that prior, and reads neutral more often than the labels it is scored on. Label smoothing is
    left out: it rescales confidence without moving the ranking of classes.
    """
    wanted = np.bincount(labels, minlength=len(FACE_LABELS)) / len(labels)
    trained = targets(labels, soft, ferplus_weight).mean(axis=0)
    return (wanted / trained).astype(np.float32)


def teacher_probabilities(card: str, images: np.ndarray, temperature: float) -> np.ndarray:
    """A face model's probabilities (N, 7) for ``images``, softened by ``temperature``: the distillation targets.

    ``card``: "shipped" or the path of a face model card (JSON) whose model files lie beside it.
    """
    from emofuse.face.classifier import FaceClassifier
    from emofuse.models import card_from_file, load_card

    loaded = load_card("face") if card == "shipped" else card_from_file(card)
    classifier = FaceClassifier(loaded, flip_tta=False)
    probs = classifier.classify_batch(images, batch_size=512)
    soft = np.power(np.clip(probs, 1e-8, 1.0), 1.0 / temperature)
    return (soft / soft.sum(axis=1, keepdims=True)).astype(np.float32)


class EMA:
    """Exponential moving average of a model's weights and buffers (what ``--ema`` evaluates and may ship)."""

    def __init__(self, model: torch.nn.Module, decay: float, state: dict | None = None):
        self.decay = decay
        self.state = state if state is not None else snapshot(model)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))  # short memory while the run is young
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.state[name].mul_(decay).add_(value.detach(), alpha=1 - decay)
            else:
                self.state[name].copy_(value)


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    """The network ``--arch`` names: the from-scratch FaceCNN, or EfficientNet-Lite0 from its ImageNet weights."""
    if args.arch == "lite0":
        return lite0_imagenet(Lite0Face(n_classes=len(FACE_LABELS), size=args.size))
    return FaceCNN(n_classes=len(FACE_LABELS), widths=tuple(int(w) for w in args.widths.split(",")),
                   aux_classes=len(FACE_LABELS) if args.ferplus_aux else 0)


def build_optimizer(model: torch.nn.Module, args: argparse.Namespace) -> tuple[torch.optim.Optimizer, list[float]]:
    """SGD with Nesterov momentum for the FaceCNN; AdamW for a pretrained backbone (its own, lower peak lr)."""
    if isinstance(model, Lite0Face):
        backbone = model.backbone_parameters()
        groups = [{"params": backbone}, {"params": list(model.head.parameters())}]
        return torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.01), [args.backbone_lr, args.lr]
    return torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4), [args.lr]


def init_from(model: torch.nn.Module, run: Path) -> None:
    """Load the chosen weights of an earlier run folder into ``model``; an auxiliary output may be on either side."""
    best = torch.load(run / "face.pt", map_location="cpu", weights_only=True)["extra"]["best"]
    try:
        missing, unexpected = model.load_state_dict(best["state"], strict=False)
    except RuntimeError as error:  # a layer of another shape
        raise EmofuseError(f"{run}: its network is not this run's ({str(error).splitlines()[1].strip()})") from None
    if mismatched := [key for key in missing + unexpected if not key.startswith("aux.")]:
        raise EmofuseError(f"{run}: its network is not this run's (layers {', '.join(mismatched)})")
    log.info("initialised from %s (its chosen epoch %d)", run, best["epoch"])


def work_dir(args: argparse.Namespace) -> Path:
    """The run folder; a folder holding a checkpoint is continued only with ``--resume``."""
    work = Path(args.work).expanduser()
    if (work / "face.pt").exists() and not args.resume:
        raise EmofuseError(f"{work} holds a checkpoint of an earlier run: --resume continues it, "
                           "or choose another --work")
    return work


@dataclass(frozen=True)
class TrainingData:
    """A run's FER2013 splits and what its steps read: input crops, targets and (for ``--ferplus-aux``) FER+ votes."""

    train: FaceSet
    holdout: FaceSet
    test: FaceSet
    x_train: torch.Tensor
    y_train: torch.Tensor
    votes: torch.Tensor | None


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option combinations the recipe cannot run, before anything is loaded."""
    if args.ferplus_aux and args.arch != "cnn":
        raise EmofuseError("--ferplus-aux is an output of the FaceCNN (--arch cnn)")
    if args.ferplus_aux and not args.ferplus:
        raise EmofuseError("--ferplus-aux needs the FER+ votes: give --ferplus fer2013new.csv")


def training_data(args: argparse.Namespace) -> TrainingData:
    """FER2013 split into the images trained on, the fixed hold-out and PublicTest, with the training targets (the
    label, ``--ferplus-weight`` of the FER+ votes, smoothing and ``--teacher`` blended in)."""
    faces = load_fer2013(args.data, ferplus=args.ferplus)
    training = faces.subset(faces.usage == "Training")
    held = stratified_holdout(training.labels, args.holdout)
    train, holdout = training.subset(~held), training.subset(held)
    test = faces.subset(faces.usage == "PublicTest")
    log.info("FER2013: %d Training (%d trained on, %d held out for selection), %d PublicTest",
             len(training), len(train), len(holdout), len(test))
    target = targets(train.labels, train.soft_labels, args.ferplus_weight, args.label_smoothing)
    if args.teacher:
        teacher = teacher_probabilities(args.teacher, train.images, args.teacher_temperature)
        log.info("teacher %s: %.1f%% agreement with the labels trained on", args.teacher,
                 100 * float(np.mean(teacher.argmax(1) == train.labels)))
        target = (1 - args.teacher_weight) * target + args.teacher_weight * teacher
    votes = torch.from_numpy(train.soft_labels) if args.ferplus_aux else None  # FER+ shares, zero rows: no votes
    return TrainingData(train, holdout, test, x_train=torch.from_numpy(crops_to_input(train.images)),
                        y_train=torch.from_numpy(target), votes=votes)


def train_epoch(model: torch.nn.Module, data: TrainingData, optimizer: torch.optim.Optimizer, scheduler, ema: EMA,
                gen: torch.Generator, epoch: int, args: argparse.Namespace, device: torch.device) -> float:
    """One pass over the training images in a random order (``gen``), augmented; returns the mean loss."""
    model.train()
    steps, losses = steps_per_epoch(data, args), []
    order = torch.randperm(len(data.train), generator=gen)
    for b in range(steps):
        idx = order[b * args.batch_size:(b + 1) * args.batch_size]
        x = augment(data.x_train[idx], gen, args.shift_px).to(device).contiguous(memory_format=torch.channels_last)
        votes = None if data.votes is None else data.votes[idx].to(device)
        loss = batch_loss(model, x, data.y_train[idx].to(device), votes, args.ferplus_aux, args.bf16)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        ema.update(model, epoch * steps + b)
        losses.append(loss.item())
        if b % 50 == 0:
            log.info("epoch %d step %d/%d loss %.3f", epoch, b, steps, np.mean(losses[-50:]))
    return float(np.mean(losses))


def steps_per_epoch(data: TrainingData, args: argparse.Namespace) -> int:
    return int(np.ceil(len(data.train) / args.batch_size))


def score_epoch(model: torch.nn.Module, ema: EMA, data: TrainingData, epoch: int, best: dict | None,
                device: torch.device, flip: bool) -> tuple[dict, dict]:
    """Hold-out accuracy of the raw and the EMA weights (the model is left with its raw weights); returns the
    epoch's scores and the best weights so far (the first of equals kept)."""
    row: dict = {}
    raw = snapshot(model)
    for name, weights in (("raw", raw), ("ema", ema.state)):
        model.load_state_dict(weights)
        rep = classification_report(data.holdout.labels, predict(model, data.holdout.images, device, flip).argmax(1),
                                    FACE_LABELS, HOLDOUT_PROTOCOL)
        row[f"holdout_{name}"] = rep["accuracy"]
        if best is None or rep["accuracy"] > best["score"]:
            best = {"score": rep["accuracy"], "epoch": epoch, "weights": name, "state": snapshot(model)}
    model.load_state_dict(raw)
    assert best is not None
    return row, best


def run(args: argparse.Namespace) -> dict:
    """Train (or resume) one run under ``--work``; returns its summary (also written as summary.json), or
    ``{"stopped_after": ...}`` when ``--stop-after`` ends it early."""
    check_arguments(args)
    work = work_dir(args)
    setup_logging(work)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = pick_device(args.device)
    data = training_data(args)
    model = build_model(args).to(device)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # 1.2-1.9x faster steps on this CPU
    if args.init:  # continue from another run's chosen weights (a fresh schedule: fine-tuning)
        init_from(model, Path(args.init))
    optimizer, max_lr = build_optimizer(model, args)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, pct_start=0.15,
                                                    total_steps=args.epochs * steps_per_epoch(data, args))
    ckpt = Checkpoint(work / "face.pt")
    start, history, extra = ckpt.load(model, optimizer, scheduler)
    ema = EMA(model, args.ema, extra.get("ema"))
    gen = torch.Generator().manual_seed(args.seed)
    if "generator" in extra:
        gen.set_state(extra["generator"])
    best = extra.get("best")
    flip = args.tta == "flip"
    for epoch in range(start, args.epochs):
        timer = Timer()
        loss = train_epoch(model, data, optimizer, scheduler, ema, gen, epoch, args, device)
        row: dict = {"epoch": epoch, "loss": loss, "seconds": round(timer.seconds(), 1)}
        scores, best = score_epoch(model, ema, data, epoch, best, device, flip)
        history.append({**row, **scores})
        log.info("epoch %d loss %.3f hold-out acc %.4f (EMA %.4f) (%s)", epoch, loss, scores["holdout_raw"],
                 scores["holdout_ema"], timer)
        ckpt.save(model, optimizer, scheduler, epoch, history,
                  {"ema": ema.state, "generator": gen.get_state(), "best": best})
        if args.stop_after and args.stop_after <= epoch + 1 < args.epochs:
            log.info("stopped after epoch %d of %d: --resume continues from %s", epoch, args.epochs, ckpt.path)
            return {"stopped_after": epoch + 1, "history": history}
    assert best is not None, "at least one epoch ran"
    return finish(model, best, data, history, args, work, device)


def finish(model: torch.nn.Module, best: dict, data: TrainingData, history: list, args: argparse.Namespace,
           work: Path, device: torch.device) -> dict:
    """Load the chosen weights, score the hold-out and (once) PublicTest, export the ONNX and write the summary."""
    flip = args.tta == "flip"
    model.load_state_dict(best["state"])
    holdout_report = classification_report(data.holdout.labels,
                                           predict(model, data.holdout.images, device, flip).argmax(1),
                                           FACE_LABELS, HOLDOUT_PROTOCOL)
    test_report = classification_report(data.test.labels, predict(model, data.test.images, device, flip).argmax(1),
                                        FACE_LABELS, PROTOCOL)
    log.info("chosen: epoch %d (%s weights), hold-out %.4f; PublicTest (scored once) %.4f", best["epoch"],
             best["weights"], holdout_report["accuracy"], test_report["accuracy"])
    export_onnx(model, data.x_train[:2], work / "face_cnn.onnx",
                {"input": {0: "batch"}, "logits": {0: "batch"}})
    result = {"protocol": PROTOCOL, "best_epoch": best["epoch"], "best_weights": best["weights"],
              "history": history, "tta": args.tta, "holdout_report": holdout_report, "report": test_report,
              **recipe_summary(args)}
    write_json(result, work / "summary.json")
    return result


def recipe_summary(args: argparse.Namespace) -> dict:
    """The run's settings as its summary (and the card's command) records them; None where they do not apply."""
    lite0 = args.arch == "lite0"
    return {"seed": args.seed, "ferplus_weight": args.ferplus_weight if args.ferplus else 0.0,  # the blend in effect
            "ferplus_aux": args.ferplus_aux, "label_smoothing": args.label_smoothing,
            "shift_px": args.shift_px, "ema": args.ema, "bf16": args.bf16, "arch": args.arch,
            "widths": None if lite0 else [int(w) for w in args.widths.split(",")],
            "size": args.size if lite0 else None, "backbone_lr": args.backbone_lr if lite0 else None,
            "holdout": args.holdout, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
            "init": str(args.init) if args.init else None, "teacher": args.teacher,
            "teacher_weight": args.teacher_weight if args.teacher else None,
            "teacher_temperature": args.teacher_temperature if args.teacher else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_face_arguments(parser)
    run(parser.parse_args())
