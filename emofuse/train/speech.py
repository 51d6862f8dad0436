"""Speech recipe: 5-fold actor cross-validation on RAVDESS, model choice, final fit and ONNX export.

Run with ``emofuse train speech --data <RAVDESS dir> --out runs/speech``. Every fold and the final fit
checkpoint each epoch and are skipped once done, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emofuse.audio.features import N_MELS, WINDOW_FRAMES, log_mel, model_input
from emofuse.audio.quality import snr_db, snr_reference
from emofuse.audio.vad import trim_silence
from emofuse.datasets.ravdess import ACTOR_FOLDS, list_ravdess
from emofuse.fusion import fit_temperature
from emofuse.labels import SPEECH_LABELS
from emofuse.media import load_audio
from emofuse.metrics import classification_report
from emofuse.results import write_json
from emofuse.train.args import add_speech_arguments
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
from emofuse.train.nets import SPEECH_NETS

PROTOCOL = ("RAVDESS speech, actors 01-20, 8 classes, speaker-independent 5-fold CV "
            "(test actors 01-04, 05-08, 09-12, 13-16, 17-20; early stopping on 2 held-out training actors)")


# ---------------------------------------------------------------- data
def load_features(data: Path, cache: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Log-mel (dB) of every trimmed RAVDESS speech clip, its label index and actor; cached in ``cache``."""
    if cache.exists():
        stored = np.load(cache, allow_pickle=False)
        lengths = stored["lengths"]
        specs = np.split(stored["specs"], np.cumsum(lengths)[:-1], axis=1)
        return specs, stored["labels"], stored["actors"]
    clips = list_ravdess(data, actors=set(range(1, 21)))
    timer = Timer()
    specs = [log_mel(trim_silence(load_audio(c.path))) for c in clips]
    labels = np.array([SPEECH_LABELS.index(c.label) for c in clips])
    actors = np.array([c.actor for c in clips])
    log.info("features of %d clips in %s", len(clips), timer)
    np.savez(cache, specs=np.concatenate(specs, axis=1), lengths=[s.shape[1] for s in specs],
             labels=labels, actors=actors)
    return specs, labels, actors


def recording_snr_reference(data: Path) -> dict[str, float]:
    """SNR percentiles of the training recordings (whole clips, as inference sees them) for the model card."""
    clips = list_ravdess(data, actors=set(range(1, 21)))
    return snr_reference([snr_db(load_audio(c.path)) for c in clips])


def augment(spec: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random speed change (time stretch), pitch shift (mel-bin shift) and additive noise, in the dB domain."""
    frames = spec.shape[1]
    new_frames = max(8, int(frames / rng.uniform(0.85, 1.15)))
    spec = np.stack([np.interp(np.linspace(0, frames - 1, new_frames), np.arange(frames), row) for row in spec])
    shift = int(rng.integers(-2, 3))
    if shift:
        spec = np.roll(spec, shift, axis=0)
        if shift > 0:
            spec[:shift] = spec[shift]
        else:
            spec[shift:] = spec[shift - 1]
    if rng.random() < 0.5:
        noise_db = np.percentile(spec, 90) - rng.uniform(15, 40)
        noise = noise_db + rng.normal(0, 2, size=spec.shape)
        spec = 10 * np.log10(10 ** (spec / 10) + 10 ** (noise / 10))
    return spec.astype(np.float32)


def batch_inputs(specs: list[np.ndarray], kind: str, rng: np.random.Generator | None) -> torch.Tensor:
    """Model inputs for a batch; with ``rng``: augmented, randomly placed, SpecAugment-masked."""
    items = []
    for spec in specs:
        if rng is not None:
            spec = augment(spec, rng)
        slack = abs(spec.shape[1] - WINDOW_FRAMES)
        x = model_input(spec, kind, offset=int(rng.integers(0, slack + 1)) if rng is not None else None)
        if rng is not None:
            x = x.copy()
            for _ in range(2):
                f = int(rng.integers(0, 8))
                f0 = int(rng.integers(0, x.shape[0] - f + 1))
                x[f0:f0 + f] = 0
                t = int(rng.integers(0, 30))
                t0 = int(rng.integers(0, x.shape[1] - t + 1))
                x[:, t0:t0 + t] = 0
        items.append(x)
    return torch.from_numpy(np.stack(items))


# ---------------------------------------------------------------- training
def class_weights(labels: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n).astype(np.float32)
    return torch.from_numpy(counts.sum() / (n * np.maximum(counts, 1)))


@torch.no_grad()
def predict(model: torch.nn.Module, specs: list[np.ndarray], kind: str, device: torch.device) -> np.ndarray:
    """Probabilities (N, 8) of the centred window of each clip."""
    model.eval()
    out = []
    for start in range(0, len(specs), 64):
        x = batch_inputs(specs[start:start + 64], kind, None).to(device)
        out.append(torch.softmax(model(x), dim=1).cpu().numpy())
    return np.concatenate(out)


def parse_member(name: str) -> tuple[str, int]:
    """``"cnn"`` -> ("cnn", 0); ``"cnn@2"`` -> ("cnn", 2): the same architecture trained from another seed."""
    arch, _, replica = name.partition("@")
    if arch not in SPEECH_NETS:
        raise ValueError(f"unknown speech architecture {arch!r} (choose from {', '.join(SPEECH_NETS)})")
    return arch, int(replica or 0)


def member_kind(name: str) -> str:
    """The feature kind (logmel or mfcc) a member takes."""
    return SPEECH_NETS[parse_member(name)[0]][1]


def train_run(name: str, specs: list[np.ndarray], labels: np.ndarray, train_idx: np.ndarray,
              val_idx: np.ndarray | None, ckpt: Checkpoint, args: argparse.Namespace,
              fixed_epochs: int | None = None) -> tuple[torch.nn.Module, dict]:
    """Train one member; early-stop on ``val_idx`` macro-F1 or run ``fixed_epochs``. Returns best model."""
    arch, replica = parse_member(name)
    seed = args.seed + 1000 * replica
    seed_everything(seed)
    device = pick_device(args.device)
    net_class, kind = SPEECH_NETS[arch]
    model = net_class(n_classes=len(SPEECH_LABELS)).to(device)
    epochs = fixed_epochs or args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    steps = int(np.ceil(len(train_idx) / args.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=epochs * steps)
    start, history, best, extra = ckpt.load(model, optimizer, scheduler)
    weights = class_weights(labels[train_idx], len(SPEECH_LABELS)).to(device)
    rng = np.random.default_rng(seed + start)
    for epoch in range(start, epochs):
        if extra.get("stopped"):
            break
        model.train()
        timer, losses = Timer(), []
        order = rng.permutation(train_idx)
        for b in range(steps):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            x = batch_inputs([specs[i] for i in idx], kind, rng).to(device)
            y = F.one_hot(torch.from_numpy(labels[idx]), len(SPEECH_LABELS)).float().to(device)
            lam = float(rng.beta(0.2, 0.2)) if args.mixup else 1.0
            perm = torch.from_numpy(rng.permutation(len(idx))).to(device)
            x, y = lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]
            logits = model(x)
            loss = -(y * F.log_softmax(logits, dim=1) * weights).sum(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        row = {"epoch": epoch, "loss": float(np.mean(losses))}
        if val_idx is not None:
            probs = predict(model, [specs[i] for i in val_idx], kind, device)
            rep = classification_report(labels[val_idx], probs.argmax(1), SPEECH_LABELS, "validation actors")
            row.update(val_accuracy=rep["accuracy"], val_macro_f1=rep["macro_f1"])
            if best is None or rep["macro_f1"] > best["score"]:
                best = {"score": rep["macro_f1"], "epoch": epoch,
                        "state": snapshot(model)}
            if epoch - best["epoch"] >= args.patience:
                extra["stopped"] = True
        history.append(row)
        log.info("%s %s epoch %d loss %.3f %s (%s)", name, ckpt.path.stem, epoch, row["loss"],
                 f"val acc {row['val_accuracy']:.3f} f1 {row['val_macro_f1']:.3f}" if val_idx is not None else "",
                 timer)
        ckpt.save(model, optimizer, scheduler, epoch, history, best, extra)
    if best is not None:
        model.load_state_dict(best["state"])
    return model, {"history": history, "best_epoch": best["epoch"] if best else epochs - 1}


def validation_actors(train_actors: list[int]) -> list[int]:
    """Two training actors (one male, one female) held out for early stopping."""
    male = [a for a in train_actors if a % 2][-1]
    female = [a for a in train_actors if not a % 2][-1]
    return [male, female]


def cross_validate(arch: str, specs, labels, actors, out: Path, args) -> list[dict]:
    """Out-of-fold results of member ``arch`` (e.g. ``cnn`` or ``cnn@1``) for each actor fold (cached per fold)."""
    results = []
    for k, test_actors in enumerate(ACTOR_FOLDS):
        done = out / f"{arch}_fold{k}.npz"
        if not done.exists():
            train_actors = sorted(set(actors) - set(test_actors))
            val = validation_actors(train_actors)
            train_idx = np.flatnonzero(np.isin(actors, train_actors) & ~np.isin(actors, val))
            val_idx = np.flatnonzero(np.isin(actors, val))
            test_idx = np.flatnonzero(np.isin(actors, test_actors))
            model, info = train_run(arch, specs, labels, train_idx, val_idx,
                                    Checkpoint(out / f"{arch}_fold{k}.pt"), args)
            probs = predict(model, [specs[i] for i in test_idx], member_kind(arch), pick_device(args.device))
            np.savez(done, probs=probs, test_idx=test_idx, best_epoch=info["best_epoch"])
        stored = np.load(done)
        results.append({"probs": stored["probs"], "test_idx": stored["test_idx"],
                        "best_epoch": int(stored["best_epoch"])})
    return results


def summarize(cv: dict[str, list[dict]], labels: np.ndarray, actors: np.ndarray) -> dict:
    """Per-fold and mean metrics of each architecture and of every ensemble of them."""
    summary = {}
    names = list(cv)
    for r in range(1, len(names) + 1):
        for combo in itertools.combinations(names, r):
            folds = []
            for k in range(len(ACTOR_FOLDS)):
                probs = np.mean([cv[a][k]["probs"] for a in combo], axis=0)
                idx = cv[combo[0]][k]["test_idx"]
                rep = classification_report(labels[idx], probs.argmax(1), SPEECH_LABELS,
                                            f"test actors {sorted(int(a) for a in set(actors[idx]))}")
                folds.append(rep)
            summary["+".join(combo)] = {
                "folds": [{k: f[k] for k in ("protocol", "n", "accuracy", "macro_f1", "uar")} for f in folds],
                "mean_accuracy": float(np.mean([f["accuracy"] for f in folds])),
                "mean_macro_f1": float(np.mean([f["macro_f1"] for f in folds])),
                "mean_uar": float(np.mean([f["uar"] for f in folds])),
            }
    return summary


def pooled_report(cv: dict[str, list[dict]], members: list[str], labels: np.ndarray) -> tuple[dict, np.ndarray]:
    probs = np.concatenate([np.mean([cv[a][k]["probs"] for a in members], axis=0) for k in range(len(ACTOR_FOLDS))])
    idx = np.concatenate([cv[members[0]][k]["test_idx"] for k in range(len(ACTOR_FOLDS))])
    return classification_report(labels[idx], probs.argmax(1), SPEECH_LABELS, PROTOCOL + ", pooled"), (probs, idx)


def member_onnx(out: Path, name: str, suffix: str = "") -> Path:
    """Where member ``name`` (e.g. ``cnn@1``) is exported: ``out/speech_cnn_s1<suffix>.onnx``."""
    return out / f"speech_{name.replace('@', '_s')}{suffix}.onnx"


def export_member(model: torch.nn.Module, name: str, path: Path) -> None:
    """Export a trained member to ONNX (batch and frame axes dynamic)."""
    example = batch_inputs([np.zeros((N_MELS, WINDOW_FRAMES), np.float32)] * 2, member_kind(name), None)
    export_onnx(model, example, path, {"input": {0: "batch", 2: "frames"}, "logits": {0: "batch"}})


def export_fold_models(out: Path, members: list[str], temperature: float) -> Path:
    """Export each fold's best model of ``members`` to ONNX and describe them in ``out/folds.json``.

    With these, held-out evaluations (e.g. benchmarks/fusion_paired.py) can score a RAVDESS actor with the
    fold model that never saw that actor, i.e. speaker-independently.
    """
    folds = []
    for k, test_actors in enumerate(ACTOR_FOLDS):
        files = []
        for name in members:
            arch, _ = parse_member(name)
            path = member_onnx(out, name, f"_fold{k}")
            if not path.exists():
                model = SPEECH_NETS[arch][0](n_classes=len(SPEECH_LABELS))
                state = torch.load(out / f"{name}_fold{k}.pt", map_location="cpu", weights_only=True)
                model.load_state_dict(state["best"]["state"])
                export_member(model, name, path)
            files.append({"arch": name, "features": member_kind(name), "file": path.name})
        folds.append({"test_actors": list(test_actors), "members": files, "temperature": temperature})
    index = out / "folds.json"
    write_json({"protocol": PROTOCOL, "folds": folds}, index)
    return index


def run(args: argparse.Namespace) -> dict:
    """The whole recipe; returns the summary written to ``out/summary.json``."""
    out = Path(args.out)
    setup_logging(out)
    torch.set_num_threads(args.threads)
    specs, labels, actors = load_features(Path(args.data), out / "features.npz")
    archs = args.archs.split(",")
    for name in archs:
        parse_member(name)
    cv = {arch: cross_validate(arch, specs, labels, actors, out, args) for arch in archs}
    summary = summarize(cv, labels, actors)
    choice = max(summary, key=lambda k: (summary[k]["mean_accuracy"], -k.count("+")))
    members = choice.split("+")
    pooled, (probs, idx) = pooled_report(cv, members, labels)
    temperature = fit_temperature(probs, labels[idx])
    log.info("CV: %s", {k: round(v["mean_accuracy"], 4) for k, v in summary.items()})
    log.info("chosen %s (mean accuracy %.4f), temperature %.2f", choice, summary[choice]["mean_accuracy"], temperature)
    export_fold_models(out, members, temperature)
    exported = []
    if not args.cv_only:
        all_idx = np.arange(len(labels))
        for arch in members:
            epochs = int(np.median([r["best_epoch"] for r in cv[arch]])) + 1
            model, _ = train_run(arch, specs, labels, all_idx, None, Checkpoint(out / f"{arch}_final.pt"), args,
                                 fixed_epochs=epochs)
            path = member_onnx(out, arch)
            export_member(model, arch, path)
            exported.append({"arch": arch, "features": member_kind(arch), "file": path.name, "epochs": epochs})
    result = {"protocol": PROTOCOL, "cv": summary, "choice": choice, "pooled_cv": pooled,
              "temperature": temperature, "members": exported, "seed": args.seed,
              "window_frames": WINDOW_FRAMES, "recording_snr_db": recording_snr_reference(Path(args.data))}
    write_json(result, out / "summary.json")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_speech_arguments(parser)
    run(parser.parse_args())
