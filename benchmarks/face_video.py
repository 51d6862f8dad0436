"""Why do posed faces in real video read wrong? Face accuracy on the 24 paired clips under crop variants.

Every clip's frames at 5 fps, faces found once by the default detector; each variant cuts the crops differently
and the first model (the shipped one by default) classifies them. Per frame: the largest face's label (7 fusion
labels); per clip: the mean of its frames' probabilities. The clips' labels are the posed emotion (frames before
the expression forms count as wrong for everyone: compare variants, not absolute numbers). 2 RAVDESS actors and
1 CREMA-D actor: a variant that helps here must be explained, not just measured, before it ships.

A second table compares face models (``--models``: the shipped one and candidate cards) under clip rules on the
shipped crop (issue #21): how a clip's frames become its label.

    python benchmarks/face_video.py [--models shipped,~/.cache/emofuse/cand/face.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from _common import SHARED, few, parse_args, save, table

from emofuse.evaluate import list_labelled_videos
from emofuse.face.align import FER_LANDMARKS, face_crop, similarity_transform
from emofuse.face.classifier import FaceClassifier
from emofuse.face.crops import CROP_SIZE
from emofuse.labels import FACE_LABELS, FUSION_LABELS, to_fusion_label, to_fusion_probabilities
from emofuse.media import iter_video_frames
from emofuse.models import card_from_file


def zoomed(grey, det, factor: float) -> np.ndarray:
    """The aligned crop with the face made ``factor`` times larger (>1: tighter) around the landmarks' centre."""
    target = FER_LANDMARKS.mean(0) + (FER_LANDMARKS - FER_LANDMARKS.mean(0)) * factor
    matrix = similarity_transform(np.asarray(det.landmarks, np.float64), target * 2)
    big = cv2.warpAffine(grey, matrix, (CROP_SIZE * 2, CROP_SIZE * 2), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(big, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


def box_crop(grey, det, margin: float = 0.0) -> np.ndarray:
    x0, y0, x1, y1 = det.box
    side = max(x1 - x0, y1 - y0) * (1 + margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = CROP_SIZE * 2 / side
    matrix = np.array([[scale, 0, CROP_SIZE - scale * cx], [0, scale, CROP_SIZE - scale * cy]])
    big = cv2.warpAffine(grey, matrix, (CROP_SIZE * 2, CROP_SIZE * 2), borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(big, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


SHIPPED_CROP = "aligned (shipped)"
VARIANTS = {
    SHIPPED_CROP: lambda g, d: face_crop(g, d),
    "aligned + equalised": lambda g, d: cv2.equalizeHist(face_crop(g, d)),
    "aligned + CLAHE": lambda g, d: cv2.createCLAHE(2.0, (4, 4)).apply(face_crop(g, d)),
    "aligned, face 15% smaller": lambda g, d: zoomed(g, d, 0.85),
    "aligned, face 15% larger": lambda g, d: zoomed(g, d, 1.15),
    "detector box, square": lambda g, d: box_crop(g, d, 0.0),
    "detector box + 20% margin": lambda g, d: box_crop(g, d, 0.2),
}


NEUTRAL = FUSION_LABELS.index("neutral")


def most_expressive(probs: np.ndarray, share: float) -> np.ndarray:
    """The mean of the ``share`` of frames with the least neutral probability (at least one frame)."""
    keep = max(1, int(round(share * len(probs))))
    return probs[np.argsort(probs[:, NEUTRAL])[:keep]].mean(0)


CLIP_RULES = {
    "mean of probabilities (shipped)": lambda p: p.mean(0),
    "mean of log-probabilities": lambda p: np.log(np.clip(p, 1e-6, 1)).mean(0),
    "most expressive 50% of frames": lambda p: most_expressive(p, 0.5),
    "most expressive 30% of frames": lambda p: most_expressive(p, 0.3),
    "per-class maximum": lambda p: p.max(0),
}
"""A clip's scores (7 fusion labels) from its frames' probabilities (N, 7); the label is their argmax."""


def face_models(names: str) -> dict[str, FaceClassifier]:
    """``--models``: "shipped" or paths of candidate face cards (JSON, model files beside them), each named by its
    card's folder."""
    return {name if name == "shipped" else Path(name).expanduser().parent.name:
            FaceClassifier(None if name == "shipped" else card_from_file(name)) for name in names.split(",")}


def clip_faces(path, clf: FaceClassifier) -> dict[str, list[np.ndarray]]:
    """Per crop variant, the crops of a clip's largest face at 5 fps (faces found by ``clf``'s detector)."""
    crops: dict[str, list[np.ndarray]] = {name: [] for name in VARIANTS}
    for _, frame in iter_video_frames(path, fps=5):
        faces = clf.detect(frame)
        if not faces or faces[0].landmarks is None:
            continue
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        for name, cut in VARIANTS.items():
            crops[name].append(cut(grey, faces[0]))
    return crops


def clip_counts(name_key: str, name: str, hits: list[tuple[str, int]]) -> dict:
    return {name_key: name, "RAVDESS clips": sum(h for s, h in hits if s == ".mp4"),
            "CREMA-D clips": sum(h for s, h in hits if s == ".flv"), "all 24 clips": sum(h for _, h in hits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="shipped",
                        help="comma-separated face models: 'shipped' or candidate card JSON paths; crop variants are "
                        "compared with the first (default: %(default)s)")
    args = parse_args(parser)
    models = face_models(args.models)
    first = next(iter(models))
    clips = few(list_labelled_videos(SHARED / "ravdess_video")) + few(list_labelled_videos(SHARED / "crema_d"))
    per_variant: dict[str, dict[str, list]] = {name: {"frames": [], "clips": []} for name in VARIANTS}
    per_rule: dict[tuple[str, str], list[tuple[str, int]]] = {(m, r): [] for m in models for r in CLIP_RULES}
    for path, label in clips:
        truth = FUSION_LABELS.index(to_fusion_label(label))
        crops = clip_faces(path, models[first])
        for model_name, clf in models.items():
            for name in VARIANTS if model_name == first else [SHIPPED_CROP]:
                if not crops[name]:
                    continue
                probs = to_fusion_probabilities(clf.classify_batch(np.stack(crops[name])), FACE_LABELS)
                if model_name == first:
                    per_variant[name]["frames"] += list(probs.argmax(1) == truth)
                    per_variant[name]["clips"].append((path.suffix, int(probs.mean(0).argmax() == truth)))
                if name == SHIPPED_CROP:
                    for rule, scores in CLIP_RULES.items():
                        per_rule[model_name, rule].append((path.suffix, int(scores(probs).argmax() == truth)))
    rows = []
    for name, got in per_variant.items():
        rows.append({"crop": name, "frames right": f"{np.mean(got['frames']):.1%} of {len(got['frames'])}",
                     **clip_counts("crop", name, got["clips"])})
    table(rows)
    rule_rows = [{"model": model_name, **clip_counts("clip rule", rule, hits)}
                 for (model_name, rule), hits in per_rule.items()]
    table(rule_rows)
    save("face_video", {"protocol": "24 paired clips (15 RAVDESS mp4 of actors 01/05, 9 CREMA-D flv of actor "
                                    "1001), frames at 5 fps, the default detector's largest face, 7 fusion labels; "
                                    "rows: the first model under each crop, clip = mean of its frames' "
                                    "probabilities; clip_rules: "
                                    "each model on the shipped (aligned) crop under each clip rule",
                        "models": list(models), "rows": rows, "clip_rules": rule_rows})


if __name__ == "__main__":
    main()
