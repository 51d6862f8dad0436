"""Command-line arguments of the training recipes (importable without torch)."""

from __future__ import annotations

import argparse


def add_speech_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="folder holding the corpora: ravdess/ (Actor_XX/*.wav|flac), "
                        "emodb/ (optional), crema_d/ (optional, scored only)")
    parser.add_argument("--out", default="runs/speech",
                        help="run folder: logs, summary, ONNX encoder and heads (default: %(default)s)")
    parser.add_argument("--features", default=None, help="feature cache folder (default: OUT/features)")
    parser.add_argument("--corpora", default="ravdess,emodb", help="training corpora (default: %(default)s)")
    parser.add_argument("--encoder", default="base", choices=["base", "tiny.en"], help="Whisper encoder")
    parser.add_argument("--copies", type=int, default=2, help="augmented copies of each training clip")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per head")
    parser.add_argument("--seeds", type=int, default=3, help="heads per model, averaged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)


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
