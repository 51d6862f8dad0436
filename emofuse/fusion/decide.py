"""Fusion decisions: per window (the timeline) and per clip, by the rule or a learned fusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from emofuse.fusion.combine import FusionConfig, fuse, fusion_weights
from emofuse.fusion.evidence import ModalityEvidence, Window, clip_evidence
from emofuse.fusion.learned import LearnedFusion
from emofuse.labels import FUSION_LABELS
from emofuse.results import FaceResult, FusedResult, Segment, SpeechResult


def fuse_windows(speech: ModalityEvidence, face: ModalityEvidence, config: FusionConfig,
                 learned: LearnedFusion | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """Fused probabilities and sources per window, by the rule or (where given, and both modalities count) the
    learned fusion; a window with one modality reports that modality's own probabilities."""
    fused, sources = fuse(speech, face, config)
    if learned is not None:
        predicted = learned.predict_proba(LearnedFusion.features(speech, face))
        fused = np.where(np.array([len(s) == 2 for s in sources])[:, None], predicted, fused).astype(np.float32)
    return fused, sources


def speech_domain_match(speech: SpeechResult | None, config: FusionConfig) -> float:
    """The speech result's ``domain_match`` (emofuse.audio.quality), or 1 where fusion is told to ignore it."""
    if speech is None or not config.use_domain_match:
        return 1.0
    return float(speech.domain_match)


def fuse_clip(speech: SpeechResult | None, face: FaceResult | None, reliability: Mapping[str, float],
              config: FusionConfig, learned: LearnedFusion | None = None,
              segments: Sequence[Segment] = ()) -> FusedResult:
    """The fused result of a clip from its speech and face results and their clip reliabilities in [0, 1].

    Fusing clip summaries (rather than pooling windows) keeps a modality that covers more of the clip
    (faces are on screen longer than anyone speaks) from outvoting the other. ``segments``: the fused timeline.
    """
    speech_ev = clip_evidence(speech, reliability["speech"], config.speech_temperature,
                              speech_domain_match(speech, config))
    face_ev = clip_evidence(face, reliability["face"], config.face_temperature)
    fused, sources = fuse_windows(speech_ev, face_ev, config, learned)
    used = {"speech": float(speech_ev.reliability[0]), "face": float(face_ev.reliability[0])}
    return FusedResult(labels=FUSION_LABELS, probs=fused[0] if sources[0] else None, segments=tuple(segments),
                       sources=tuple(sources[0]), reliability=used,
                       weights=None if learned else weight_shares(speech_ev, face_ev, config))


def fuse_timeline(speech: SpeechResult | None, speech_ev: ModalityEvidence, face: FaceResult | None,
                  face_ev: ModalityEvidence, windows: Sequence[Window], hop: float, config: FusionConfig,
                  learned: LearnedFusion | None = None) -> FusedResult:
    """Fused windows for the timeline (windows no modality covers are left out); the clip label fuses each
    modality's clip summary, weighted by how much of the clip backs it."""
    fused, sources = fuse_windows(speech_ev, face_ev, config, learned)
    segments = [Segment(start, end, probs, sources=tuple(src))
                for (start, end), probs, src in zip(windows, fused, sources) if src]
    reliability = {"speech": speech_ev.amount(hop), "face": face_ev.amount(hop)}
    return fuse_clip(speech, face, reliability, config, learned, segments)


def weight_shares(speech: ModalityEvidence, face: ModalityEvidence, config: FusionConfig) -> dict[str, float]:
    """Each modality's share of the first window's pooling weight (both 0 when neither is present)."""
    w_speech, w_face = (float(w[0]) for w in fusion_weights(speech, face, config))
    total = w_speech + w_face
    return {"speech": w_speech / total if total else 0.0, "face": w_face / total if total else 0.0}
