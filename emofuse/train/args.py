"""Command-line arguments of the training recipes (importable without torch)."""

from __future__ import annotations

import argparse

FACE_BATCH_SIZE = 128  # the face recipe's default batch (a card's command names it only when a run used another)


def add_speech_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="folder holding the corpora: ravdess/ (Actor_XX/*.wav|flac), "
                        "emodb/ (optional), crema_d/ (optional, scored only)")
    parser.add_argument("--out", default="runs/speech",
                        help="run folder: logs, summary, ONNX encoder and heads (default: %(default)s)")
    parser.add_argument("--features", default=None,
                        help="cache of the frozen encoder's states, reused by reruns (default: OUT/features)")
    parser.add_argument("--corpora", default="ravdess,emodb", help="training corpora (default: %(default)s)")
    parser.add_argument("--copies", type=int, default=2, help="noisy renditions of each training clip")
    parser.add_argument("--warps", type=int, default=0,
                        help="speaker-perturbed renditions (frequency-warped, then noisy) of each training clip")
    parser.add_argument("--tune-blocks", type=int, default=0, choices=[0, 1, 2],
                        help="fine-tune Whisper's top block(s) per fold (0: frozen encoder, heads only)")
    parser.add_argument("--tune-epochs", type=int, default=8,
                        help="epochs of each fine-tuning (each as many windows as there are clean clips)")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per head")
    parser.add_argument("--seeds", type=int, default=3, help="heads per model, averaged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)


def add_face_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="FER2013 CSV (.csv, .csv.gz, .csv.xz) or image folder")
    parser.add_argument("--ferplus", default=None, help="FER+ votes CSV (fer2013new.csv) for soft labels")
    parser.add_argument("--ferplus-weight", type=float, default=0.3, help="share of FER+ votes in the targets")
    parser.add_argument("--ferplus-aux", type=float, default=0.0,
                        help="weight of a second output trained on the FER+ vote shares beside the FER2013 labels "
                        "(multi-task; not exported; --arch cnn)")
    parser.add_argument("--work", "--out", dest="work", default="~/.cache/emofuse/train/face",
                        help="run folder: checkpoint, log, summary, ONNX (default: %(default)s)")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --work")
    parser.add_argument("--epochs", type=int, default=16, help="length of the schedule")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop once this many epochs are done (checkpointed; --resume continues)")
    parser.add_argument("--batch-size", type=int, default=FACE_BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--shift-px", type=float, default=4.0, help="largest random shift of a 48 px crop")
    parser.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average per step")
    parser.add_argument("--bf16", action="store_true",
                        help="train in bfloat16 mixed precision (about 1.9x faster FaceCNN steps on CPUs with AMX; "
                        "slower for lite0's depthwise convolutions)")
    parser.add_argument("--arch", choices=["cnn", "lite0"], default="cnn",
                        help="cnn: FaceCNN from scratch (SGD); lite0: EfficientNet-Lite0 from its ImageNet weights "
                        "(AdamW; --lr is the head's peak, --backbone-lr the backbone's)")
    parser.add_argument("--widths", default="32,64,128,256", help="channels of the four CNN stages (--arch cnn)")
    parser.add_argument("--size", type=int, default=64, help="side the crop is resized to inside lite0")
    parser.add_argument("--backbone-lr", type=float, default=3e-4, help="peak lr of the pretrained backbone")
    parser.add_argument("--holdout", type=float, default=0.1, help="share of Training held out for selection")
    parser.add_argument("--tta", choices=["none", "flip"], default="none",
                        help="test-time rule used to choose the epoch, to score and to ship")
    parser.add_argument("--init", default=None, help="start from the chosen weights of this earlier run folder")
    parser.add_argument("--teacher", default=None, metavar="CARD",
                        help="distil: blend a face model's probabilities into the targets ('shipped' or a card JSON)")
    parser.add_argument("--teacher-weight", type=float, default=0.7, help="share of the teacher in the targets")
    parser.add_argument("--teacher-temperature", type=float, default=2.0,
                        help="softening of the teacher's probabilities (p^(1/T), renormalised)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def add_fusion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, nargs="+", help="folders of paired clips (RAVDESS mp4, CREMA-D flv)")
    parser.add_argument("--out", default="runs/fusion", help="run folder: features, model JSON, report")
