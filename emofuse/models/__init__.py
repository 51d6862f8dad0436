"""Registry of the models shipped inside the package: one model card (JSON) per task.

A card names its ONNX file(s), the labels they output, how they were measured, and the temperature that
calibrates them for fusion. ``load_card("speech")`` / ``load_card("face")`` are the only way code finds them;
``face_fast`` is the small face network distilled from ``face`` (``AnalyzerConfig(fast_face=True)``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from emofuse.errors import EmofuseError

MODELS_DIR = Path(__file__).parent
TASKS = ("speech", "face", "face_fast")


@lru_cache(maxsize=8)
def load_card(task: str) -> dict:
    """The model card of ``task`` ("speech" or "face"), with ``dir`` set to where its files lie."""
    if task not in TASKS:
        raise EmofuseError(f"unknown model task {task!r}; choose from {TASKS}")
    path = MODELS_DIR / f"{task}.json"
    if not path.exists():
        raise EmofuseError(f"the {task} model is not installed ({path} missing)")
    card = json.loads(path.read_text())
    card["dir"] = str(MODELS_DIR)
    return card


def card_from_file(path: str | Path) -> dict:
    """A model card read from ``path`` (a candidate not shipped), ``dir`` set to the folder holding it."""
    path = Path(path).expanduser()
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EmofuseError(f"{path}: not a readable model card ({exc})") from exc
    card["dir"] = str(path.resolve().parent)
    return card


def model_path(card: dict, file: str) -> Path:
    """Absolute path of one of a card's model files."""
    return Path(card["dir"]) / file
