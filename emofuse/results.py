"""The results schema and its writers (JSON, JSON Lines, CSV), all written atomically.

Per input::

    {"input", "kind": "image|audio|video", "duration",
     "speech": {"label", "labels", "probabilities", "segments", "voiced_ratio", "snr_db", "domain_match"} | null,
     "face":   {"label", "labels", "probabilities", "segments", "faces", ...} | null,
     "fused":  {"label", "labels", "probabilities", "sources", "missing", "reliability": {"speech", "face"},
                "weights": {"speech", "face"},
                "segments": [{"start", "end", "label", "probabilities", "sources"}]} | null}

``fused.reliability`` is how much evidence each modality had (0 = absent, 1 = at least a second of clear voice
or face); ``fused.weights`` is each modality's share of the clip decision (reliability x confidence x, for speech,
``speech.domain_match``: how closely the recording's SNR, ``speech.snr_db``, matches the training recordings;
absent when a learned fusion decided).

``probabilities`` are dicts label -> probability in the model's own label set (``labels`` gives the order).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def probability_dict(probs: np.ndarray | None, labels: Sequence[str]) -> dict[str, float]:
    return {} if probs is None else {name: round(float(p), 5) for name, p in zip(labels, probs)}


def top_label(probs: np.ndarray | None, labels: Sequence[str]) -> str | None:
    return None if probs is None else labels[int(np.argmax(probs))]


def segment_record(start: float, end: float, probs: np.ndarray, labels: Sequence[str], **extra) -> dict:
    """One time span with its label and probabilities."""
    return {"start": round(float(start), 3), "end": round(float(end), 3), "label": top_label(probs, labels),
            "probabilities": probability_dict(probs, labels), **extra}


def modality_block(probs: np.ndarray | None, labels: Sequence[str], segments: list[dict], **extra) -> dict:
    """The speech, face or fused block: overall label and probabilities plus the timeline."""
    return {"label": top_label(probs, labels), "labels": list(labels),
            "probabilities": probability_dict(probs, labels), "segments": segments, **extra}


def fusion_summary(result: dict) -> str | None:
    """One sentence on how the clip's fused label weighed the modalities (None when only one was present)."""
    fused, speech = result.get("fused") or {}, result.get("speech") or {}
    weights = fused.get("weights")
    if not weights or fused.get("sources") != ["speech", "face"]:
        return None
    text = f"Fused from speech ({weights['speech']:.0%}) and face ({weights['face']:.0%})"
    if speech.get("domain_match", 1.0) < 0.5:
        text += (f"; the recording ({speech['snr_db']:.0f} dB SNR) is noisier than the speech model's training "
                 "audio, so the voice counts less")
    return text + "."


def timeline_columns(block: dict | None, track_id: int | None = None) -> dict[str, list[float]]:
    """Column-wise timeline of a block for charts: ``time`` (window centres) and one list per label.

    For a face block only ``track_id`` (default: the primary face) is kept.
    """
    if not block or not block.get("segments"):
        return {}
    segments = block["segments"]
    if any("track_id" in s for s in segments):
        wanted = block.get("primary_track") if track_id is None else track_id
        segments = [s for s in segments if s.get("track_id") == wanted]
    columns = {"time": [round((s["start"] + s["end"]) / 2, 3) for s in segments]}
    for name in block["labels"]:
        columns[name] = [s["probabilities"].get(name, 0.0) for s in segments]
    return columns


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_json(result: dict | list, path: str | Path) -> Path:
    """Write one result (or a list of them) as indented JSON."""
    path = Path(path)
    atomic_write_text(path, json.dumps(result, indent=2, default=float) + "\n")
    return path


def repair_jsonl(path: str | Path) -> int:
    """Cut a torn last line (a write killed half-way) off a JSON Lines file; returns the bytes removed.

    Without this the next appended record is glued to the fragment and both are lost.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 1))
        if handle.read(1) == b"\n":
            return 0
        handle.seek(0)
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        handle.truncate(keep)
    return size - keep


def append_jsonl(result: dict, path: str | Path) -> None:
    """Append one result as a line; each line is flushed whole, so a crash loses at most the last one (and
    ``repair_jsonl`` removes what such a crash leaves)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_jsonl(path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(result) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """The complete lines of a JSON Lines file (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


CSV_MODALITIES = ("speech", "face", "fused")
CSV_COLUMNS = ("input", "modality", "track_id", "start", "end", "label", "sources")


def timeline_rows(result: dict) -> list[dict]:
    """One row per segment of every modality: input, modality, track, start, end, label, sources, then p_*."""
    rows = []
    for modality in CSV_MODALITIES:
        block = result.get(modality)
        for seg in (block or {}).get("segments", []):
            row = {"input": result.get("input"), "modality": modality, "track_id": seg.get("track_id", ""),
                   "start": seg["start"], "end": seg["end"], "label": seg["label"],
                   "sources": "+".join(seg.get("sources", []))}
            row.update({f"p_{k}": v for k, v in seg["probabilities"].items()})
            rows.append(row)
    return rows


def csv_text(results: Iterable[dict]) -> str:
    """The CSV timeline of several results (one row per window and modality)."""
    rows = [row for result in results for row in timeline_rows(result)]
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields or list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(results: Iterable[dict], path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, csv_text(results))
    return path
