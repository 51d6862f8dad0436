"""Does reading a face relative to the person's own neutral face help? Measured on the paired clips.

Each actor with a neutral clip (RAVDESS actor 05, CREMA-D actor 1001) lends that clip's mean face probabilities as
the reference; the actor's other clips are scored plain and with the probabilities divided by the reference
(renormalised: a shift in log-probability, "expression relative to the neutral face"), 7 fusion labels.

    python benchmarks/face_reference.py
"""

from __future__ import annotations

import numpy as np
from _common import SHARED, parse_args, save, table

from emofuse.evaluate import list_labelled_videos
from emofuse.labels import FACE_LABELS, FUSION_LABELS, to_fusion_label, to_fusion_probabilities
from emofuse.pipeline import Analyzer

ACTORS = {"RAVDESS actor 05": ("ravdess_video", "-05.mp4"), "CREMA-D actor 1001": ("crema_d", "1001_")}


def face_probs(analyzer: Analyzer, path) -> np.ndarray | None:
    face = analyzer.analyze_video(path).face
    if face is None or face.probs is None:
        return None
    return to_fusion_probabilities(face.probs, FACE_LABELS)


def main() -> None:
    args = parse_args(doc=__doc__)
    analyzer = Analyzer()
    rows, clips = [], []
    for name, (folder, marker) in ACTORS.items():
        items = [(p, to_fusion_label(label)) for p, label in list_labelled_videos(SHARED / folder) if marker in p.name]
        if args.smoke:  # the neutral clip and one other
            items = [next(i for i in items if i[1] == "neutral"), next(i for i in items if i[1] != "neutral")]
        probs = {p.name: face_probs(analyzer, p) for p, _ in items}
        neutral = [p for p, label in items if label == "neutral" and probs[p.name] is not None]
        reference = np.mean([probs[p.name] for p in neutral], axis=0)
        plain, shifted = [], []
        for path, label in items:
            if path in neutral or probs[path.name] is None:
                continue
            p = probs[path.name]
            adjusted = p / np.clip(reference, 1e-3, None)
            adjusted /= adjusted.sum()
            truth = FUSION_LABELS.index(label)
            plain.append(int(p.argmax()) == truth)
            shifted.append(int(adjusted.argmax()) == truth)
            clips.append({"clip": path.name, "true": label, "plain": FUSION_LABELS[int(p.argmax())],
                          "relative to neutral": FUSION_LABELS[int(adjusted.argmax())]})
        rows.append({"actor": name, "scored clips": len(plain), "face": f"{np.mean(plain):.1%} ({sum(plain)})",
                     "face relative to own neutral": f"{np.mean(shifted):.1%} ({sum(shifted)})"})
    table(rows)
    save("face_reference", {"protocol": "paired clips, shipped face model, 7 fusion labels, one label per clip; the "
                                        "actor's neutral clip is the reference and is not scored", "rows": rows,
                            "clips": clips})


if __name__ == "__main__":
    main()
