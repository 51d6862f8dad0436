"""Speech recipe: an emotion head on Whisper features, chosen by speaker-independent CV, exported to ONNX.

    emofuse train speech --data ../shared/data --out runs/speech [--tune-blocks 1]

1. States: every clip of the training corpora (RAVDESS actors 01-20; EmoDB unless ``--corpora ravdess``), its
   ``--copies`` noisy and ``--warps`` speaker-perturbed renditions, and the clips of corpora only scored (CREMA-D)
   go through Whisper's blocks 1-3 once; time-pooled layers and the frames entering blocks 2 and 3 are cached
   (emofuse.train.whisper_states). Reruns reuse the cache.
2. Features: the frozen encoder's pooled layers (``FrozenFeatures``), or, with ``--tune-blocks``, those read through
   the top block(s) fine-tuned per fold on that fold's training speakers (``TunedFeatures``,
   emofuse.train.speech_tune; each tuning checkpointed every epoch).
3. Cross-validation, speaker-independent: fold k holds out RAVDESS actors ACTOR_FOLDS[k] and two EmoDB speakers;
   heads train on the other speakers' clean + augmented clips and are scored on the held-out speakers' clean clips.
   Every candidate (layers, pooling, head size) is scored on the same folds; the best mean of the RAVDESS and the
   EmoDB accuracy is chosen (two languages, so a choice that only fits RAVDESS loses).
4. Cross-corpus check: the chosen head (and tuning) trained on RAVDESS alone, scored on EmoDB (6 shared emotions)
   and CREMA-D.
5. Temperature on the pooled out-of-fold predictions; fold heads (and tuned fold encoders) exported
   (``folds.json``) for held-out benchmarks; the final head trained on all speakers; the encoder cut after block 3
   (tuned or not) exported with float16 weights.

A rerun resumes from the state cache (~5 minutes a rendition on 2 cores) and finished tunings (~8 minutes each);
heads are retrained, which takes minutes (about 3 per candidate on 2 cores), so they are not checkpointed.
Everything is seeded.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emofuse.audio.quality import snr_db, snr_reference
from emofuse.datasets.ravdess import ACTOR_FOLDS
from emofuse.fusion import fit_temperature
from emofuse.labels import SPEECH_LABELS
from emofuse.media import load_audio
from emofuse.metrics import classification_report
from emofuse.results import write_json
from emofuse.runtime import softmax
from emofuse.train.augment import random_recording
from emofuse.train.common import Timer, export_onnx, log, seed_everything, setup_logging
from emofuse.train.encoder_features import load_corpus
from emofuse.train.speech_tune import TuneConfig, class_weights, tune, tuned_encoder, tuned_pooled
from emofuse.train.whisper import export_pooled_encoder
from emofuse.train.whisper_states import (
    States,
    cache_states,
    load_states,
    parse_rendition,
    pooled_features,
    rendition_name,
)

EMODB_FOLDS: tuple[tuple[int, ...], ...] = ((3, 8), (9, 10), (11, 12), (13, 14), (15, 16))
"""EmoDB's 10 speakers in 5 folds of 2, paired with the RAVDESS actor folds."""

PROTOCOL = ("speaker-independent 5-fold CV: fold k holds out RAVDESS actors {01-04, 05-08, 09-12, 13-16, 17-20}[k] "
            "(8 classes) and EmoDB speakers {03+08, 09+10, 11+12, 13+14, 15+16}[k] (6 classes: argmax over them); "
            "heads trained on the other speakers' clean and augmented clips, scored on clean clips")
N_CLASSES = len(SPEECH_LABELS)


@dataclass(frozen=True)
class HeadConfig:
    """One candidate head: which encoder layers, which pooling, how wide a hidden layer (0: linear)."""

    layers: tuple[int, ...] = (1, 2, 3)
    pooling: str = "mean"  # "mean" or "mean+std"
    hidden: int = 0
    mix: str = "concat"  # "concat": layers side by side; "weighted": a learned softmax-weighted sum of layers
    epochs: int = 40
    seeds: int = 3  # heads from this many seeds, probabilities averaged

    @property
    def name(self) -> str:
        size = "linear" if not self.hidden else f"mlp{self.hidden}"
        return f"L{''.join(map(str, self.layers))}-{self.pooling}-{self.mix}-{size}"


class SpeechHead(nn.Module):
    """The chosen layers' (normalised) pooled features, side by side or as a learned softmax-weighted sum, then a
    linear or one-hidden-layer classifier. Input (batch, layers * width), already z-scored; output logits (batch, 8).
    """

    def __init__(self, n_layers: int, width: int, hidden: int, mix: str, n_classes: int = N_CLASSES):
        super().__init__()
        self.n_layers, self.width, self.mix = n_layers, width, mix
        self.layer_logits = nn.Parameter(torch.zeros(n_layers)) if mix == "weighted" else None
        size = width if mix == "weighted" else width * n_layers
        if hidden:
            self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(size, hidden), nn.GELU(), nn.Dropout(0.3),
                                            nn.Linear(hidden, n_classes))
        else:
            self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(size, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_logits is not None:
            x = x.view(x.shape[0], self.n_layers, self.width)
            x = (torch.softmax(self.layer_logits, 0)[None, :, None] * x).sum(dim=1)
        return self.classifier(x)


# ---------------------------------------------------------------- features
def select(features: np.ndarray, config: HeadConfig) -> np.ndarray:
    """(N, layers * width * k) from cached (N, all layers, 2, width): the config's layers and statistics."""
    return pooled_features(features, config.layers, with_std=config.pooling == "mean+std")


@dataclass(frozen=True)
class Normalizer:
    """Feature z-scoring: mean and std of the training features."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Normalizer:
        return cls(x.mean(0), x.std(0) + 1e-5)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.round(6).tolist(), "std": self.std.round(6).tolist()}


@dataclass
class Pool:
    """Features of clips from several corpora with their labels, speakers and corpus names (clean + copies)."""

    x: np.ndarray
    y: np.ndarray
    speakers: np.ndarray
    corpus: np.ndarray
    copy: np.ndarray

    def take(self, mask: np.ndarray) -> Pool:
        return Pool(self.x[mask], self.y[mask], self.speakers[mask], self.corpus[mask], self.copy[mask])


def states_pool(states: States) -> Pool:
    """The frozen encoder's pooled features of every cached clip, as a Pool."""
    return Pool(states.pooled, states.labels, states.speakers, states.corpus, states.copy)


def renditions(corpora: list[str], scored_only: list[str], copies: int, warps: int) -> dict[str, list[str]]:
    """{corpus: [rendition, ...]}: training corpora clean, ``copies`` noise and ``warps`` speaker-perturbed
    renditions; corpora that are only scored, clean."""
    training = ["clean", *(rendition_name(k) for k in range(1, copies + 1)),
                *(rendition_name(k, warp=True) for k in range(1, warps + 1))]
    return {**{c: training for c in corpora}, **{c: ["clean"] for c in scored_only}}


class FrozenFeatures:
    """The frozen encoder's features: the same for every fold; the shipped encoder is Whisper's, cut."""

    def __init__(self, states: States, corpora: list[str]):
        self.all = states_pool(states)
        self.training = np.isin(self.all.corpus, corpora)
        self.pool = self.all.take(self.training)

    def fold(self, k: int) -> Pool:
        """Features of the training corpora for fold ``k`` (here: whatever the fold)."""
        return self.pool

    def ravdess_only(self) -> Pool:
        """Features of every clip for a model that learns from RAVDESS alone."""
        return self.all

    def final(self) -> Pool:
        return self.pool

    def encoder(self, name: str | None):
        """The encoder behind ``fold``/``final`` features (``name``: None for the final one, else "fold{k}")."""
        from emofuse.train.whisper import load_encoder

        return load_encoder("base", 3)


class TunedFeatures(FrozenFeatures):
    """Features read through top blocks fine-tuned on each fold's training speakers (emofuse.train.speech_tune);
    each tuning is checkpointed in ``work`` and its features cached there, so a rerun resumes."""

    def __init__(self, states: States, corpora: list[str], config: TuneConfig, work: Path):
        super().__init__(states, corpora)
        self.states, self.config, self.work = states, config, work
        self.own_head: dict[str, dict[str, float]] = {}
        self.rows: dict[str, np.ndarray] = {}

    def _model(self, name: str, train_rows: np.ndarray):
        return tune(self.states, train_rows, self.config, self.work / f"{name}.pt")

    def _features(self, name: str, train_rows: np.ndarray) -> Pool:
        self.rows[name] = train_rows
        path = self.work / f"{name}.features.npz"
        if not path.exists():
            pooled, logits = tuned_pooled(self._model(name, train_rows), self.states, np.arange(len(self.all.y)))
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, pooled=pooled.astype(np.float16), logits=logits)
            tmp.replace(path)
        with np.load(path) as stored:
            pooled, logits = stored["pooled"], stored["logits"]
        if name not in self.own_head:
            held = ~np.isin(np.arange(len(self.all.y)), train_rows) & (self.all.copy == 0)
            self.own_head[name] = {c: corpus_accuracy(softmax(logits[held & (self.all.corpus == c)]),
                                                      self.all.y[held & (self.all.corpus == c)],
                                                      corpus_classes(self.all, c))
                                   for c in sorted(set(self.all.corpus[held].tolist()))}
            log.info("tuned %s, its own head on held-out clean clips: %s", name,
                     {c: round(v, 4) for c, v in self.own_head[name].items()})
        return Pool(pooled, self.all.y, self.all.speakers, self.all.corpus, self.all.copy)

    def fold(self, k: int) -> Pool:
        train = np.flatnonzero(self.training & ~fold_masks(self.all, k))
        return self._features(f"fold{k}", train).take(self.training)

    def ravdess_only(self) -> Pool:
        return self._features("ravdess", np.flatnonzero(self.all.corpus == "ravdess"))

    def final(self) -> Pool:
        return self._features("all", np.flatnonzero(self.training)).take(self.training)

    def encoder(self, name: str | None):
        name = name or "all"
        return tuned_encoder(self._model(name, self.rows[name]))


# ---------------------------------------------------------------- heads
def train_head(x: np.ndarray, y: np.ndarray, config: HeadConfig, width: int, seed: int) -> SpeechHead:
    """One head on normalised features, class-balanced cross-entropy with label smoothing, AdamW, cosine lr."""
    seed_everything(seed)
    head = SpeechHead(len(config.layers), width, config.hidden, config.mix)
    optimizer = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=0.05)
    steps_per_epoch = int(np.ceil(len(x) / 128))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=config.epochs * steps_per_epoch)
    weights = class_weights(y)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    rng = np.random.default_rng(seed)
    head.train()
    for _ in range(config.epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for b in range(steps_per_epoch):
            idx = order[b * 128:(b + 1) * 128]
            loss = F.cross_entropy(head(xt[idx]), yt[idx], weight=weights, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return head.eval()


class HeadEnsemble(nn.Module):
    """Heads from several seeds; ``forward`` returns the log of their mean probabilities (logits for export)."""

    def __init__(self, heads: list[SpeechHead]):
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(h(x), dim=1) for h in self.heads]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-9))


def fit(pool: Pool, config: HeadConfig, seed: int) -> tuple[HeadEnsemble, Normalizer]:
    """Heads of ``config`` on all of ``pool`` (normalised by its clean clips' statistics)."""
    x = select(pool.x, config)
    norm = Normalizer.fit(x[pool.copy == 0])
    width = x.shape[1] // len(config.layers)
    heads = [train_head(norm(x), pool.y, config, width, seed + 100 * s) for s in range(config.seeds)]
    return HeadEnsemble(heads).eval(), norm


@torch.no_grad()
def predict(model: HeadEnsemble, norm: Normalizer, pool: Pool, config: HeadConfig) -> np.ndarray:
    return torch.exp(model(torch.from_numpy(norm(select(pool.x, config))))).numpy()


def restrict(probs: np.ndarray, allowed: list[int]) -> np.ndarray:
    """``probs`` with the classes outside ``allowed`` set to -1, so argmax picks among the corpus's own emotions."""
    masked = np.full_like(probs, -1.0)
    masked[:, allowed] = probs[:, allowed]
    return masked


def corpus_accuracy(probs: np.ndarray, labels: np.ndarray, allowed: list[int] | None = None) -> float:
    """Accuracy of the argmax, over ``allowed`` classes only when given (a corpus with fewer emotions)."""
    if allowed is not None:
        probs = restrict(probs, allowed)
    return float((probs.argmax(1) == labels).mean())


def corpus_classes(pool: Pool, corpus: str) -> list[int]:
    return sorted(set(pool.y[pool.corpus == corpus].tolist()))


def fold_masks(pool: Pool, k: int) -> np.ndarray:
    """Clips of the speakers held out in fold ``k``."""
    ravdess = (pool.corpus == "ravdess") & np.isin(pool.speakers, ACTOR_FOLDS[k])
    emodb = (pool.corpus == "emodb") & np.isin(pool.speakers, EMODB_FOLDS[k])
    return ravdess | emodb


def cross_validate(pool: Pool, config: HeadConfig, seed: int, fold_pool=None) -> dict:
    """Out-of-fold probabilities of every clean clip of ``pool`` and per-fold, per-corpus accuracies.
    ``fold_pool(k)``: the features of fold ``k`` when they depend on it (an encoder tuned without its speakers)."""
    oof = np.zeros((len(pool.y), N_CLASSES), np.float32)
    folds = []
    for k in range(len(ACTOR_FOLDS)):
        features = fold_pool(k) if fold_pool else pool  # the same clips in the same order, per fold's encoder
        test = fold_masks(features, k)
        model, norm = fit(features.take(~test), config, seed)
        held = test & (features.copy == 0)
        oof[held] = predict(model, norm, features.take(held), config)
        row = {}
        for corpus in sorted(set(features.corpus[held].tolist())):
            mask = held & (features.corpus == corpus)
            row[corpus] = corpus_accuracy(oof[mask], features.y[mask], corpus_classes(features, corpus))
        folds.append(row)
    corpora = sorted(folds[0])
    means = {c: float(np.mean([f[c] for f in folds])) for c in corpora}
    return {"config": config, "folds": folds, "mean": means, "score": float(np.mean(list(means.values()))),
            "oof": oof}


# ---------------------------------------------------------------- speaker-referenced heads (adaptation)
def group_keys(pool: Pool) -> np.ndarray:
    """One key per recording condition of a speaker: corpus, speaker and augmentation copy."""
    return np.array([f"{c}/{s}/{k}" for c, s, k in zip(pool.corpus, pool.speakers, pool.copy)])


def referenced(pool: Pool) -> Pool:
    """``pool`` with each clip's features minus the mean of its group (speaker and recording condition).

    This is what adaptation does at inference: features are read relative to the speaker (and room) they come
    from; a head trained on referenced features expects it.
    """
    keys = group_keys(pool)
    x = pool.x.astype(np.float32).copy()
    for key in np.unique(keys):
        rows = keys == key
        x[rows] -= x[rows].mean(0)
    return Pool(x, pool.y, pool.speakers, pool.corpus, pool.copy)


ENROLMENT_SIZES = (1, 2, 4)
"""Neutral clips per simulated enrolment when the adapted head is trained on enrolment-like references."""


def enrolment_referenced(pool: Pool, draws: int = 4, seed: int = 0) -> Pool:
    """``pool`` repeated ``draws`` times, each clip minus a reference made as ``emofuse enrol`` makes one: from k
    random neutral clips of its group (k in ENROLMENT_SIZES), less the neutral offset, shrunk towards the training
    mean. A head trained on this expects the references users give it (a few calm clips), noise included,
    rather than the mean of all of a speaker's clips, which no user has."""
    from emofuse.audio.adapt import enrol_profile

    rng = np.random.default_rng(seed)
    keys = group_keys(pool)
    clean = pool.take(pool.copy == 0)
    offsets, train_mean = class_offsets(clean), clean.x.astype(np.float32).mean(0)
    neutral = SPEECH_LABELS.index("neutral")
    parts = []
    for _ in range(draws):
        x = pool.x.astype(np.float32).copy()
        for key in np.unique(keys):
            rows = keys == key
            candidates = np.flatnonzero(rows & (pool.y == neutral))
            if not len(candidates):
                x[rows] -= x[rows].mean(0)
                continue
            k = min(int(rng.choice(ENROLMENT_SIZES)), len(candidates))
            chosen = rng.choice(candidates, size=k, replace=False)
            x[rows] -= enrol_profile(pool.x[chosen].astype(np.float32), 0.0, offsets, train_mean).mean
        parts.append(Pool(x, pool.y, pool.speakers, pool.corpus, pool.copy))
    return Pool(*(np.concatenate([getattr(part, name) for part in parts])
                  for name in ("x", "y", "speakers", "corpus", "copy")))


def class_offsets(pool: Pool) -> np.ndarray:
    """(8, ...) per emotion, the mean over speakers (and recording conditions) of that emotion's mean minus the
    speaker's mean: what turns the mean of a recording with a known or estimated emotion mix into the speaker's
    mean over all emotions (emofuse.audio.adapt.balanced_mean). Emotions a speaker lacks are left out for them."""
    keys = group_keys(pool)
    offsets = np.zeros((N_CLASSES, *pool.x.shape[1:]), np.float64)
    counts = np.zeros(N_CLASSES)
    for key in np.unique(keys):
        rows = keys == key
        speaker_mean = pool.x[rows].mean(0)
        for label in np.unique(pool.y[rows]):
            offsets[label] += pool.x[rows & (pool.y == label)].mean(0) - speaker_mean
            counts[label] += 1
    return (offsets / np.maximum(counts, 1).reshape(-1, *[1] * (pool.x.ndim - 1))).astype(np.float32)


# ---------------------------------------------------------------- the recipe
CANDIDATES = (
    HeadConfig((1, 2, 3), "mean", 256), HeadConfig((1, 2, 3), "mean", 0), HeadConfig((0, 1, 2, 3), "mean", 256),
)
"""Heads compared by CV (mean+std pooling and a learned weighted sum of layers were no better: docs/results.md).
All stop at block 3 of Whisper base: the encoder cut there is 22 MB with float16 weights
(block 4 would make it 29 MB, over the project's 25 MB per file, and 25% slower; docs/results.md has its CV)."""


def reports(pool: Pool, probs: np.ndarray, protocol: str) -> dict:
    """Classification report per corpus (argmax over the corpus's own classes)."""
    out = {}
    for corpus in sorted(set(pool.corpus.tolist())):
        mask = pool.corpus == corpus
        allowed = corpus_classes(pool, corpus)
        out[corpus] = classification_report(pool.y[mask], restrict(probs[mask], allowed).argmax(1), SPEECH_LABELS,
                                            f"{protocol}; {corpus}")
    return out


def run(args: argparse.Namespace) -> dict:
    """The whole recipe; returns the summary written to ``out/summary.json`` (what the model card is made from)."""
    out = Path(args.out)
    setup_logging(out)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    states_dir = Path(args.features).expanduser() if args.features else out / "features"
    states_dir.mkdir(parents=True, exist_ok=True)
    corpora = available_corpora(data, args.corpora.split(","))
    scored_only = [c for c in ("ravdess", "emodb", "crema_d") if c not in corpora and (data / c).is_dir()]
    wanted = renditions(corpora, scored_only, args.copies, args.warps)
    timer = Timer()
    for name, names in wanted.items():
        corpus = load_corpus(name, data / name)
        for rendition in names:
            copy, warp = parse_rendition(rendition)
            cache_states(corpus, copy, states_dir, warp=warp)
    log.info("states ready (%s)", timer)
    states = load_states(states_dir, wanted, frames=bool(args.tune_blocks))
    tuning = TuneConfig(blocks=args.tune_blocks, epochs=args.tune_epochs, seed=args.seed)
    source = (TunedFeatures(states, corpora, tuning, out / "tuned") if args.tune_blocks
              else FrozenFeatures(states, corpora))
    pool = source.pool
    clean = pool.take(pool.copy == 0)
    candidates = [HeadConfig(**{**asdict(c), "epochs": args.epochs, "seeds": args.seeds}) for c in CANDIDATES]
    cv = {}
    for config in candidates:
        cv[config.name] = cross_validate(pool, config, args.seed, source.fold)
        log.info("CV %s: %s", config.name, {k: round(v, 4) for k, v in cv[config.name]["mean"].items()})
    choice = max(cv.values(), key=lambda r: r["score"])
    config = choice["config"]
    oof = choice["oof"][pool.copy == 0]
    temperature = fit_temperature(oof, clean.y)
    log.info("chosen %s (score %.4f), temperature %.2f", config.name, choice["score"], temperature)
    pooled = reports(clean, oof, PROTOCOL + ", pooled out-of-fold")
    cross = cross_corpus(source.ravdess_only(), config, args.seed)
    index = export_folds(source, config, out, args.seed, temperature)
    final = source.final()
    model, norm = fit(final, config, args.seed)
    export_head(model, norm, out / "speech_head.onnx")
    adapted = export_adapted_head(final, config, out / "speech_head_adapted.onnx", args.seed)
    name = encoder_file(config, args.tune_blocks)
    export_pooled_encoder("base", config.layers, out / name, config.pooling == "mean+std", source.encoder(None))
    summary = {
        "protocol": PROTOCOL, "encoder": "base", "corpora": corpora, "copies": args.copies, "warps": args.warps,
        "tuning": asdict(tuning) if args.tune_blocks else None, "seed": args.seed,
        "cv": {name: {k: r[k] for k in ("folds", "mean", "score")} | {"config": asdict(r["config"])}
               for name, r in cv.items()},
        "choice": config.name, "head": asdict(config), "pooled_cv": pooled, "temperature": temperature,
        "cross_corpus": cross, "folds_index": index.name,
        "encoder_file": name, "head_file": "speech_head.onnx",
        "normalization": norm.to_dict(),
        "adapted_head": adapted,
        "recording_snr_db": recording_snr_reference(data, corpora, args.copies),
    }
    if isinstance(source, TunedFeatures):
        summary["tuned_own_head"] = source.own_head
    write_json(summary, out / "summary.json")
    return summary


def available_corpora(data: Path, wanted: list[str]) -> list[str]:
    """The wanted training corpora found under ``data`` (RAVDESS is required; others are skipped with a warning)."""
    from emofuse.errors import EmofuseError

    if not (data / "ravdess").is_dir():
        raise EmofuseError(f"{data}: expected the RAVDESS folder at {data / 'ravdess'} (Actor_XX/*.wav|flac)")
    for name in wanted:
        if not (data / name).is_dir():
            log.warning("training corpus %s not found under %s: training without it", name, data)
    return [name for name in wanted if (data / name).is_dir()]


def cross_corpus(features: Pool, config: HeadConfig, seed: int) -> dict:
    """The chosen head trained on RAVDESS alone (clean + copies), scored on the other corpora's clean clips."""
    model, norm = fit(features.take(features.corpus == "ravdess"), config, seed)
    result: dict = {"trained_on": "RAVDESS actors 01-20 only"}
    for corpus in ("emodb", "crema_d"):
        test = features.take((features.corpus == corpus) & (features.copy == 0))
        if len(test.y):
            probs = predict(model, norm, test, config)
            protocol = (f"{corpus}: all {len(test.y)} clips, model trained on RAVDESS only, argmax over the "
                        f"{len(corpus_classes(test, corpus))} emotions the corpus has")
            result[corpus] = classification_report(test.y, restrict(probs, corpus_classes(test, corpus)).argmax(1),
                                                   SPEECH_LABELS, protocol)
            log.info("cross-corpus %s: %.4f", corpus, result[corpus]["accuracy"])
    return result


def encoder_file(config: HeadConfig, tuned_blocks: int = 0) -> str:
    """``whisper_base_L123m.onnx``: the layers it pools, m(ean) or m(ean and )s(td), ``_tuned1`` when its top block
    was fine-tuned."""
    stats = "ms" if config.pooling == "mean+std" else "m"
    tuned = f"_tuned{tuned_blocks}" if tuned_blocks else ""
    return f"whisper_base_L{''.join(map(str, config.layers))}{stats}{tuned}.onnx"


def export_head(model: HeadEnsemble, norm: Normalizer, path: Path) -> None:
    example = torch.zeros(2, len(norm.mean))
    export_onnx(model, example, path, {"input": {0: "batch"}, "logits": {0: "batch"}})


def export_adapted_head(pool: Pool, config: HeadConfig, path: Path, seed: int) -> dict:
    """Train and export the speaker-referenced head; returns its card entry (file, normalisation, references)."""
    model, norm = fit(referenced(pool), config, seed)
    export_head(model, norm, path)
    clean = pool.take(pool.copy == 0)
    offsets = select(class_offsets(clean), config)
    train_mean = select(clean.x, config).mean(0)
    return {"file": path.name, "normalization": norm.to_dict(),
            "class_offsets": offsets.round(5).tolist(), "train_mean": train_mean.round(6).tolist(),
            "trained_on": "features minus the mean of their speaker and recording condition (corpus, speaker, "
                          "augmentation copy)"}


def export_folds(source: FrozenFeatures, config: HeadConfig, out: Path, seed: int, temperature: float) -> Path:
    """Each fold's head (trained without its speakers) as ONNX, with ``folds.json`` naming the held-out speakers;
    with tuned features each fold's encoder too (``encoder_file``: read with the shipped card's otherwise)."""
    folds = []
    for k in range(len(ACTOR_FOLDS)):
        pool = source.fold(k)
        model, norm = fit(pool.take(~fold_masks(pool, k)), config, seed)
        name = f"speech_head_fold{k}.onnx"
        export_head(model, norm, out / name)
        entry = {"test_actors": list(ACTOR_FOLDS[k]), "test_emodb_speakers": list(EMODB_FOLDS[k]),
                 "head_file": name, "temperature": temperature, "normalization": norm.to_dict()}
        if isinstance(source, TunedFeatures):
            entry["encoder_file"] = encoder = f"whisper_fold{k}.onnx"
            export_pooled_encoder("base", config.layers, out / encoder, config.pooling == "mean+std",
                                  source.encoder(f"fold{k}"))
        folds.append(entry)
    index = out / "folds.json"
    write_json({"protocol": PROTOCOL, "folds": folds}, index)
    return index


def recording_snr_reference(data: Path, corpora: list[str], copies: int) -> dict[str, float]:
    """SNR percentiles of the recordings the model learned from, as inference measures them (whole clips), for the
    card: every clip of the training corpora and its augmented renditions (the same seeds as the feature cache).
    """
    snrs = []
    for name in corpora:
        corpus = load_corpus(name, data / name)
        for i, path in enumerate(corpus.paths):
            audio = load_audio(path)
            snrs.append(snr_db(audio))
            snrs += [snr_db(random_recording(audio, np.random.default_rng([copy, i]))) for copy in range(1, copies + 1)]
    return snr_reference(snrs)


if __name__ == "__main__":
    from emofuse.train.args import add_speech_arguments

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_speech_arguments(parser)
    run(parser.parse_args())
