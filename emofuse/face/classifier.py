"""Facial expression recognition with the shipped ONNX model, on crops or on whole images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emofuse.face.align import face_crops
from emofuse.face.crops import CROP_SIZE, crops_to_input
from emofuse.face.detect import DEFAULT_DETECTOR, Detection, get_detector
from emofuse.labels import FACE_LABELS
from emofuse.media import load_image
from emofuse.models import load_card, model_path
from emofuse.results import FaceRecord, FaceResult
from emofuse.runtime import onnx_session, softmax


def reweighted(probs: np.ndarray, class_weights: np.ndarray) -> np.ndarray:
    """Probabilities (N, C) times per-class weights, renormalised: the Bayes correction for a shifted class prior
    (weights = the prior wanted / the prior a network was trained under)."""
    probs = probs * class_weights
    return probs / probs.sum(axis=1, keepdims=True)


class FaceClassifier:
    """The shipped face model (one network or an ensemble): 48x48 grey crops -> probabilities over 7 labels.

    An ensemble averages its members' probabilities, each by its card ``weight`` (default 1); a member's
    ``class_weights`` (default none) rescale its probabilities first (``reweighted``); a member with ``flip_tta``
    reads each crop and its mirror image and averages the two (the card's ``flip_tta``, or the argument, flips
    every member).

    >>> clf = FaceClassifier()
    >>> result = clf.classify_file("photo.jpg")    # FaceResult: .label, .probs, .faces, ...
    """

    labels = FACE_LABELS

    def __init__(self, card: dict | None = None, detector: str = DEFAULT_DETECTOR, flip_tta: bool | None = None,
                 min_face_size: int = 40, max_side: int = 640):
        self.card = card or load_card("face")
        self.sessions = [onnx_session(model_path(self.card, m["file"])) for m in self.card["members"]]
        self.weights = np.array([float(m.get("weight", 1.0)) for m in self.card["members"]])
        self.class_weights = [np.asarray(m.get("class_weights", np.ones(len(self.labels))), np.float32)
                              for m in self.card["members"]]
        self.temperature = float(self.card.get("temperature", 1.0))
        every_member = self.card.get("flip_tta", False) if flip_tta is None else flip_tta
        self.member_flips = [bool(every_member or m.get("flip_tta", False)) for m in self.card["members"]]
        self.detector = get_detector(detector, min_face_size, max_side)

    def classify_batch(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Probabilities (N, 7) for uint8 grey crops (N, 48, 48), read ``batch_size`` at a time (bounded memory)."""
        crops = np.asarray(crops)
        if len(crops) <= batch_size:
            return self._classify(crops)
        return np.concatenate([self._classify(crops[i:i + batch_size]) for i in range(0, len(crops), batch_size)])

    def _classify(self, crops: np.ndarray) -> np.ndarray:
        if not len(crops):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = np.ascontiguousarray(crops_to_input(crops))
        mirrored = np.ascontiguousarray(x[..., ::-1]) if any(self.member_flips) else None
        members = [self._member_probs(session, x, mirrored if flips else None, class_weights)
                   for session, class_weights, flips in zip(self.sessions, self.class_weights, self.member_flips)]
        probs = np.average(members, axis=0, weights=self.weights)
        return probs.astype(np.float32)

    @staticmethod
    def _member_probs(session, x: np.ndarray, mirrored: np.ndarray | None, class_weights: np.ndarray) -> np.ndarray:
        """One member's probabilities; averaged with its reading of the mirrored crops when given (one call)."""
        if mirrored is None:
            return reweighted(softmax(session.run(None, {"input": x})[0]), class_weights)
        views = reweighted(softmax(session.run(None, {"input": np.concatenate([x, mirrored])})[0]), class_weights)
        return (views[:len(x)] + views[len(x):]) / 2

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB image, largest first."""
        return sorted(self.detector(image), key=lambda d: -d.size)

    def classify_faces(self, image: np.ndarray, detections: list[Detection]) -> np.ndarray:
        return self.classify_batch(face_crops(image, detections))

    def analyze_image(self, image: np.ndarray, face_crop: bool = False) -> FaceResult:
        """The face result of one RGB image: every face with box and probabilities; the largest face leads.

        ``face_crop`` treats the whole image as one already-cropped face (as in FER2013).
        """
        if face_crop:
            import cv2

            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            crop = cv2.resize(grey, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
            height, width = grey.shape
            detections = [Detection((0.0, 0.0, float(width), float(height)), 1.0)]
            probs = self.classify_batch(crop[None])
        else:
            detections = self.detect(image)
            probs = self.classify_faces(image, detections)
        faces = tuple(FaceRecord(p, box=d.box, score=d.score, landmarks=d.landmarks) for d, p in zip(detections, probs))
        return FaceResult(labels=self.labels, probs=probs[0] if faces else None, faces=faces)

    def classify_file(self, path: str | Path, face_crop: bool = False) -> FaceResult:
        return self.analyze_image(load_image(path), face_crop=face_crop)

