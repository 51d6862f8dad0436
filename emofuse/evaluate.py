"""Measure the shipped models on labelled data; every report states its protocol.

``run("speech" | "face" | "video", data)`` prints nothing; it returns the report (with a Markdown table)
and writes ``<task>_metrics.json``, ``<task>_metrics.md`` and confusion-matrix PNGs into ``out``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emofuse.errors import InputError
from emofuse.labels import FACE_LABELS, FUSION_LABELS, SPEECH_LABELS, to_fusion_label, to_fusion_probabilities
from emofuse.metrics import classification_report, plot_confusion_matrix, report_markdown
from emofuse.results import write_json


def evaluate_speech(data: str | Path, limit: int | None = None) -> dict:
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.datasets import list_ravdess
    from emofuse.models import load_card

    clips = list_ravdess(data)[:limit]
    clf = SpeechClassifier()
    y_true, y_pred = [], []
    for clip in clips:
        block = clf.classify_file(clip.path)
        y_true.append(SPEECH_LABELS.index(clip.label))
        probs = [block["probabilities"].get(k, 0.0) for k in SPEECH_LABELS]
        y_pred.append(int(np.argmax(probs)) if block["label"] else SPEECH_LABELS.index("neutral"))
    actors = sorted({c.actor for c in clips})
    seen = set(load_card("speech").get("training_actors", []))
    note = ("NOT speaker-independent: the shipped model was trained on these actors"
            if seen & set(actors) else "speaker-independent: none of these actors was seen in training")
    protocol = (f"shipped speech model on {len(clips)} RAVDESS speech clips of actors {actors} from {data}, "
                f"8 classes, one utterance label per clip (silent clips count as neutral); {note}")
    return classification_report(y_true, y_pred, SPEECH_LABELS, protocol)


def evaluate_face(data: str | Path, usage: str | None = "PublicTest", limit: int | None = None) -> dict:
    from emofuse.datasets import load_fer2013
    from emofuse.face.classifier import FaceClassifier

    faces = load_fer2013(data, usage=usage)
    images, labels = faces.images[:limit], faces.labels[:limit]
    clf = FaceClassifier()
    probs = np.concatenate([clf.classify_batch(images[i:i + 256]) for i in range(0, len(images), 256)])
    protocol = (f"shipped face model on FER2013 {usage or 'all rows'} ({len(images)} images) from {data}, "
                f"7 classes, 48x48 crops as given (no detection), flip TTA {'on' if clf.flip_tta else 'off'}")
    return classification_report(labels, probs.argmax(1), FACE_LABELS, protocol)


def list_labelled_videos(data: str | Path) -> list[tuple[Path, str]]:
    """(path, emofuse label) of the RAVDESS (.mp4) and CREMA-D (.flv) clips in a folder."""
    from emofuse.datasets import parse_cremad_name, parse_ravdess_name

    root = Path(data)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    clips = []
    for path in sorted(root.rglob("*")):
        for parse in (parse_ravdess_name, parse_cremad_name):
            try:
                clips.append((path, parse(path).label))
                break
            except InputError:
                continue
    if not clips:
        raise InputError(root, "no RAVDESS or CREMA-D video files found")
    return clips


def analyse_videos(data, limit: int | None = None, analyzer=None) -> list[tuple[dict, str]]:
    from emofuse.pipeline import Analyzer

    analyzer = analyzer or Analyzer()
    return [(analyzer.analyze_video(path), label) for path, label in list_labelled_videos(data)[:limit]]


def fusion_index(block: dict | None, labels: tuple[str, ...]) -> int:
    """The block's label in the fusion set (neutral when the modality found nothing)."""
    if not block or not block.get("label"):
        return FUSION_LABELS.index("neutral")
    probs = np.array([block["probabilities"].get(name, 0.0) for name in labels])
    return int(to_fusion_probabilities(probs, labels).argmax())


def evaluate_video(data: str | Path, limit: int | None = None, detector: str = "mtcnn") -> dict:
    from emofuse.pipeline import Analyzer, AnalyzerConfig

    analysed = analyse_videos(data, limit, Analyzer(AnalyzerConfig(detector=detector)))
    y_true = [FUSION_LABELS.index(to_fusion_label(label)) for _, label in analysed]
    protocol = (f"shipped models on {len(analysed)} audio-visual clips from {data}, 7 fusion labels, "
                f"one label per clip (a modality that found nothing counts as neutral), {detector} faces")
    reports = {}
    for name, block_key, labels in (("speech", "speech", SPEECH_LABELS), ("face", "face", FACE_LABELS),
                                    ("fused", "fused", FUSION_LABELS)):
        y_pred = [fusion_index(result[block_key], labels) for result, _ in analysed]
        reports[name] = classification_report(y_true, y_pred, FUSION_LABELS, f"{name} only; " + protocol
                                              if name != "fused" else "fused; " + protocol)
    clips = [{"input": r["input"], "true": to_fusion_label(label), "speech": (r["speech"] or {}).get("label"),
              "face": (r["face"] or {}).get("label"), "fused": r["fused"]["label"]} for r, label in analysed]
    return {"protocol": protocol, "reports": reports, "clips": clips}


def run(task: str, data: str | Path, out: str | Path = "evaluation", usage: str | None = "PublicTest",
        limit: int | None = None, detector: str = "mtcnn") -> dict:
    """Evaluate ``task`` on ``data`` and write metrics and plots into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if task == "video":
        result = evaluate_video(data, limit, detector)
        parts = []
        for name, report in result["reports"].items():
            plot_confusion_matrix(report, out / f"video_{name}_confusion.png", f"{name}: {report['accuracy']:.1%}")
            parts.append(report_markdown(report, f"{name}"))
        result["markdown"] = "\n".join(parts)
    else:
        result = evaluate_speech(data, limit) if task == "speech" else evaluate_face(data, usage, limit)
        plot_confusion_matrix(result, out / f"{task}_confusion.png")
        result["markdown"] = report_markdown(result, f"{task} model")
    write_json(result, out / f"{task}_metrics.json")
    (out / f"{task}_metrics.md").write_text(result["markdown"])
    return result


def clip_fusion_data(analysed: list[tuple[dict, str]], config) -> tuple[np.ndarray, np.ndarray]:
    """Learned-fusion features (one row per clip, from its speech and face blocks) and fusion-label targets."""
    from emofuse.fusion import LearnedFusion
    from emofuse.pipeline import block_evidence

    rows, y = [], []
    for result, label in analysed:
        reliability = result["fused"]["reliability"]
        speech = block_evidence(result["speech"], SPEECH_LABELS, reliability["speech"], config.speech_temperature)
        face = block_evidence(result["face"], FACE_LABELS, reliability["face"], config.face_temperature)
        rows.append(LearnedFusion.features(speech, face)[0])
        y.append(FUSION_LABELS.index(to_fusion_label(label)))
    return np.array(rows), np.array(y)


def leave_one_out(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Learned-fusion prediction for each clip by a model fitted on all the other clips."""
    from emofuse.fusion import LearnedFusion

    return np.array([int(LearnedFusion().fit(np.delete(x, i, 0), np.delete(y, i)).predict_proba(x[i:i + 1]).argmax())
                     for i in range(len(y))])


def train_fusion(data: list[str], out: str | Path) -> dict:
    """Fit the learned fusion on paired clips; report leave-one-clip-out accuracy against the rule."""
    from emofuse.fusion import LearnedFusion
    from emofuse.pipeline import Analyzer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer()
    analysed = [item for folder in data for item in analyse_videos(folder, analyzer=analyzer)]
    x, y = clip_fusion_data(analysed, analyzer.fusion_config())
    rule = np.array([fusion_index(result["fused"], FUSION_LABELS) for result, _ in analysed])
    model = LearnedFusion().fit(x, y)
    model.save(out / "fusion.json")
    summary = {"clips": len(y), "protocol": "leave-one-clip-out over the paired clips given",
               "learned_accuracy": float(np.mean(leave_one_out(x, y) == y)),
               "rule_accuracy": float(np.mean(rule == y)),
               "model": str(out / "fusion.json")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return summary
