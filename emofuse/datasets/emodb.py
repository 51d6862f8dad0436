"""EmoDB (Berlin Database of Emotional Speech) file names: ``SSTTTEV`` (e.g. ``03a01Wa.wav``).

SS speaker (03, 08-16), TTT text, E emotion (W anger, L boredom, E disgust, A fear, F happiness, T sadness,
N neutral), V version. Boredom has no emofuse label: those clips are skipped by ``list_emodb``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emofuse.errors import InputError
from emofuse.labels import EMODB_EMOTIONS
from emofuse.media import AUDIO_SUFFIXES

SENTENCES = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
"""What EmoDB's speakers say, by the text code in the file name (the corpus's documentation, German)."""

_NAME = re.compile(r"^(\d{2})([a-z]\d{2})([WLEAFTN])([a-z])$")


@dataclass(frozen=True)
class EmoDBClip:
    """One EmoDB file and what its name says about it (``label`` None for boredom)."""

    path: Path
    speaker: int
    text: str
    label: str | None


def parse_emodb_name(path: str | Path) -> EmoDBClip:
    """Parse an EmoDB file name; raise InputError if it is not one."""
    path = Path(path)
    match = _NAME.match(path.stem)
    if not match:
        raise InputError(path, "not an EmoDB file name (SSTTTEV, e.g. 03a01Wa)")
    speaker, text, emotion, _ = match.groups()
    return EmoDBClip(path, int(speaker), text, EMODB_EMOTIONS.get(emotion))


def list_emodb(root: str | Path) -> list[EmoDBClip]:
    """The EmoDB clips below ``root`` (``wav/`` or flat) with an emofuse label, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    clips = [parse_emodb_name(p) for p in sorted(root.rglob("*"))
             if p.suffix.lower() in AUDIO_SUFFIXES and _NAME.match(p.stem)]
    clips = [c for c in clips if c.label is not None]
    if not clips:
        raise InputError(root, "no EmoDB files found (expected SSTTTEV.wav, e.g. 03a01Wa.wav)")
    return clips
