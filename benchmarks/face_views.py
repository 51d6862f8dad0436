"""Does reading each face crop in several views help? FER2013 hold-out and the 24 paired clips (issue #21).

Test-time augmentation as published FER recipes use it (e.g. 10-crop testing): each 48 px crop is also read shifted
(2 px along the axes or the diagonals), scaled (0.9-1.1 around its centre) or rotated (6 degrees), all within the
training augmentation's range, and each member averages its readings of the views (and of their mirror images
where flipping is on). Sets of views x flipping are compared on the fixed 10% hold-out of FER2013 Training (what the
card tool selects on) and on the paired clips (frames at 5 fps, the default detector's largest face, clip = mean of
its frames' probabilities, 7 fusion labels). Every member reads every view once, cached, so the sets only
average. The cost column counts network passes per crop (the shipped reading: 3).

    python benchmarks/face_views.py
"""

from __future__ import annotations

import cv2
import numpy as np
from _common import SHARED, few, parse_args, save, table
from face_video import SHIPPED_CROP, clip_faces

from emofuse.datasets.fer2013 import load_fer2013, stratified_holdout
from emofuse.evaluate import list_labelled_videos
from emofuse.face.classifier import FaceClassifier
from emofuse.labels import FACE_LABELS, FUSION_LABELS, to_fusion_label, to_fusion_probabilities

View = tuple[float, float, float, float]
"""Shift right and down (px), scale, rotation (degrees, counter-clockwise) of a 48 px crop about its centre."""
CENTRE: View = (0, 0, 1, 0)
AXIS = [(2, 0, 1, 0), (-2, 0, 1, 0), (0, 2, 1, 0), (0, -2, 1, 0)]
DIAGONAL = [(2, 2, 1, 0), (2, -2, 1, 0), (-2, 2, 1, 0), (-2, -2, 1, 0)]
SCALES = {s: [(0, 0, 1 - s, 0), (0, 0, 1 + s, 0)] for s in (0.05, 0.08, 0.1)}
ROTATIONS = [(0, 0, 1, 6), (0, 0, 1, -6)]
VIEW_SETS: dict[str, list[View]] = {
    "crop alone (shipped)": [CENTRE], "scale 0.95/1.05": [CENTRE, *SCALES[0.05]],
    "scale 0.92/1.08": [CENTRE, *SCALES[0.08]], "scale 0.9/1.1": [CENTRE, *SCALES[0.1]],
    "axis shifts": [CENTRE, *AXIS], "diagonal shifts": [CENTRE, *DIAGONAL], "rotations": [CENTRE, *ROTATIONS],
    "axis shifts + scale 0.92/1.08": [CENTRE, *AXIS, *SCALES[0.08]],
    "diagonal shifts + scale 0.92/1.08": [CENTRE, *DIAGONAL, *SCALES[0.08]],
    "axis + diagonal shifts + scale 0.92/1.08": [CENTRE, *AXIS, *DIAGONAL, *SCALES[0.08]],
    "axis shifts + scale 0.92/1.08 + rotations": [CENTRE, *AXIS, *SCALES[0.08], *ROTATIONS],
}
EVERY_VIEW = list(dict.fromkeys(v for views in VIEW_SETS.values() for v in views))


def viewed(crops: np.ndarray, view: View) -> np.ndarray:
    """``crops`` (N, 48, 48) uint8 moved by ``view``, borders replicated (as the training augmentation pads)."""
    if view == CENTRE:
        return crops
    dx, dy, scale, angle = view
    size = crops.shape[-1]
    matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle, scale)
    matrix[:, 2] += (dx, dy)
    return np.stack([cv2.warpAffine(c, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE) for c in crops])


def member_readings(clf: FaceClassifier, crops: np.ndarray) -> np.ndarray:
    """(members, views, plain/mirrored, N, 7): every member's probabilities of every view of ``crops``, each member
    read as the runtime reads it (its class weights applied), on its own and without its mirror rule."""
    members = [FaceClassifier({**clf.card, "members": [{**m, "flip_tta": False}]}) for m in clf.card["members"]]
    out = np.zeros((len(members), len(EVERY_VIEW), 2, len(crops), len(FACE_LABELS)), np.float32)
    for v, view in enumerate(EVERY_VIEW):
        images = viewed(crops, view)
        for m, member in enumerate(members):
            out[m, v] = member.classify_batch(images), member.classify_batch(np.ascontiguousarray(images[..., ::-1]))
    return out


def read(clf: FaceClassifier, readings: np.ndarray, views: list[View], flips: list[bool]) -> np.ndarray:
    """The ensemble's probabilities (its card's weights) with each member averaging ``views`` (and their mirror
    images where it flips)."""
    rows = [EVERY_VIEW.index(v) for v in views]
    members = [readings[m, rows, :2 if flip else 1].mean(axis=(0, 1)) for m, flip in enumerate(flips)]
    return np.average(members, axis=0, weights=clf.weights)


def main() -> None:
    parse_args(doc=__doc__)
    clf = FaceClassifier()
    faces = load_fer2013(SHARED / "fer2013" / "fer2013.csv.xz")
    training = faces.subset(faces.usage == "Training")
    holdout = training.subset(stratified_holdout(training.labels, 0.1))
    n_held = len(few(range(len(holdout.labels)), 64))
    held_images, held_labels = holdout.images[:n_held], holdout.labels[:n_held]
    clips = few(list_labelled_videos(SHARED / "ravdess_video")) + few(list_labelled_videos(SHARED / "crema_d"))
    clip_crops = [np.stack(clip_faces(path, clf)[SHIPPED_CROP]) for path, _ in clips]
    truths = [FUSION_LABELS.index(to_fusion_label(label)) for _, label in clips]
    readings = member_readings(clf, np.concatenate([held_images, *clip_crops]))
    bounds = np.cumsum([len(held_images), *map(len, clip_crops)])
    flip_rules = {"as shipped": clf.member_flips, "none": [False] * len(clf.sessions),
                  "every member": [True] * len(clf.sessions)}
    rows = []
    for flip_name, flips in flip_rules.items():
        for set_name, views in VIEW_SETS.items():
            probs = read(clf, readings, views, flips)
            fused = to_fusion_probabilities(probs, FACE_LABELS)
            hits = [(path.suffix, int(fused[start:end].mean(0).argmax() == truth))
                    for (path, _), truth, start, end in zip(clips, truths, bounds[:-1], bounds[1:])]
            rows.append({"mirror images": flip_name, "views": set_name,
                         "passes per crop": len(views) * sum(2 if f else 1 for f in flips),
                         "hold-out accuracy": float((probs[:len(held_images)].argmax(1) == held_labels).mean()),
                         "RAVDESS clips": sum(h for s, h in hits if s == ".mp4"),
                         "CREMA-D clips": sum(h for s, h in hits if s == ".flv"),
                         "all 24 clips": sum(h for _, h in hits)})
    table(rows)
    save("face_views", {"protocol": f"the shipped face ensemble (its card's member weights); FER2013 Training's fixed "
                                    f"stratified 10% hold-out ({len(held_labels)} images, 7 classes); the 24 paired "
                                    "clips at 5 fps, the default detector's largest face on the shipped crop, clip = "
                                    "mean of its frames' probabilities, 7 fusion labels",
                        "views": {name: [list(v) for v in views] for name, views in VIEW_SETS.items()}, "rows": rows})


if __name__ == "__main__":
    main()
