"""Loaders for the public datasets emofuse is trained and evaluated on, in their official layouts."""

from emofuse.datasets.cremad import CremaDClip, list_cremad, parse_cremad_name
from emofuse.datasets.emodb import EmoDBClip, list_emodb, parse_emodb_name
from emofuse.datasets.fer2013 import FaceSet, load_fer2013, load_ferplus_votes
from emofuse.datasets.ravdess import (
    ACTOR_FOLDS,
    RavdessClip,
    actor_folds,
    list_ravdess,
    parse_ravdess_name,
)

__all__ = [
    "ACTOR_FOLDS", "CremaDClip", "EmoDBClip", "FaceSet", "RavdessClip", "actor_folds", "list_cremad", "list_emodb",
    "list_ravdess",
    "load_fer2013", "load_ferplus_votes", "parse_cremad_name", "parse_emodb_name", "parse_ravdess_name",
]
