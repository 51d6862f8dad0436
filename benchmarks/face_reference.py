"""Does reading a face relative to the person's own face help? Measured on the paired clips (issue #21, item 4).

Every clip's frames at 5 fps, the largest face (the default detector), the shipped face model with its members
reading the crop alone (no mirror image: each would need its own reference); a clip's label is the mean of its
frames' probabilities (7 fusion labels). Each actor with a neutral clip (RAVDESS actor 05, CREMA-D
actor 1001) is scored on their other clips under these rules:

- plain: the shipped model as it is;
- probability ratio: probabilities divided by the mean of the actor's neutral clip, renormalised (tried before);
- features, own neutral: inside each network, the actor's median features over their neutral clip are replaced by
  the median features of FER2013 Training's neutral faces (``f - person + population``), the way action-unit
  detectors subtract a person's neutral face; the rest of the network reads the shifted features;
- features, own median: the same with the median over all the actor's frames (every clip, their neutral one
  included) and the median over all Training faces: what a long video's track offers without a known neutral
  moment.

The features are taken at two depths: the head's hidden layer (its last ReLU: the shift is a per-person bias on
the logits) and the flattened convolutional maps (the head's hidden layer reads the shifted maps).

    python benchmarks/face_reference.py
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import SHARED, parse_args, save, table
from onnxruntime import InferenceSession

from emofuse.datasets.fer2013 import load_fer2013
from emofuse.evaluate import list_labelled_videos
from emofuse.face.align import face_crops
from emofuse.face.classifier import FaceClassifier, reweighted
from emofuse.face.crops import crops_to_input
from emofuse.labels import FACE_LABELS, FUSION_LABELS, to_fusion_label, to_fusion_probabilities
from emofuse.media import iter_video_frames
from emofuse.models import load_card, model_path
from emofuse.runtime import onnx_session, softmax

ACTORS = {"RAVDESS actor 05": ("ravdess_video", "-05.mp4"), "CREMA-D actor 1001": ("crema_d", "1001_")}
FER2013 = SHARED / "fer2013" / "fer2013.csv.xz"
DEPTHS = ("hidden layer", "conv maps")


@dataclass
class SplitNetwork:
    """One member of the face ensemble cut at a feature layer: ``features(x)`` and ``logits(features)``;
    ``class_weights``: its card's (``FaceClassifier`` rescales its probabilities by them)."""

    front: InferenceSession
    back: InferenceSession
    class_weights: np.ndarray

    def features(self, x: np.ndarray) -> np.ndarray:
        """In batches of 256: a Lite0 member's activations for 3,000 crops at once would take tens of GB."""
        return np.concatenate([self.front.run(None, {"input": x[i:i + 256]})[0] for i in range(0, len(x), 256)])

    def logits(self, features: np.ndarray) -> np.ndarray:
        return self.back.run(None, {self.back.get_inputs()[0].name: features.astype(np.float32)})[0]


def split_network(path: Path, depth: str, folder: Path, class_weights: np.ndarray) -> SplitNetwork:
    """``path``'s network cut at the input of its last Gemm (hidden layer) or of its first (conv maps)."""
    import onnx
    from onnx.utils import extract_model

    gemms = [node for node in onnx.load(str(path)).graph.node if node.op_type == "Gemm"]
    cut = (gemms[-1] if depth == "hidden layer" else gemms[0]).input[0]
    stem = folder / f"{path.stem}-{depth.replace(' ', '-')}"
    front, back = stem.with_name(stem.name + "-front.onnx"), stem.with_name(stem.name + "-back.onnx")
    extract_model(str(path), str(front), ["input"], [cut])
    extract_model(str(path), str(back), [cut], ["logits"])
    return SplitNetwork(onnx_session(front), onnx_session(back), class_weights)


def ensemble_probs(members: list[SplitNetwork], features: list[np.ndarray]) -> np.ndarray:
    """The shipped rule (mean of the members' softmax) over 7 fusion labels, from each member's features."""
    probs = np.mean([reweighted(softmax(m.logits(f)), m.class_weights) for m, f in zip(members, features)], axis=0)
    return to_fusion_probabilities(probs, FACE_LABELS)


def clip_crops(clf: FaceClassifier, path: Path) -> np.ndarray:
    """The largest face's aligned crop of each frame at 5 fps (frames without a face skipped)."""
    crops = [face_crops(frame, faces[:1]) for _, frame in iter_video_frames(path, fps=5)
             if (faces := clf.detect(frame))]
    return np.concatenate(crops) if crops else np.zeros((0, 48, 48), np.uint8)


def training_faces(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs of ``count`` FER2013 Training neutral faces and ``count`` of all its faces (fixed seed)."""
    faces = load_fer2013(FER2013, usage="Training")
    rng = np.random.default_rng(0)
    neutral = np.flatnonzero(faces.labels == FACE_LABELS.index("neutral"))
    picks = (rng.choice(neutral, min(count, len(neutral)), replace=False),
             rng.choice(len(faces), min(count, len(faces)), replace=False))
    return crops_to_input(faces.images[picks[0]]), crops_to_input(faces.images[picks[1]])


def training_medians(members: list[SplitNetwork], faces: tuple[np.ndarray, np.ndarray]
                     ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per member: the median features of ``training_faces``' neutral faces and of its faces of every kind."""
    neutral, every = ([np.median(m.features(x), axis=0) for m in members] for x in faces)
    return neutral, every


def own_references(per_clip: dict[str, list[np.ndarray]], neutral: list[str]) -> dict[str, list[np.ndarray]]:
    """Per rule, per member: the actor's median features over their neutral clip(s) and over all their frames."""
    members = range(len(next(iter(per_clip.values()))))
    return {"own neutral": [np.median(np.concatenate([per_clip[n][k] for n in neutral]), axis=0) for k in members],
            "own median": [np.median(np.concatenate([f[k] for f in per_clip.values()]), axis=0) for k in members]}


def actor_readings(clf: FaceClassifier, networks: dict[str, list[SplitNetwork]], population: dict,
                   items: list[tuple[Path, str]]) -> dict[str, dict[str, np.ndarray]]:
    """{clip: {rule: frame probabilities (frames, 7)}} for one actor's clips other than the neutral one(s)."""
    crops = {p.name: c for p, _ in items if len(c := clip_crops(clf, p))}
    x = {name: crops_to_input(c) for name, c in crops.items()}
    neutral = [p.name for p, label in items if label == "neutral" and p.name in x]
    features = {depth: {name: [m.features(v) for m in members] for name, v in x.items()}
                for depth, members in networks.items()}
    plain = {name: ensemble_probs(networks[DEPTHS[0]], features[DEPTHS[0]][name]) for name in x}
    for name, probs in plain.items():  # the cut networks are the shipped one
        shipped = to_fusion_probabilities(clf.classify_batch(crops[name]), FACE_LABELS)
        assert np.allclose(probs, shipped, atol=1e-4), name
    ratio_reference = np.mean([plain[name].mean(0) for name in neutral], axis=0)
    own = {depth: own_references(features[depth], neutral) for depth in networks}
    out = {}
    for name in x:
        if name in neutral:
            continue
        ratio = plain[name] / np.clip(ratio_reference, 1e-3, None)
        out[name] = {"plain": plain[name], "probability ratio": ratio / ratio.sum(1, keepdims=True)}
        for depth, members in networks.items():
            for rule, target in zip(("own neutral", "own median"), population[depth]):
                shifted = [f - ref + pop for f, ref, pop in zip(features[depth][name], own[depth][rule], target)]
                out[name][f"features ({depth}), {rule}"] = ensemble_probs(members, shifted)
    return out


def main() -> None:
    args = parse_args(doc=__doc__)
    shipped = load_card("face")
    clf = FaceClassifier({**shipped, "members": [{**m, "flip_tta": False} for m in shipped["members"]]})
    clips = []
    hits: dict[str, dict[str, list[int]]] = {}  # rule -> actor -> right or not, per scored clip
    with tempfile.TemporaryDirectory() as tmp:
        networks = {depth: [split_network(model_path(clf.card, m["file"]), depth, Path(tmp), weights)
                            for m, weights in zip(clf.card["members"], clf.class_weights)] for depth in DEPTHS}
        faces = training_faces(200 if args.smoke else 3000)
        population = {depth: training_medians(members, faces) for depth, members in networks.items()}
        for actor, (folder, marker) in ACTORS.items():
            items = [(p, to_fusion_label(label)) for p, label in list_labelled_videos(SHARED / folder)
                     if marker in p.name]
            if args.smoke:  # the neutral clip and one other
                items = [next(i for i in items if i[1] == "neutral"), next(i for i in items if i[1] != "neutral")]
            truths = {p.name: label for p, label in items}
            for name, readings in actor_readings(clf, networks, population, items).items():
                clip = {"clip": name, "true": truths[name]}
                for rule, probs in readings.items():
                    clip[rule] = FUSION_LABELS[int(probs.mean(0).argmax())]
                    hits.setdefault(rule, {}).setdefault(actor, []).append(int(clip[rule] == truths[name]))
                clips.append(clip)
    rule_rows = [{"rule": rule, **{f"{actor} ({len(h)})": sum(h) for actor, h in per_actor.items()},
                  "all": sum(map(sum, per_actor.values()))} for rule, per_actor in hits.items()]
    table(rule_rows)
    save("face_reference", {"protocol": "paired clips of the actors with a neutral clip (RAVDESS 05, CREMA-D 1001), "
                                        "frames at 5 fps, largest face, shipped face ensemble (members unflipped, "
                                        "class weights as shipped), "
                                        "7 fusion labels, "
                                        "clip = mean of frame probabilities; the neutral clip is a reference and "
                                        "is not scored; population medians from FER2013 Training (seed 0)",
                            "rows": rule_rows, "clips": clips, "smoke": bool(args.smoke)})


if __name__ == "__main__":
    main()
