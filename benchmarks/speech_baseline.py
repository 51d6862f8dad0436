"""The classic speech baseline on our protocol: openSMILE eGeMAPSv02 functionals + RBF SVM, RAVDESS actors 01-20,
8 classes, the same 5 speaker-independent actor folds as the shipped model's cross-validation.

    pip install opensmile scikit-learn && python benchmarks/speech_baseline.py
"""

from __future__ import annotations

import numpy as np
from _common import SHARED, parse_args, save, table

from emofuse.datasets import ACTOR_FOLDS, list_ravdess
from emofuse.labels import SPEECH_LABELS
from emofuse.metrics import classification_report

PROTOCOL = ("RAVDESS speech actors 01-20, 8 classes, 5-fold actor CV (01-04, 05-08, 09-12, 13-16, 17-20); "
            "eGeMAPSv02 functionals (88), standardised, RBF SVM C=1, balanced class weights")


def main() -> None:
    import opensmile
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    args = parse_args(doc=__doc__)
    clips = list_ravdess(SHARED / "ravdess", actors=set(range(1, 21)))
    clips = clips[::20] if args.smoke else clips  # smoke: 3 clips per actor
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    x = np.stack([smile.process_file(str(c.path)).to_numpy()[0] for c in clips])
    y = np.array([SPEECH_LABELS.index(c.label) for c in clips])
    actors = np.array([c.actor for c in clips])
    rows = []
    for fold in ACTOR_FOLDS:
        test = np.isin(actors, fold)
        model = make_pipeline(StandardScaler(), SVC(C=1.0, class_weight="balanced")).fit(x[~test], y[~test])
        report = classification_report(y[test], model.predict(x[test]), SPEECH_LABELS, f"test actors {list(fold)}")
        rows.append({"test_actors": f"{fold[0]:02d}-{fold[-1]:02d}", "accuracy": report["accuracy"],
                     "macro_f1": report["macro_f1"], "uar": report["uar"]})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("accuracy", "macro_f1", "uar")}
    rows.append({"test_actors": "mean", **mean})
    table(rows)
    save("speech_baseline_egemaps_svm", {"protocol": PROTOCOL, "folds": rows[:-1], "mean": mean})


if __name__ == "__main__":
    main()
