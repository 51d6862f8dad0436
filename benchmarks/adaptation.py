"""Speaker, session and corpus adaptation of the speech model: each mode against none, speaker-independent.

Reads the speech recipe's feature cache (clip-level Whisper features; run `emofuse train speech` first) and
trains, per fold, the shipped head configuration twice: on plain features (mode "none") and on speaker-referenced
features (each training speaker's and room's mean subtracted), which the adaptation modes feed:

- enrol k: k neutral clips of the test speaker made into a profile as ``emofuse enrol`` does
  (emofuse.audio.adapt.enrol_profile); those k clips are left out of scoring (k = 1, 2, 4; 3 random draws averaged);
- session (imbalanced): the running reference (emofuse.audio.adapt.SessionReference) after an unlabelled subset of
  the speaker's clips, half of them neutral, the rest random (the mix a calm conversation has); its emotion mix
  estimated by the plain head, as in the product;
- enrol 2 + session: a session that starts from a 2-clip enrolment (``--profile me.json --adapt session``): the
  enrolment clips are not scored and the session is the speaker's other neutral clips and as many random others;
- batch per speaker: all the speaker's clips (unlabelled; on RAVDESS every actor has every emotion, so this is the
  balanced best case), and the half-neutral subset of the session protocol as a batch (no prior);
- batch per corpus: all test clips of the corpus (grouped by nothing).

Protocols: (a) RAVDESS + EmoDB training, folds as in the recipe (4 RAVDESS actors + 2 EmoDB speakers held out);
(c) RAVDESS-only training, scored on EmoDB (6 classes) and the 9 CREMA-D clips.

    python benchmarks/adaptation.py --features runs/whisper_features [--copies 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import parse_args, save, table

from emofuse.audio.adapt import (
    MIX_TRUST,
    SESSION_PRIOR_WINDOWS,
    SessionReference,
    balanced_mean,
    enrol_profile,
    estimated_mix,
)
from emofuse.datasets.ravdess import ACTOR_FOLDS
from emofuse.labels import SPEECH_LABELS
from emofuse.models import load_card
from emofuse.train.speech import (
    HeadConfig,
    Pool,
    class_offsets,
    corpus_accuracy,
    corpus_classes,
    enrolment_referenced,
    fit,
    fold_masks,
    load_pool,
    predict,
    referenced,
)

NEUTRAL = SPEECH_LABELS.index("neutral")
MODES = ("none", "enrol 1", "enrol 2", "enrol 4", "session (50% neutral)", "enrol 2 + session (50% neutral)",
         "batch per speaker", "batch per speaker (50% neutral)", "batch per corpus", "enrol 2 + plain head",
         "session (50% neutral) + plain head", "batch per speaker + plain head")


def references(test: Pool, plain_probs: np.ndarray, mode: str, offsets: np.ndarray, train_mean: np.ndarray,
               rng: np.random.Generator, mix_trust: float = MIX_TRUST) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip reference (N, ...) for ``mode`` and the mask of clips that are scored; ``plain_probs``: the plain
    head's reading of ``test``, which estimates the emotion mix of sessions and batches as the product does."""
    refs = np.zeros_like(test.x, dtype=np.float32)
    scored = np.ones(len(test.y), bool)
    if mode == "batch per corpus":
        for corpus in np.unique(test.corpus):
            rows = test.corpus == corpus
            refs[rows] = balanced_mean(test.x[rows], estimated_mix(plain_probs[rows].mean(0), mix_trust), offsets)
        return refs, scored
    for corpus, speaker in sorted(set(zip(test.corpus.tolist(), test.speakers.tolist()))):  # fixed order, fixed draws
        rows = np.flatnonzero((test.corpus == corpus) & (test.speakers == speaker))
        neutral = rows[test.y[rows] == NEUTRAL]
        enrolment = None
        if mode.startswith("enrol"):
            k = min(int(mode.split()[1]), len(neutral))
            chosen = rng.choice(neutral, size=k, replace=False)
            prior = float(mode.split("prior ")[1].split(")")[0]) if "prior " in mode else SESSION_PRIOR_WINDOWS
            enrolment = enrol_profile(test.x[chosen].astype(np.float32), 0.0, offsets, train_mean, prior)
            refs[rows] = enrolment.mean
            scored[chosen] = False
            neutral = np.setdiff1d(neutral, chosen)
        heard = rows
        if "50% neutral" in mode:
            others = rng.choice(rows[test.y[rows] != NEUTRAL], size=len(neutral), replace=False)
            heard = np.concatenate([neutral, others])
        if "session" in mode:
            session = SessionReference(offsets, train_mean, start=enrolment, mix_trust=mix_trust)
            session.update(test.x[heard].astype(np.float32), plain_probs[heard], 0.0)
            refs[rows] = session.profile().mean
        elif mode.startswith("batch"):
            refs[rows] = balanced_mean(test.x[heard], estimated_mix(plain_probs[heard].mean(0), mix_trust), offsets)
    return refs, scored


def score(test: Pool, probs: np.ndarray, scored: np.ndarray) -> dict[str, float]:
    out = {}
    for corpus in sorted(set(test.corpus.tolist())):
        rows = scored & (test.corpus == corpus)
        out[corpus] = corpus_accuracy(probs[rows], test.y[rows], corpus_classes(test, corpus))
    return out


def evaluate(train: Pool, test: Pool, config: HeadConfig, draws: int, adapted_training: str = "speaker mean",
             mix_trust: float = MIX_TRUST) -> dict[str, dict[str, float]]:
    """Accuracy per corpus of ``test`` under every mode, heads trained on ``train``; the adapted head on features
    minus each training speaker's mean ("speaker mean") or minus enrolment-like references ("enrolments")."""
    plain, plain_norm = fit(train, config, 0)
    shifted_train = referenced(train) if adapted_training == "speaker mean" else enrolment_referenced(train)
    adapted, adapted_norm = fit(shifted_train, config, 0)
    clean = train.take(train.copy == 0)
    offsets, train_mean = class_offsets(clean), clean.x.astype(np.float32).mean(0)
    plain_probs = predict(plain, plain_norm, test, config)
    results = {"none": score(test, plain_probs, np.ones(len(test.y), bool))}
    for mode in MODES[1:]:
        base = mode.removesuffix(" + plain head")
        runs = []
        for draw in range(draws if base.startswith(("enrol", "session")) or "50%" in base else 1):
            refs, scored = references(test, plain_probs, base, offsets, train_mean, np.random.default_rng(draw),
                                      mix_trust)
            shifted = Pool(test.x - refs, test.y, test.speakers, test.corpus, test.copy)
            probs = predict(adapted, adapted_norm, shifted, config)
            if mode.endswith(" + plain head"):  # both readings of the voice, averaged
                probs = (probs + plain_probs) / 2
            runs.append(score(test, probs, scored))
        results[mode] = {c: float(np.mean([r[c] for r in runs])) for c in runs[0]}
    return results


SMOKE_SPEAKERS = {"ravdess": range(1, 21), "emodb": (3, 8, 9, 10, 11, 12, 13, 14, 15, 16), "crema_d": (1001,)}


def synthetic_pool(corpora: list[str], copies: int, width: int = 8, seed: int = 0) -> Pool:
    """A smoke run's stand-in for the feature cache: 2 clips per speaker and emotion (EmoDB and CREMA-D: their 6
    shared emotions), features (N, 4 layers, mean/std, ``width``) = emotion + speaker offsets + noise."""
    rng = np.random.default_rng(seed)
    emotions = rng.normal(size=(len(SPEECH_LABELS), 4, 2, width))
    parts = []
    for corpus in corpora:
        classes = range(8) if corpus == "ravdess" else [SPEECH_LABELS.index(c) for c in
                                                        ("neutral", "happy", "sad", "angry", "fearful", "disgust")]
        for speaker in SMOKE_SPEAKERS[corpus]:
            y = np.repeat(list(classes), 2)
            x = emotions[y] + rng.normal(size=(1, 4, 2, width)) + 0.5 * rng.normal(size=(len(y), 4, 2, width))
            for copy in range(copies + 1):
                parts.append((x + 0.1 * copy, y, np.full(len(y), speaker), np.full(len(y), corpus),
                              np.full(len(y), copy)))
    return Pool(*(np.concatenate([p[i] for p in parts]) for i in range(5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=Path, default=Path("runs/whisper_features"))
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--adapted-training", default="speaker mean", choices=["speaker mean", "enrolments"],
                        help="what the adapted head is trained to expect (default: %(default)s)")
    parser.add_argument("--mix-trust", type=float, default=MIX_TRUST,
                        help="how far the plain head's readings set a session's or batch's emotion mix (default: "
                             "%(default)s, as shipped; 0: all emotions alike)")
    parser.add_argument("--enrol-priors", help="instead of the usual modes: enrol 2 + plain head with these "
                                               "shrinkage priors (windows), e.g. 0.5,1,4,8")
    args = parse_args(parser)
    if args.enrol_priors:
        global MODES
        MODES = ("none", "enrol 2", "enrol 2 + plain head",
                 *(f"enrol 2 (prior {p}) + plain head" for p in args.enrol_priors.split(",")))
    torch.set_num_threads(args.threads)
    card = load_card("speech")
    head = card["head"]
    config = HeadConfig(tuple(head["layers"]), head["pooling"], head["hidden"], head["mix"], head["epochs"],
                        head["seeds"])
    encoder = card["encoder"]["model"].split()[1]
    if args.smoke:  # synthetic features, one short head, one draw
        config, args.draws = HeadConfig(config.layers, config.pooling, config.hidden, config.mix, 2, 1), 1

    def load(corpora: list[str], copies: int) -> Pool:
        return synthetic_pool(corpora, copies) if args.smoke else load_pool(args.features, encoder, corpora, copies)

    pool = load(["ravdess", "emodb"], args.copies)
    folds = []
    for k in range(len(ACTOR_FOLDS)):
        held = fold_masks(pool, k)
        folds.append(evaluate(pool.take(~held), pool.take(held & (pool.copy == 0)), config, args.draws,
                              args.adapted_training, args.mix_trust))
        print(f"fold {k + 1}:", {m: {c: round(v, 3) for c, v in r.items()} for m, r in folds[-1].items()}, flush=True)
    within = {m: {c: float(np.mean([f[m][c] for f in folds])) for c in folds[0][m]} for m in MODES}
    ravdess_only = load(["ravdess"], args.copies)
    others = load(["emodb", "crema_d"], 0)
    cross = evaluate(ravdess_only, others, config, args.draws, args.adapted_training, args.mix_trust)
    rows = [{"mode": m, "RAVDESS CV (8 cl.)": within[m]["ravdess"], "EmoDB CV (6 cl.)": within[m]["emodb"],
             "EmoDB, RAVDESS-only model": cross[m]["emodb"], "CREMA-D 9, RAVDESS-only model": cross[m]["crema_d"]}
            for m in MODES]
    table(rows)
    name = "adaptation" if args.adapted_training == "speaker mean" else "adaptation_enrolment_trained"
    name = "adaptation_prior_sweep" if args.enrol_priors else name
    name = name if args.mix_trust == MIX_TRUST else f"{name}_mix_trust_{args.mix_trust:g}"
    save(name, {
        "protocol": "clip-level features of the speech recipe's cache; (a) RAVDESS + EmoDB training, 5 folds of 4 "
                    "RAVDESS actors + 2 EmoDB speakers held out; (c) RAVDESS-only training scored on EmoDB (6 "
                    "classes) and 9 CREMA-D clips; enrolment clips are not scored; enrol/session: mean of "
                    f"{args.draws} random draws; sessions and batches: emotion mix from the plain head's readings, "
                    f"trusted {args.mix_trust:g}", "mix_trust": args.mix_trust, "head": config.name,
        "adapted_head_trained_on": args.adapted_training,
        "rows": rows, "folds": folds})


if __name__ == "__main__":
    main()
