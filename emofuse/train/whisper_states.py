"""Whisper's frozen lower blocks run once per clip and rendition: the cache that partial fine-tuning trains from.

Fine-tuning only the top block(s) of the cut encoder needs, per clip, the hidden states *entering* the trainable
part (frames x 512) and the pooled outputs of the frozen layers the head reads. One pass of the encoder cut after
``TOP`` blocks stores, per clip (silence trimmed, as in emofuse.train.encoder_features):

- ``pooled`` (N, TOP + 1, 2, width): mean and std over time of L0..L{TOP} (the frozen recipe's layout, so
  emofuse.train.speech's heads read this cache as they read the full one);
- ``frames_L1``, ``frames_L2`` (sum of lengths, width): every frame of layers 1 and 2, float16, clips end to end
  (``lengths`` says where each ends): what blocks 2-3 or block 3 alone are fine-tuned from.

Renditions: ``clean``; ``noise2-k`` (emofuse.train.augment.random_recording, as the frozen cache); ``warp-k`` (a
speaker perturbation: the spectrum's frequency axis warped, emofuse.train.augment.random_warp, then the noise chain).
Files are written atomically; a rerun skips what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emofuse.audio.vad import trim_silence
from emofuse.audio.whisper import whisper_log_mel
from emofuse.media import load_audio
from emofuse.train.augment import VERSION, random_recording, random_warp
from emofuse.train.common import Timer, log
from emofuse.train.encoder_features import Corpus
from emofuse.train.whisper import WhisperEncoder, load_encoder

TOP = 3
"""The shipped encoder is cut after block 3; its blocks 2-3 are the trainable ones here."""
FRAME_LAYERS = (1, 2)
MAX_SECONDS = 8.0
"""Longer clips are cut to their first 8 s (EmoDB's longest are ~9 s), bounding the cache and the attention."""


def rendition_name(copy: int, warp: bool = False) -> str:
    """``clean`` (copy 0), ``noise2-1``... or, with ``warp``, ``warp-1``..."""
    if copy == 0:
        return "clean"
    return f"warp-{copy}" if warp else f"{VERSION}-{copy}"


def pooled_features(pooled: np.ndarray, layers: tuple[int, ...] | list[int], with_std: bool = False) -> np.ndarray:
    """(N, len(layers) * width * (1 or 2)) float32 from ``pooled`` (N, layers, 2, width): the layers' means (and
    stds), layer by layer."""
    stats = [0, 1] if with_std else [0]
    return pooled[:, list(layers)][:, :, stats].reshape(len(pooled), -1).astype(np.float32)


def parse_rendition(name: str) -> tuple[int, bool]:
    """``rendition_name``'s inverse: (copy, warp)."""
    return (0, False) if name == "clean" else (int(name.rsplit("-", 1)[1]), name.startswith("warp-"))


def states_path(out: Path, corpus: str, rendition: str) -> Path:
    return out / f"states_base_{corpus}_{rendition}.npz"


@torch.no_grad()
def clip_states(encoder: WhisperEncoder, audio: np.ndarray, warp: float = 1.0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(pooled (layers, 2, width), [frames of each FRAME_LAYERS layer (T, width)]) of one clip."""
    mel = torch.from_numpy(whisper_log_mel(audio, warp=warp)[None])
    states = encoder.hidden_states(mel)
    pooled = torch.stack([torch.stack([s[0].mean(0), s[0].std(0)]) for s in states]).numpy()
    return pooled, [states[i][0].numpy() for i in FRAME_LAYERS]


def cache_states(corpus: Corpus, copy: int, out: Path, warp: bool = False,
                 encoder: WhisperEncoder | None = None) -> Path:
    """Cache the states of ``corpus`` in one rendition (see the module doc); returns the file."""
    path = states_path(out, corpus.name, rendition_name(copy, warp))
    if path.exists():
        return path
    encoder = encoder or load_encoder("base", TOP)
    timer = Timer()
    pooled, lengths = [], []
    frames: list[list[np.ndarray]] = [[] for _ in FRAME_LAYERS]
    for i, clip in enumerate(corpus.paths):
        audio = trim_silence(load_audio(clip))[: int(MAX_SECONDS * 16000)]
        rng = np.random.default_rng([copy, i, 7] if warp else [copy, i])  # noise: as the SNR reference draws it
        alpha = random_warp(rng) if warp else 1.0
        if copy:
            audio = random_recording(audio, rng)
        p, f = clip_states(encoder, audio, alpha)
        pooled.append(p.astype(np.float16))
        for store, layer in zip(frames, f):
            store.append(layer.astype(np.float16))
        lengths.append(len(f[0]))
        if i % 300 == 0:
            log.info("states %s %s: %d/%d (%s)", corpus.name, rendition_name(copy, warp), i, len(corpus.paths), timer)
    tmp = path.with_suffix(".tmp.npz")
    arrays = {"pooled": np.stack(pooled), "lengths": np.array(lengths), "labels": corpus.labels,
              "speakers": corpus.speakers, "paths": np.array([p.name for p in corpus.paths]),
              **{f"frames_L{layer}": np.concatenate(store) for layer, store in zip(FRAME_LAYERS, frames)}}
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    log.info("states %s %s cached in %s", corpus.name, rendition_name(copy, warp), timer)
    return path


@dataclass
class States:
    """Cached states of clips from several corpora and renditions (see the module doc), with their metadata."""

    pooled: np.ndarray  # (N, TOP + 1, 2, width) float16
    frames: dict[int, np.ndarray]  # layer -> (sum of lengths, width) float16
    starts: np.ndarray  # (N,) first frame of each clip
    lengths: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray
    corpus: np.ndarray
    copy: np.ndarray  # 0 clean, >0 an augmented rendition

    def clip_frames(self, layer: int, i: int) -> np.ndarray:
        return self.frames[layer][self.starts[i]:self.starts[i] + self.lengths[i]]


def load_states(out: Path, renditions: dict[str, list[str]], frames: bool = True) -> States:
    """The cached states of ``{corpus: [rendition, ...]}``; copies are numbered in the order given (clean = 0).
    Without ``frames`` only the pooled features are read (frozen heads need nothing else)."""
    parts = []
    for corpus, names in renditions.items():
        for number, name in enumerate(names):
            with np.load(states_path(out, corpus, name), allow_pickle=False) as stored:
                keys = [k for k in stored.files if frames or not k.startswith("frames_")]
                parts.append((corpus, number, {k: stored[k] for k in keys}))
    lengths = np.concatenate([p["lengths"] for _, _, p in parts])
    return States(
        pooled=np.concatenate([p["pooled"] for _, _, p in parts]),
        frames={layer: np.concatenate([p[f"frames_L{layer}"] for _, _, p in parts]) for layer in FRAME_LAYERS
                if frames},
        starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64), lengths=lengths,
        labels=np.concatenate([p["labels"] for _, _, p in parts]),
        speakers=np.concatenate([p["speakers"] for _, _, p in parts]),
        corpus=np.concatenate([[c] * len(p["labels"]) for c, _, p in parts]),
        copy=np.concatenate([[n] * len(p["labels"]) for _, n, p in parts]))


def main() -> None:
    import argparse

    from emofuse.train.common import setup_logging
    from emofuse.train.encoder_features import SHARED_DATA, load_corpus

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding ravdess/, emodb/, crema_d/")
    parser.add_argument("--out", type=Path, default=Path("~/.cache/emofuse/speech/states").expanduser())
    parser.add_argument("--copies", type=int, default=2, help="noise renditions of the training corpora")
    parser.add_argument("--warps", type=int, default=1, help="speaker-perturbed renditions of the training corpora")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    setup_logging(args.out)
    torch.set_num_threads(args.threads)
    encoder = load_encoder("base", TOP)
    corpora = [load_corpus(n, args.data / n) for n in ("ravdess", "emodb", "crema_d") if (args.data / n).is_dir()]
    jobs = [(0, False), *((k, False) for k in range(1, args.copies + 1)),
            *((k, True) for k in range(1, args.warps + 1))]
    for copy, warp in jobs:
        for corpus in corpora:
            if copy == 0 or corpus.name != "crema_d":
                cache_states(corpus, copy, args.out, warp, encoder)


if __name__ == "__main__":
    main()
