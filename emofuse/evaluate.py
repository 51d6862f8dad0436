"""Measure the shipped models on labelled data; every report states its protocol.

``run("speech" | "face" | "video", data)`` prints nothing; it returns the report (with a Markdown table)
and writes ``<task>_metrics.json``, ``<task>_metrics.md`` and confusion-matrix PNGs into ``out``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emofuse.errors import InputError
from emofuse.face.detect import DEFAULT_DETECTOR
from emofuse.labels import FACE_LABELS, FUSION_LABELS, SPEECH_LABELS, to_fusion_label, to_fusion_probabilities
from emofuse.media import SAMPLE_RATE
from emofuse.metrics import classification_report, plot_confusion_matrix, report_markdown
from emofuse.progress import progress_bar
from emofuse.results import ModalityResult, Result, write_json


def evaluate_speech(data: str | Path, limit: int | None = None) -> dict:
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.datasets import list_ravdess
    from emofuse.models import load_card

    clips = list_ravdess(data)[:limit]
    clf = SpeechClassifier()
    y_true, y_pred = [], []
    for clip in progress_bar(clips, "RAVDESS speech clips", unit=" clips"):
        speech = clf.classify_file(clip.path)
        y_true.append(SPEECH_LABELS.index(clip.label))
        y_pred.append(SPEECH_LABELS.index(speech.label or "neutral"))
    actors = sorted({c.actor for c in clips})
    seen = sorted(set(load_card("speech").get("training_actors", [])) & set(actors))
    note = ("NOT speaker-independent: the shipped model was trained on these actors"
            if seen else "speaker-independent: none of these actors was seen in training")
    protocol = (f"shipped speech model on {len(clips)} RAVDESS speech clips of actors {actors} from {data}, "
                f"8 classes, one utterance label per clip (silent clips count as neutral); {note}")
    return {**classification_report(y_true, y_pred, SPEECH_LABELS, protocol), "seen_speakers": seen}


def evaluate_face(data: str | Path, usage: str | None = "PublicTest", limit: int | None = None,
                  fast_face: bool = False) -> dict:
    from emofuse.datasets import load_fer2013
    from emofuse.face.classifier import FaceClassifier
    from emofuse.models import load_card

    faces = load_fer2013(data, usage=usage)
    images, labels = faces.images[:limit], faces.labels[:limit]
    clf = FaceClassifier(load_card("face_fast" if fast_face else "face"))
    probs = clf.classify_batch(images)
    flipped = ", ".join(m["file"] for m, flips in zip(clf.card["members"], clf.member_flips) if flips)
    reweighted = ", ".join(m["file"] for m in clf.card["members"] if "class_weights" in m)
    protocol = (f"shipped {clf.card['name']} on FER2013 {usage or 'all rows'} ({len(images)} images) from {data}, "
                f"7 classes, 48x48 crops as given (no detection), flip TTA {'on ' + flipped if flipped else 'off'}"
                + (f", the FER+ blend's class prior undone on {reweighted}" if reweighted else ""))
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


def analyse_videos(data, limit: int | None = None, analyzer=None) -> list[tuple[Result, str]]:
    from emofuse.pipeline import Analyzer

    analyzer = analyzer or Analyzer()
    return [(analyzer.analyze_video(path), label) for path, label in list_labelled_videos(data)[:limit]]


def fusion_index(block: ModalityResult | None) -> int:
    """The result's label in the fusion set (neutral when the modality found nothing)."""
    if block is None or block.probs is None:
        return FUSION_LABELS.index("neutral")
    return int(to_fusion_probabilities(block.probs, block.labels).argmax())


def seen_speakers(paths: list[Path]) -> list[int]:
    """RAVDESS actors among ``paths`` whose voices the shipped speech model was trained on (its card lists them)."""
    from emofuse.datasets import parse_ravdess_name
    from emofuse.models import load_card

    trained = set(load_card("speech").get("training_actors", []))
    actors = set()
    for path in paths:
        try:
            actors.add(parse_ravdess_name(path).actor)
        except InputError:
            continue
    return sorted(actors & trained)


def evaluate_video(data: str | Path, limit: int | None = None, detector: str = DEFAULT_DETECTOR,
                   fast_face: bool = False) -> dict:
    from emofuse.pipeline import Analyzer, AnalyzerConfig

    analysed = analyse_videos(data, limit, Analyzer(AnalyzerConfig(detector=detector, fast_face=fast_face)))
    y_true = [FUSION_LABELS.index(to_fusion_label(label)) for _, label in analysed]
    seen = seen_speakers([Path(r.input) for r, _ in analysed])
    independence = (f"NOT speaker-independent for speech: the speech model was trained on RAVDESS actors {seen}"
                    if seen else "speaker-independent: the speech model saw none of these speakers")
    protocol = (f"shipped models on {len(analysed)} audio-visual clips from {data}, 7 fusion labels, "
                f"one label per clip (a modality that found nothing counts as neutral), {detector} faces"
                f"{', the fast face network' if fast_face else ''}; "
                f"{independence}")
    reports = {}
    for name in ("speech", "face", "fused"):
        y_pred = [fusion_index(getattr(result, name)) for result, _ in analysed]
        reports[name] = classification_report(y_true, y_pred, FUSION_LABELS, f"{name} only; {protocol}"
                                              if name != "fused" else f"fused; {protocol}")
    clips = [{"input": r.input, "true": to_fusion_label(label), "speech": r.speech and r.speech.label,
              "face": r.face and r.face.label, "fused": r.fused.label} for r, label in analysed]
    return {"protocol": protocol, "reports": reports, "clips": clips, "seen_speakers": seen}


def evaluate_transcribe(data: str | Path, limit: int | None = None, model: str = "base", beam_size: int = 1) -> dict:
    """Word error rate on RAVDESS (its two statements) and EmoDB (its ten German sentences), the clips packed into
    30 s windows as ``transcribe_many`` does; utterance emotion on the paired RAVDESS/CREMA-D clips, if present.

    ``data``: a folder holding ``ravdess/``, ``emodb/``, ``ravdess_video/``, ``crema_d/`` (any of them), or one
    RAVDESS or EmoDB folder. ``limit``: every k-th clip so that at most ``limit`` clips of each corpus are read.
    """
    import time

    from emofuse.audio.transcribe import Transcriber, TranscriberConfig, transcribe_many
    from emofuse.datasets import list_ravdess
    from emofuse.datasets.emodb import SENTENCES, list_emodb
    from emofuse.datasets.ravdess import STATEMENTS
    from emofuse.media import load_audio
    from emofuse.metrics import normalised_words, word_error_rate

    data = Path(data)
    corpora = {"ravdess": data / "ravdess", "emodb": data / "emodb"}
    if not any(folder.is_dir() for folder in corpora.values()):
        corpora = {"ravdess" if any(data.rglob("*-*-*-*-*-*-*.*")) else "emodb": data}
    transcriber = Transcriber(TranscriberConfig(model, beam_size=beam_size))
    transcriber.transcribe(np.zeros(SAMPLE_RATE, np.float32))  # load the model before the clock starts
    report: dict = {"model": transcriber.name, "corpora": {}}
    for corpus, folder in corpora.items():
        if not folder.is_dir() or (model.endswith(".en") and corpus == "emodb"):
            continue
        if corpus == "ravdess":
            clips = [(c.path, STATEMENTS[c.statement]) for c in list_ravdess(folder)]
        else:
            clips = [(c.path, SENTENCES[c.text]) for c in list_emodb(folder)]
        clips = clips[::max(1, -(-len(clips) // limit))] if limit else clips
        audio = [load_audio(path) for path, _ in clips]
        start = time.perf_counter()
        transcripts = transcribe_many(transcriber, audio)
        seconds = time.perf_counter() - start
        said = [t.text for t in transcripts]
        audio_seconds = sum(len(a) for a in audio) / SAMPLE_RATE
        whole = [not ends_mid_speech(a) for a in audio]  # EmoDB's copy was cut to 2 s: many end mid-sentence
        report["corpora"][corpus] = {
            "clips": len(clips), "wer": word_error_rate([ref for _, ref in clips], said),
            "clips_ending_in_silence": int(sum(whole)),
            "wer_ending_in_silence": word_error_rate([r for (_, r), w in zip(clips, whole) if w],
                                                     [s for s, w in zip(said, whole) if w]),
            "audio_seconds": round(audio_seconds, 1), "seconds": round(seconds, 1),
            "x_realtime": round(audio_seconds / seconds, 1),
            "errors": [{"clip": p.name, "said": s, "reference": r} for (p, r), s in zip(clips, said)
                       if normalised_words(s) != normalised_words(r)]}
    report["utterance_emotion"] = _utterance_emotion(data, limit, transcriber)
    report["protocol"] = (f"{transcriber.name}; each corpus's clips (every k-th with --limit) without "
                          "their leading and trailing silence, packed into 30 s windows 0.9 s apart, the language "
                          "detected in the first window and kept; WER = word errors over reference words, "
                          "lower-cased, punctuation removed; references: the statements the RAVDESS file names "
                          "code, EmoDB's ten documented sentences (this copy of EmoDB was cut to 2 s: clips not "
                          "ending in silence lost part of their sentence, hence the second WER)")
    return report


def ends_mid_speech(audio: np.ndarray, tail_seconds: float = 0.02, level: float = 0.01) -> bool:
    """Whether a clip's last ``tail_seconds`` are not silent (above ``level``, -40 dBFS): cut short, it may have
    lost the end of its sentence."""
    tail = audio[-int(tail_seconds * SAMPLE_RATE):]
    return bool(tail.size and np.abs(tail).max() > level)


def _utterance_emotion(data: Path, limit: int | None, transcriber) -> dict | None:
    """The fused emotion of each paired clip's longest utterance against the clip's label (7 fusion labels)."""
    from emofuse.pipeline import Analyzer, AnalyzerConfig

    folders = [data / name for name in ("ravdess_video", "crema_d") if (data / name).is_dir()]
    if not folders:
        return None
    analyzer = Analyzer(AnalyzerConfig(transcribe=True, transcribe_model=transcriber.config.model,
                                       transcribe_beam=transcriber.config.beam_size),
                        transcriber=transcriber)
    hits, rows = [], []
    for folder in folders:
        for result, label in analyse_videos(folder, limit, analyzer):
            utterances = result.transcript.utterances if result.transcript else ()
            longest = max(utterances, key=lambda u: u.end - u.start, default=None)
            said = None if longest is None or longest.fused is None else FUSION_LABELS[int(np.argmax(longest.fused))]
            hits.append(said == to_fusion_label(label))
            rows.append({"input": Path(result.input).name, "true": to_fusion_label(label), "utterance": said,
                         "text": longest.text if longest else "", "clip": result.fused.label})
    return {"clips": len(rows), "accuracy": float(np.mean(hits)), "rows": rows,
            "protocol": "paired clips, shipped models, the fused emotion of each clip's longest utterance against "
                        "the clip's label (7 fusion labels; no utterance counts as wrong)"}


def transcribe_markdown(report: dict) -> str:
    lines = [f"Transcription: {report['protocol']}", "",
             "| corpus | clips | WER | clips ending in silence | their WER | audio (s) | x real time |",
             "|---|---|---|---|---|---|---|"]
    for corpus, row in report["corpora"].items():
        lines.append(f"| {corpus} | {row['clips']} | {row['wer']:.1%} | {row['clips_ending_in_silence']} | "
                     f"{row['wer_ending_in_silence']:.1%} | {row['audio_seconds']} | {row['x_realtime']} |")
    if emotion := report.get("utterance_emotion"):
        lines += ["", f"Utterance emotion: {emotion['accuracy']:.1%} of {emotion['clips']} clips "
                      f"({emotion['protocol']})"]
    return "\n".join(lines) + "\n"


def run(task: str, data: str | Path, out: str | Path = "evaluation", usage: str | None = "PublicTest",
        limit: int | None = None, detector: str = DEFAULT_DETECTOR, model: str = "base", beam_size: int = 1,
        fast_face: bool = False) -> dict:
    """Evaluate ``task`` on ``data`` and write metrics and plots into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if task == "transcribe":
        result = evaluate_transcribe(data, limit, model, beam_size)
        result["markdown"] = transcribe_markdown(result)
    elif task == "video":
        result = evaluate_video(data, limit, detector, fast_face)
        parts = []
        for name, report in result["reports"].items():
            plot_confusion_matrix(report, out / f"video_{name}_confusion.png", f"{name}: {report['accuracy']:.1%}")
            parts.append(report_markdown(report, f"{name}"))
        result["markdown"] = "\n".join(parts)
    else:
        result = evaluate_speech(data, limit) if task == "speech" else evaluate_face(data, usage, limit, fast_face)
        plot_confusion_matrix(result, out / f"{task}_confusion.png")
        result["markdown"] = report_markdown(result, f"{task} model")
    write_json(result, out / f"{task}_metrics.json")
    (out / f"{task}_metrics.md").write_text(result["markdown"])
    return result


def train_fusion(data: list[str], out: str | Path) -> dict:
    """Fit the learned fusion on paired clips; report it next to the rule, both leave-one-clip-out."""
    from emofuse.fusion.learned import compare_with_rule
    from emofuse.pipeline import Analyzer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer()
    analysed = [item for folder in data for item in analyse_videos(folder, analyzer=analyzer)]
    model, summary = compare_with_rule(analysed, analyzer.fusion_config())
    model.save(out / "fusion.json")
    summary["model"] = str(out / "fusion.json")
    write_json(summary, out / "summary.json")
    return summary
