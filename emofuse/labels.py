"""The one label vocabulary of emofuse and every dataset's mapping into it.

Every module that needs a label name, an index or a dataset mapping imports it from here.

| emofuse    | RAVDESS (code) | FER2013 (index) | FER+ column | CREMA-D | EmoDB | fusion (7) |
|------------|----------------|-----------------|-------------|---------|-------|------------|
| neutral    | 01 neutral     | 6 neutral       | neutral     | NEU     | N     | neutral    |
| calm       | 02 calm        | -               | -           | -       | -     | neutral    |
| happy      | 03 happy       | 3 happy         | happiness   | HAP     | F     | happy      |
| sad        | 04 sad         | 4 sad           | sadness     | SAD     | T     | sad        |
| angry      | 05 angry       | 0 angry         | anger       | ANG     | W     | angry      |
| fearful    | 06 fearful     | 2 fear          | fear        | FEA     | A     | fearful    |
| disgust    | 07 disgust     | 1 disgust       | disgust     | DIS     | E     | disgust    |
| surprised  | 08 surprised   | 5 surprise      | surprise    | -       | -     | surprised  |

FER+ `contempt`, `unknown` and `NF` (not a face) and EmoDB `L` (boredom) have no emofuse label and are dropped.
"""

from __future__ import annotations

import numpy as np

EMOTIONS: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised",
)
"""All emofuse labels."""

SPEECH_LABELS: tuple[str, ...] = EMOTIONS
"""The 8 labels of the speech model, in RAVDESS code order (01..08)."""

FACE_LABELS: tuple[str, ...] = (
    "angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral",
)
"""The 7 labels of the face model, in FER2013 index order (0..6)."""

FUSION_LABELS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised",
)
"""The 7 labels shared by both modalities (calm merged into neutral)."""

RAVDESS_EMOTIONS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(SPEECH_LABELS, 1)}
FER2013_EMOTIONS: dict[int, str] = dict(enumerate(FACE_LABELS))
FERPLUS_COLUMNS: dict[str, str] = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprised", "sadness": "sad",
    "anger": "angry", "disgust": "disgust", "fear": "fearful",
}
CREMAD_EMOTIONS: dict[str, str] = {
    "ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad",
}
EMODB_EMOTIONS: dict[str, str] = {
    "N": "neutral", "F": "happy", "T": "sad", "W": "angry", "A": "fearful", "E": "disgust",
}
EMOTION_COLOURS: dict[str, str] = {
    "neutral": "#a0a0a0", "calm": "#5abebe", "happy": "#fabe00", "sad": "#286edc", "angry": "#dc2828",
    "fearful": "#963cc8", "disgust": "#78a028", "surprised": "#fa7814",
}
"""One fixed colour per emotion, everywhere: app charts, annotated images and video, the live view, HTML reports."""


def colour_rgb(label: str) -> tuple[int, int, int]:
    """The label's colour as an (R, G, B) tuple (grey for an unknown label)."""
    code = EMOTION_COLOURS.get(label, "#808080")
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


TO_FUSION: dict[str, str] = {name: ("neutral" if name == "calm" else name) for name in EMOTIONS}


def to_fusion_label(label: str) -> str:
    """Map any emofuse label to the 7-label fusion set."""
    return TO_FUSION[label]


def projection_matrix(source: tuple[str, ...], target: tuple[str, ...] = FUSION_LABELS) -> np.ndarray:
    """Matrix ``M`` so that ``probs @ M`` sums ``source``-ordered probabilities into ``target`` order."""
    matrix = np.zeros((len(source), len(target)), dtype=np.float32)
    for i, name in enumerate(source):
        matrix[i, target.index(TO_FUSION[name])] = 1.0
    return matrix


def to_fusion_probabilities(probs: np.ndarray, source: tuple[str, ...]) -> np.ndarray:
    """Project probabilities (..., len(source)) onto the fusion labels (..., 7)."""
    return np.asarray(probs, dtype=np.float32) @ projection_matrix(source)
