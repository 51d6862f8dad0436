"""RAVDESS: file-name parsing, folder walking and speaker-independent folds.

Names are ``MM-VV-EE-II-SS-RR-AA``: modality (01 audio-video, 02 video, 03 audio), vocal channel
(01 speech, 02 song), emotion (01..08), intensity (01 normal, 02 strong), statement, repetition, actor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emofuse.errors import InputError
from emofuse.labels import RAVDESS_EMOTIONS
from emofuse.media import AUDIO_SUFFIXES, VIDEO_SUFFIXES

ACTOR_FOLDS: tuple[tuple[int, ...], ...] = tuple(tuple(range(s, s + 4)) for s in range(1, 21, 4))
"""The project's 5 speaker-independent folds over actors 01-20: 01-04, 05-08, 09-12, 13-16, 17-20."""

STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
"""What RAVDESS actors say, by the statement code in the file name."""

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class RavdessClip:
    """One RAVDESS file and what its name says about it."""

    path: Path
    modality: str  # "audio-video", "video", "audio"
    channel: str  # "speech" or "song"
    label: str
    intensity: str  # "normal" or "strong"
    statement: int
    repetition: int
    actor: int

    @property
    def gender(self) -> str:
        return "male" if self.actor % 2 else "female"


def parse_ravdess_name(path: str | Path) -> RavdessClip:
    """Parse a RAVDESS file name; raise InputError if it is not one."""
    path = Path(path)
    match = _NAME.match(path.stem)
    if not match:
        raise InputError(path, "not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA)")
    mod, chan, emo, inten, stmt, rep, actor = match.groups()
    modality = {"01": "audio-video", "02": "video", "03": "audio"}.get(mod)
    channel = {"01": "speech", "02": "song"}.get(chan)
    intensity = {"01": "normal", "02": "strong"}.get(inten)
    if modality is None or channel is None or intensity is None or emo not in RAVDESS_EMOTIONS:
        raise InputError(path, "RAVDESS file name with an unknown code")
    return RavdessClip(path, modality, channel, RAVDESS_EMOTIONS[emo], intensity,
                       int(stmt), int(rep), int(actor))


def list_ravdess(root: str | Path, channel: str | None = "speech",
                 actors: set[int] | None = None) -> list[RavdessClip]:
    """All RAVDESS clips below ``root`` (``Actor_XX`` folders or flat), sorted by name.

    ``channel`` keeps "speech" or "song" only (None keeps both); ``actors`` keeps those actors only.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    clips = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES + VIDEO_SUFFIXES or not _NAME.match(path.stem):
            continue
        clip = parse_ravdess_name(path)
        if (channel is None or clip.channel == channel) and (actors is None or clip.actor in actors):
            clips.append(clip)
    if not clips:
        raise InputError(root, "no RAVDESS files found (expected Actor_XX/MM-VV-EE-II-SS-RR-AA.wav)")
    return clips


def actor_folds(clips: list[RavdessClip], folds: tuple[tuple[int, ...], ...] = ACTOR_FOLDS,
                ) -> list[tuple[list[int], list[int]]]:
    """(train indices, test indices) per fold; no actor is ever on both sides."""
    splits = []
    for test_actors in folds:
        test = [i for i, c in enumerate(clips) if c.actor in test_actors]
        train = [i for i, c in enumerate(clips) if c.actor not in test_actors]
        splits.append((train, test))
    return splits
