"""Shared by the benchmark scripts: the command line (with ``--smoke``), machine description and result files.

``--smoke`` runs a benchmark at tiny sizes and writes its result to a temporary folder ($EMOFUSE_BENCH_RESULTS
where set), never over the measured results: tests/test_benchmarks.py runs every benchmark so, so none can rot.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SMOKE = False
"""True while a benchmark runs with ``--smoke`` (set by ``parse_args``)."""


def parse_args(parser: argparse.ArgumentParser | None = None, doc: str | None = None) -> argparse.Namespace:
    """The benchmark's arguments, with ``--smoke`` added; sets SMOKE."""
    global SMOKE
    parser = parser or argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, result to a temporary folder (the test suite's run: checks it still works)")
    args = parser.parse_args()
    SMOKE = args.smoke
    return args


def few(items, count: int = 2) -> list:
    """All of ``items``, or only the first ``count`` in a smoke run."""
    return list(items)[:count] if SMOKE else list(items)


def results_dir() -> Path:
    if SMOKE:
        return Path(os.environ.get("EMOFUSE_BENCH_RESULTS") or Path(tempfile.gettempdir()) / "emofuse-bench-smoke")
    return RESULTS


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "date": datetime.date.today().isoformat()}


def save(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` (a smoke run: ``results_dir()``) with the machine and the command."""
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    record = {"benchmark": name, "command": "python " + " ".join(sys.argv), "machine": machine(), **data}
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"\nwrote {path}")
    return path


def table(rows: list[dict]) -> None:
    """Print rows as a Markdown table."""
    if not rows:
        return
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.3g}" if isinstance(row[k], float) else str(row[k]) for k in keys) + " |")


def fold_classifiers(run: Path) -> dict:
    """Actor -> the speech classifier of the CV fold that held that actor out, from a speech run's folds.json.

    Each fold's head (and its normalisation) replaces the shipped one; the encoder is the shipped one.
    """
    from emofuse.audio.classifier import SpeechClassifier
    from emofuse.models import load_card

    folds = json.loads((run / "folds.json").read_text())["folds"]
    shipped = load_card("speech")
    by_actor = {}
    for fold in folds:
        card = {**shipped, "head": {"file": str((run / fold["head_file"]).resolve())},
                "normalization": fold["normalization"], "temperature": fold["temperature"]}
        clf = SpeechClassifier(card)
        by_actor.update({actor: clf for actor in fold["test_actors"]})
    return by_actor


def encode_mono_audio(container, stream, samples) -> None:
    """Encode float samples (-1..1) at the stream's rate into an open PyAV ``container``'s mono audio ``stream``,
    and flush it."""
    import av
    import numpy as np

    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    for start in range(0, len(pcm), 1024):
        chunk = av.AudioFrame.from_ndarray(pcm[start:start + 1024][None], format="s16", layout="mono")
        chunk.sample_rate, chunk.pts = stream.rate, start
        for packet in stream.encode(chunk):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def crops_per_second(clf, batch: int = 256, rounds: int = 5) -> float:
    """Face crops a classifier (``classify_batch``) reads per second: ``rounds`` batches of ``batch`` random
    48x48 crops, after one batch of warm-up."""
    import time

    import numpy as np

    crops = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    clf.classify_batch(crops)
    start = time.perf_counter()
    for _ in range(rounds):
        clf.classify_batch(crops)
    return batch * rounds / (time.perf_counter() - start)
