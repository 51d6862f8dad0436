"""Speaker, session and corpus adaptation of the speech model: each mode against none, speaker-independent.

Reads the speech recipe's state cache (clip-level Whisper features; run `emofuse train speech` first) and
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

Batches estimate their emotion mix as the product does (emofuse.audio.adapt.batch_mix) and average the adapted
reading with the plain one. A second table runs batches that hold only a few emotions (SUBSETS), against the mix
estimate used before (half the plain head's mean reading, half all emotions alike).

Protocols: (a) RAVDESS + EmoDB training, folds as in the recipe (4 RAVDESS actors + 2 EmoDB speakers held out);
(c) RAVDESS-only training, scored on EmoDB (6 classes) and the 9 CREMA-D clips.

    python benchmarks/adaptation.py [--features ~/.cache/emofuse/speech/states] [--copies 2]
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
    batch_mix,
    enrol_profile,
    estimated_mix,
    even_mix,
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
    predict,
    referenced,
    renditions,
    states_pool,
)
from emofuse.train.whisper_states import load_states

NEUTRAL = SPEECH_LABELS.index("neutral")
MODES: tuple[str, ...] = (
    "none", "enrol 1", "enrol 2", "enrol 4", "session (50% neutral)", "enrol 2 + session (50% neutral)",
    "batch per speaker", "batch per speaker (50% neutral)", "batch per corpus", "enrol 2 + plain head",
    "session (50% neutral) + plain head", "batch per speaker, adapted reading alone",
    "batch per speaker (50% neutral), adapted reading alone", "batch per corpus, adapted reading alone")
"""Batch modes read as the product does: the mix by ``adapt.batch_mix``, the reading averaged with the plain head's
(", adapted reading alone": not averaged)."""
ALONE = ", adapted reading alone"
SUBSETS = {"all": None, "angry, happy, sad": ("angry", "happy", "sad"),
           "no neutral": tuple(label for label in SPEECH_LABELS if label != "neutral"),
           "happy, fearful, surprised": ("happy", "fearful", "surprised"),
           "neutral, calm, sad": ("neutral", "calm", "sad"), "angry only": ("angry",)}
"""Test clips kept in the few-emotion batches (a corpus without an emotion keeps the rest)."""
SUBSET_MODES = ("none", "batch per corpus, mix as before (half the mean reading)", "batch per corpus",
                "batch per speaker", "batch per corpus" + ALONE, "batch per speaker" + ALONE)


def batch_reference(x: np.ndarray, plain_probs: np.ndarray, read_adapted, offsets: np.ndarray,
                    mix_trust: float | None = None, prior_windows: float = 0.0) -> np.ndarray:
    """A batch's reference as the product makes it (``mix_trust`` given: the earlier mix, half the mean reading;
    ``prior_windows``: EM's prior toward an even mix, adapt.em_mix)."""
    if mix_trust is not None:
        return balanced_mean(x, estimated_mix(plain_probs.mean(0), mix_trust), offsets)
    alike = read_adapted(x, balanced_mean(x, even_mix(), offsets))
    return balanced_mean(x, batch_mix(plain_probs, alike, prior_windows), offsets)


def references(test: Pool, plain_probs: np.ndarray, mode: str, offsets: np.ndarray, train_mean: np.ndarray,
               rng: np.random.Generator, read_adapted, mix_trust: float = MIX_TRUST, prior_windows: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip reference (N, ...) for ``mode`` and the mask of clips that are scored; ``plain_probs``: the plain
    head's reading of ``test``, which estimates the emotion mix of sessions (and with ``read_adapted(x, reference)``,
    the adapted head, of batches) as the product does."""
    refs = np.zeros_like(test.x, dtype=np.float32)
    scored = np.ones(len(test.y), bool)
    if mode.startswith("batch per corpus"):
        trust = mix_trust if "as before" in mode else None
        for corpus in np.unique(test.corpus):
            rows = test.corpus == corpus
            refs[rows] = batch_reference(test.x[rows], plain_probs[rows], read_adapted, offsets, trust, prior_windows)
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
            refs[rows] = batch_reference(test.x[heard], plain_probs[heard], read_adapted, offsets,
                                         prior_windows=prior_windows)
    return refs, scored


def score(test: Pool, probs: np.ndarray, scored: np.ndarray, classes: dict[str, list[int]] | None = None
          ) -> dict[str, float]:
    """Accuracy per corpus, argmax over the corpus's emotions (``classes``, default: those ``test`` holds)."""
    out = {}
    for corpus in sorted(set(test.corpus.tolist())):
        rows = scored & (test.corpus == corpus)
        allowed = classes[corpus] if classes else corpus_classes(test, corpus)
        out[corpus] = corpus_accuracy(probs[rows], test.y[rows], allowed)
    return out


def heads(train: Pool, config: HeadConfig, adapted_training: str = "speaker mean") -> dict:
    """The plain and the adapted head trained on ``train`` (the adapted one on features minus each training
    speaker's mean, "speaker mean", or minus enrolment-like references, "enrolments"), and the references'
    statistics."""
    plain, plain_norm = fit(train, config, 0)
    shifted_train = referenced(train) if adapted_training == "speaker mean" else enrolment_referenced(train)
    adapted, adapted_norm = fit(shifted_train, config, 0)
    clean = train.take(train.copy == 0)

    def read_adapted(x: np.ndarray, refs: np.ndarray) -> np.ndarray:
        shifted = Pool(x - refs, np.zeros(len(x), int), np.zeros(len(x)), np.zeros(len(x)), np.zeros(len(x)))
        return predict(adapted, adapted_norm, shifted, config)

    return {"plain": lambda pool: predict(plain, plain_norm, pool, config), "read_adapted": read_adapted,
            "offsets": class_offsets(clean), "train_mean": clean.x.astype(np.float32).mean(0)}


def evaluate(model: dict, test: Pool, draws: int, mix_trust: float = MIX_TRUST) -> dict[str, dict[str, float]]:
    """Accuracy per corpus of ``test`` under every mode, with ``heads``' model."""
    plain_probs = model["plain"](test)
    results = {"none": score(test, plain_probs, np.ones(len(test.y), bool))}
    for mode in MODES[1:]:
        base = mode.removesuffix(" + plain head").removesuffix(ALONE)
        runs = []
        for draw in range(draws if base.startswith(("enrol", "session")) or "50%" in base else 1):
            refs, scored = references(test, plain_probs, base, model["offsets"], model["train_mean"],
                                      np.random.default_rng(draw), model["read_adapted"], mix_trust)
            probs = model["read_adapted"](test.x, refs)
            if mode.endswith(" + plain head") or (base.startswith("batch") and not mode.endswith(ALONE)):
                probs = pooled(probs, plain_probs)  # averaged, as the product reads a profile
            runs.append(score(test, probs, scored))
        results[mode] = {c: float(np.mean([r[c] for r in runs])) for c in runs[0]}
    return results


def pooled(adapted: np.ndarray, plain: np.ndarray, pooling: tuple[str, float] = ("mean", 0.5)) -> np.ndarray:
    """A batch's two readings (N, 8) pooled as ``pooling`` says: ("mean", w) w x adapted + (1 - w) x plain (as
    shipped, w = 0.5), ("geo", w) adapted^w x plain^(1 - w) (log-linear; argmax needs no renormalising)."""
    rule, weight = pooling
    if rule == "geo":
        return np.maximum(adapted, 1e-9) ** weight * np.maximum(plain, 1e-9) ** (1 - weight)
    return weight * adapted + (1 - weight) * plain


def evaluate_subsets(model: dict, test: Pool, prior_windows: float = 0.0, pooling: tuple[str, float] = ("mean", 0.5)
                     ) -> dict[str, dict[str, dict[str, float]]]:
    """{subset: {mode: {corpus: accuracy}}}: batches of ``test`` that hold only some emotions (SUBSETS), scored with
    the argmax over all of the corpus's emotions, adapted as a batch (per corpus or per speaker) or not; the
    readings pooled with the plain head's by ``pooling`` (``pooled``)."""
    classes = {c: corpus_classes(test, c) for c in set(test.corpus.tolist())}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, labels in SUBSETS.items():
        keep = np.ones(len(test.y), bool) if labels is None else np.isin(
            test.y, [SPEECH_LABELS.index(label) for label in labels])
        subset = test.take(keep)
        plain_probs = model["plain"](subset)
        out[name] = {"none": score(subset, plain_probs, np.ones(len(subset.y), bool), classes)}
        for mode in SUBSET_MODES[1:]:
            refs, scored = references(subset, plain_probs, mode.removesuffix(ALONE), model["offsets"],
                                      model["train_mean"], np.random.default_rng(0), model["read_adapted"],
                                      prior_windows=prior_windows)
            probs = model["read_adapted"](subset.x, refs)
            if "as before" not in mode and not mode.endswith(ALONE):  # both readings of the voice, pooled
                probs = pooled(probs, plain_probs, pooling)
            out[name][mode] = score(subset, probs, scored, classes)
    return out


def subset_table(within: list[dict], cross: dict, modes: tuple[str, ...]) -> list[dict]:
    """Rows of the few-emotion table: per subset and mode, the mean over CV folds (``within``, one
    ``evaluate_subsets`` result per fold) and the RAVDESS-only model on EmoDB (``cross``)."""
    return [{"batch holds": name, "mode": mode,
             **{f"{corpus} CV": float(np.mean([f[name][mode][corpus] for f in within]))
                for corpus in ("ravdess", "emodb")},
             "EmoDB, RAVDESS-only model": cross[name][mode]["emodb"]}
            for name in SUBSETS for mode in modes]


SWEEP_MODES = ("none", "batch per corpus", "batch per speaker")


def subset_sweep(name: str, settings: dict[str, dict], config: HeadConfig, load, copies: int,
                 adapted_training: str, protocol: str) -> None:
    """The few-emotion batches under each of ``settings`` ({column value: evaluate_subsets keywords}): CV folds and
    the RAVDESS-only model on EmoDB, the heads trained once; saves ``name``."""
    pool = load(["ravdess", "emodb"], copies)
    folds = [(heads(pool.take(~held), config, adapted_training), pool.take(held & (pool.copy == 0)))
             for held in (fold_masks(pool, k) for k in range(len(ACTOR_FOLDS)))]
    across = heads(load(["ravdess"], copies), config, adapted_training), load(["emodb"], 0)
    rows = []
    for setting, keywords in settings.items():
        within = [evaluate_subsets(model, test, **keywords) for model, test in folds]
        rows += [{"setting": setting, **row}
                 for row in subset_table(within, evaluate_subsets(*across, **keywords), SWEEP_MODES)]
    table(rows)
    save(name, {"protocol": "the few-emotion batches of adaptation.json (held-out clips of each fold restricted to the "
                            "emotions named; argmax over all of the corpus's emotions), " + protocol,
                "head": config.name, "rows": rows})


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
    parser.add_argument("--features", type=Path, default=Path("~/.cache/emofuse/speech/states").expanduser(),
                        help="the speech recipe's state cache (default: %(default)s)")
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
    parser.add_argument("--em-priors", help="instead of the usual tables: the few-emotion batches with EM priors "
                                            "toward an even mix of these many windows, e.g. 0,4,16,64")
    parser.add_argument("--pooling", help="instead of the usual tables: the few-emotion batches with the two readings "
                                          "pooled by these rules, e.g. mean:0.5,geo:0.5 (rule:weight of the adapted "
                                          "reading; mean as shipped)")
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
    if args.smoke:  # synthetic features, one short head, one draw
        config, args.draws = HeadConfig(config.layers, config.pooling, config.hidden, config.mix, 2, 1), 1

    def load(corpora: list[str], copies: int) -> Pool:
        if args.smoke:
            return synthetic_pool(corpora, copies)
        return states_pool(load_states(args.features, renditions(corpora, [], copies, 0), frames=False))

    if args.em_priors:
        subset_sweep("adaptation_em_prior_sweep",
                     {p: {"prior_windows": float(p)} for p in args.em_priors.split(",")}, config, load, args.copies,
                     args.adapted_training, "batches adapted with the mix estimated by EM with that many windows "
                                            "spread over all emotions added (a Dirichlet prior toward even)")
        return
    if args.pooling:
        subset_sweep("adaptation_pooling_sweep",
                     {rule: {"pooling": (rule.split(":")[0], float(rule.split(":")[1]))}
                      for rule in args.pooling.split(",")}, config, load, args.copies, args.adapted_training,
                     "the adapted reading pooled with the plain head's: mean:w = w x adapted + (1 - w) x plain, "
                     "geo:w = adapted^w x plain^(1 - w)")
        return
    pool = load(["ravdess", "emodb"], args.copies)
    folds, subset_folds = [], []
    for k in range(len(ACTOR_FOLDS)):
        held = fold_masks(pool, k)
        model, test = heads(pool.take(~held), config, args.adapted_training), pool.take(held & (pool.copy == 0))
        folds.append(evaluate(model, test, args.draws, args.mix_trust))
        subset_folds.append(evaluate_subsets(model, test))
        print(f"fold {k + 1}:", {m: {c: round(v, 3) for c, v in r.items()} for m, r in folds[-1].items()}, flush=True)
    within = {m: {c: float(np.mean([f[m][c] for f in folds])) for c in folds[0][m]} for m in MODES}
    model = heads(load(["ravdess"], args.copies), config, args.adapted_training)
    others = load(["emodb", "crema_d"], 0)
    cross = evaluate(model, others, args.draws, args.mix_trust)
    cross_subsets = evaluate_subsets(model, others.take(others.corpus == "emodb"))
    rows = [{"mode": m, "RAVDESS CV (8 cl.)": within[m]["ravdess"], "EmoDB CV (6 cl.)": within[m]["emodb"],
             "EmoDB, RAVDESS-only model": cross[m]["emodb"], "CREMA-D 9, RAVDESS-only model": cross[m]["crema_d"]}
            for m in MODES]
    table(rows)
    subset_rows = subset_table(subset_folds, cross_subsets, SUBSET_MODES)
    print()
    table(subset_rows)
    name = "adaptation" if args.adapted_training == "speaker mean" else "adaptation_enrolment_trained"
    name = "adaptation_prior_sweep" if args.enrol_priors else name
    name = name if args.mix_trust == MIX_TRUST else f"{name}_mix_trust_{args.mix_trust:g}"
    save(name, {
        "protocol": "clip-level features of the speech recipe's cache; (a) RAVDESS + EmoDB training, 5 folds of 4 "
                    "RAVDESS actors + 2 EmoDB speakers held out; (c) RAVDESS-only training scored on EmoDB (6 "
                    "classes) and 9 CREMA-D clips; enrolment clips are not scored; enrol/session: mean of "
                    f"{args.draws} random draws; sessions: emotion mix from the plain head's readings, trusted "
                    f"{args.mix_trust:g}; batches: mix by EM over the plain and the even-referenced adapted readings "
                    "(adapt.batch_mix), read averaged with the plain head unless 'adapted reading alone'",
        "mix_trust": args.mix_trust, "head": config.name,
        "adapted_head_trained_on": args.adapted_training,
        "rows": rows, "folds": folds, "subset_rows": subset_rows,
        "subsets_protocol": "the held-out clips of each fold (and EmoDB for the RAVDESS-only model) restricted to the "
                            "emotions named, adapted as one batch per corpus or per speaker; argmax over all of the "
                            "corpus's emotions (RAVDESS 8, EmoDB 6), so a batch's missing emotions can still be "
                            "chosen"})


if __name__ == "__main__":
    main()
