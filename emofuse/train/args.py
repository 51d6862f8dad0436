"""Command-line arguments of the training recipes (importable without torch)."""

from __future__ import annotations

import argparse


def add_speech_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="RAVDESS folder (Actor_XX/*.wav|flac)")
    parser.add_argument("--out", default="runs/speech",
                        help="run folder: checkpoints, logs, ONNX (default: %(default)s)")
    parser.add_argument("--archs", default="crnn,cnn,cnn@1", help="comma-separated members: cnn, crnn, densenet; "
                        "name@k trains the same architecture again from seed + 1000k (e.g. cnn@1)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--no-mixup", dest="mixup", action="store_false")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--cv-only", action="store_true", help="stop after cross-validation")


def add_face_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="FER2013 CSV (.csv, .csv.gz, .csv.xz) or image folder")
    parser.add_argument("--ferplus", default=None, help="FER+ votes CSV (fer2013new.csv) for soft labels")
    parser.add_argument("--ferplus-weight", type=float, default=0.3, help="share of FER+ votes in the targets")
    parser.add_argument("--out", default="runs/face", help="run folder (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--init", default=None, help="start from the best weights of this earlier run folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def add_fusion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, nargs="+", help="folders of paired clips (RAVDESS mp4, CREMA-D flv)")
    parser.add_argument("--out", default="runs/fusion", help="run folder: features, model JSON, report")
