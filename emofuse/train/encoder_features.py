"""Frozen Whisper features of whole corpora, every layer (base or tiny.en), computed once and cached: for studies
of which layer carries emotion. The speech recipe reads emofuse.train.whisper_states instead (blocks 1-3 and the
frames fine-tuning needs); the corpora's clip lists (``load_corpus``) live here.

Each clip (silence trimmed, as inference's voice activity windows are) goes through the full encoder at its own
length; the cache keeps, per clip and per layer, the mean and the standard deviation over time (float16), so
every later choice (layers, pooling, head, normalisation) trains in seconds. ``copies`` > 0 adds augmented
renditions (emofuse.train.augment), seeded per clip and copy, so a rerun gives identical features.

    python -m emofuse.train.encoder_features --model base --out runs/whisper_features [--copies 2]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emofuse.audio.vad import trim_silence
from emofuse.audio.whisper import whisper_log_mel
from emofuse.datasets import list_cremad, list_emodb, list_ravdess
from emofuse.labels import SPEECH_LABELS
from emofuse.media import load_audio
from emofuse.train.augment import VERSION, random_recording
from emofuse.train.common import Timer, log, setup_logging
from emofuse.train.whisper import load_encoder

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class Corpus:
    """Clips of one corpus: paths, label indices (SPEECH_LABELS), speaker ids."""

    name: str
    paths: list[Path]
    labels: np.ndarray
    speakers: np.ndarray


def load_corpus(name: str, root: Path) -> Corpus:
    """RAVDESS (actors 01-20, speech), EmoDB (6 shared emotions) or CREMA-D clips below ``root``."""
    if name == "ravdess":
        ravdess = list_ravdess(root, actors=set(range(1, 21)))
        paths, labels, speakers = [c.path for c in ravdess], [c.label for c in ravdess], [c.actor for c in ravdess]
    elif name == "emodb":
        emodb = list_emodb(root)
        paths, speakers = [c.path for c in emodb], [c.speaker for c in emodb]
        labels = [c.label for c in emodb if c.label is not None]  # list_emodb keeps labelled clips only
    elif name == "crema_d":
        cremad = list_cremad(root)
        paths, labels, speakers = [c.path for c in cremad], [c.label for c in cremad], [c.actor for c in cremad]
    else:
        raise ValueError(f"unknown corpus {name!r}")
    return Corpus(name, paths, np.array([SPEECH_LABELS.index(label) for label in labels]), np.array(speakers))


@torch.no_grad()
def pooled_states(encoder: torch.nn.Module, audio: np.ndarray) -> np.ndarray:
    """(layers, 2, width): mean and std over time of every hidden state of ``audio``."""
    mel = torch.from_numpy(whisper_log_mel(audio)[None])
    states = encoder(mel)[0]
    return torch.stack([states.mean(dim=1), states.std(dim=1)], dim=1).numpy()


def cache_corpus(corpus: Corpus, model: str, copy: int, out: Path, encoder=None) -> Path:
    """Cache the pooled states of ``corpus`` (copy 0: clean; k > 0: augmentation k) in ``out``; returns the file."""
    path = cache_path(out, model, corpus.name, copy)
    if path.exists():
        return path
    encoder = encoder or load_encoder(model)
    timer, feats = Timer(), []
    for i, clip in enumerate(corpus.paths):
        audio = trim_silence(load_audio(clip))
        if copy:
            audio = random_recording(audio, np.random.default_rng([copy, i]))
        feats.append(pooled_states(encoder, audio).astype(np.float16))
        if i % 200 == 0:
            log.info("%s %s copy %d: %d/%d (%s)", model, corpus.name, copy, i, len(corpus.paths), timer)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=np.stack(feats), labels=corpus.labels, speakers=corpus.speakers,
             paths=np.array([p.name for p in corpus.paths]))
    tmp.replace(path)
    log.info("%s %s copy %d cached in %s", model, corpus.name, copy, timer)
    return path


def cache_path(out: Path, model: str, corpus: str, copy: int = 0) -> Path:
    """``base_ravdess_clean.npz``; augmented copies carry the augmentation's version: ``base_ravdess_noise2-1.npz``."""
    return out / f"{model}_{corpus}_{'clean' if copy == 0 else f'{VERSION}-{copy}'}.npz"


def load_cached(out: Path, model: str, corpus: str, copy: int = 0) -> dict[str, np.ndarray]:
    with np.load(cache_path(out, model, corpus, copy), allow_pickle=False) as stored:
        return {k: stored[k] for k in stored.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base", choices=["base", "tiny.en"])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding ravdess/, emodb/, crema_d/")
    parser.add_argument("--out", type=Path, default=Path("runs/whisper_features"))
    parser.add_argument("--copies", type=int, default=0, help="augmented copies of the training corpora")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    setup_logging(args.out)
    torch.set_num_threads(args.threads)
    encoder = load_encoder(args.model)
    corpora = [load_corpus(n, args.data / n) for n in ("ravdess", "emodb", "crema_d") if (args.data / n).is_dir()]
    for copy in range(args.copies + 1):
        for corpus in corpora:
            if copy == 0 or corpus.name != "crema_d":
                cache_corpus(corpus, args.model, copy, args.out, encoder)


if __name__ == "__main__":
    main()
