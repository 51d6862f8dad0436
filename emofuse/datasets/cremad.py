"""CREMA-D file names: ``ACTOR_SENTENCE_EMOTION_LEVEL`` (e.g. ``1001_DFA_ANG_XX.flv``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emofuse.errors import InputError
from emofuse.labels import CREMAD_EMOTIONS
from emofuse.media import AUDIO_SUFFIXES, VIDEO_SUFFIXES

_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


@dataclass(frozen=True)
class CremaDClip:
    """One CREMA-D file and what its name says about it."""

    path: Path
    actor: int
    sentence: str
    label: str
    level: str


def parse_cremad_name(path: str | Path) -> CremaDClip:
    """Parse a CREMA-D file name; raise InputError if it is not one."""
    path = Path(path)
    match = _NAME.match(path.stem)
    if not match or match.group(3) not in CREMAD_EMOTIONS or match.group(4) not in LEVELS:
        raise InputError(path, "not a CREMA-D file name (ACTOR_SENTENCE_EMOTION_LEVEL)")
    actor, sentence, emotion, level = match.groups()
    return CremaDClip(path, int(actor), sentence, CREMAD_EMOTIONS[emotion], LEVELS[level])


def list_cremad(root: str | Path) -> list[CremaDClip]:
    """All CREMA-D clips (any audio or video file, e.g. the official .flv) below ``root``, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    clips = [parse_cremad_name(p) for p in sorted(root.rglob("*"))
             if p.suffix.lower() in AUDIO_SUFFIXES + VIDEO_SUFFIXES and _NAME.match(p.stem)]
    if not clips:
        raise InputError(root, "no CREMA-D files found")
    return clips
