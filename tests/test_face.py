import numpy as np
import pytest

from emofuse.face.align import FER_LANDMARKS, face_crops, similarity_transform
from emofuse.face.detect import DETECTORS, BlazeFaceDetector, Detection, get_detector, iou, nms, weighted_nms
from emofuse.face.track import IoUTracker


@pytest.mark.parametrize("backend", sorted(DETECTORS))
def test_detectors_find_the_one_real_face(face_frame, backend):
    detections = get_detector(backend)(face_frame)
    assert len(detections) == 1
    x0, y0, x1, y1 = detections[0].box
    assert 200 < (x0 + x1) / 2 < 440 and 100 < (y0 + y1) / 2 < 300  # the actor is centred in the frame
    assert detections[0].score > 0.5


@pytest.mark.parametrize("backend", ["mtcnn", "blazeface"])
def test_landmarks_lie_inside_the_box_in_order(face_frame, backend):
    det = get_detector(backend)(face_frame)[0]
    marks = det.landmarks
    assert marks.shape == (5, 2)
    assert marks[0, 0] < marks[1, 0] and marks[3, 0] < marks[4, 0]  # left before right
    assert marks[:2, 1].mean() < marks[2, 1] < marks[3:, 1].mean()  # eyes above nose above mouth
    assert (marks[:, 0] > det.box[0]).all() and (marks[:, 0] < det.box[2]).all()


def test_blazeface_landmarks_match_mtcnn_so_crops_match(face_frame):
    """BlazeFace's faces get their 5 landmarks from MTCNN's last network: the same alignment, within pixels."""
    fast, mtcnn = get_detector("blazeface")(face_frame)[0], get_detector("mtcnn")(face_frame)[0]
    assert np.abs(fast.landmarks - mtcnn.landmarks).max() < 6.0  # the face is ~150 px wide
    crops = face_crops(face_frame, [fast, mtcnn]).astype(float)
    assert np.abs(crops[0] - crops[1]).mean() < 12


@pytest.mark.parametrize("backend", sorted(DETECTORS))
def test_no_face_in_a_blank_image(backend):
    blank = np.full((240, 320, 3), 127, np.uint8)
    assert get_detector(backend)(blank) == []


@pytest.mark.parametrize("backend", ["mtcnn", "blazeface"])
def test_two_faces_are_both_found(face_frame, backend):
    pair = np.concatenate([face_frame[:, 120:520], face_frame[:, 120:520]], axis=1)
    assert len(get_detector(backend)(pair)) == 2


def test_blazeface_hands_faces_too_small_for_it_to_mtcnn(face_frame):
    """A 1920x1080 frame with the actor's face ~50 px wide: below what BlazeFace's 128-px view resolves."""
    import cv2

    canvas = np.full((1080, 1920, 3), 90, np.uint8)
    canvas[600:780, 900:1220] = cv2.resize(face_frame, (320, 180), interpolation=cv2.INTER_AREA)
    alone = BlazeFaceDetector()
    alone.small_faces = lambda image: []
    assert alone(canvas) == []
    faces = get_detector("blazeface")(canvas)
    assert len(faces) == 1 and 900 < faces[0].box[0] < faces[0].box[2] < 1220


def test_weighted_nms_blends_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], float)
    kept = weighted_nms(boxes, np.array([0.9, 0.3, 0.6]), 0.3)
    assert [score for _, score in kept] == [0.9, 0.6]
    np.testing.assert_allclose(kept[0][0], [0.5, 0, 10.5, 10])  # (0.9 * 0 + 0.3 * 2) / 1.2
    np.testing.assert_allclose(kept[1][0], boxes[2])


def test_alignment_puts_eyes_where_fer2013_has_them(face_frame):
    det = get_detector("mtcnn")(face_frame)[0]
    crops = face_crops(face_frame, [det, Detection(det.box, det.score)])
    assert crops.shape == (2, 48, 48) and crops.dtype == np.uint8
    matrix = similarity_transform(det.landmarks, FER_LANDMARKS)
    mapped = det.landmarks @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(mapped[:2] - FER_LANDMARKS[:2]).max() < 3.0


def test_nms_and_iou():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    assert sorted(nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist()) == [0, 2]
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0 and iou((0, 0, 1, 1), (5, 5, 6, 6)) == 0.0


def test_tracker_keeps_ids_and_smooths():
    tracker = IoUTracker(max_misses=1, smoothing=0.5)
    a, b = Detection((0, 0, 50, 50), 1.0), Detection((200, 0, 250, 50), 1.0)
    first = tracker.update([a, b])
    moved = tracker.update([Detection((205, 2, 255, 52), 1.0), Detection((3, 1, 53, 51), 1.0)])
    assert [t.track_id for t in moved] == [first[1].track_id, first[0].track_id]
    track = moved[1]
    tracker.smooth(track, np.array([1.0, 0.0]))
    np.testing.assert_allclose(tracker.smooth(track, np.array([0.0, 1.0])), [0.5, 0.5])
    tracker.update([])
    tracker.update([])
    assert tracker.tracks == []
    assert tracker.update([a])[0].track_id == 3


def test_face_stream_detects_every_kth_frame_and_tracks_between(face_frame):
    from emofuse.face.track import FaceStream

    class CountingClassifier:
        def __init__(self):
            self.detections = 0

        def detect(self, frame):
            self.detections += 1
            return get_detector("mtcnn")(frame)

        def classify_faces(self, frame, detections):
            return np.tile(np.eye(7)[3], (len(detections), 1))

    clf = CountingClassifier()
    stream = FaceStream(clf, detect_every=3)
    steps = [stream.step(face_frame) for _ in range(7)]
    assert clf.detections == 3 and stream.frames == 7
    assert all(len(s) == 1 and s[0][0].track_id == 1 for s in steps)
    np.testing.assert_allclose(steps[-1][0][2], np.eye(7)[3])


@pytest.mark.parametrize("backend", ["haar", "mtcnn"])
def test_detectors_give_sequential_answers_from_threads(face_frame, backend):
    """One shared detector called from 4 threads at once returns what it returns alone (Haar raised before)."""
    from concurrent.futures import ThreadPoolExecutor

    detector = get_detector(backend)
    frames = [face_frame, face_frame[:, ::-1].copy(), face_frame[::2, ::2].copy(), np.zeros_like(face_frame)] * 6
    expected = [[d.box for d in detector(f)] for f in frames]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda f: [d.box for d in detector(f)], frames))
    assert got == expected and len(expected[0]) == 1


@pytest.mark.parametrize("backend", ["haar", "mtcnn"])
@pytest.mark.parametrize("shape", [(1, 2000, 3), (2000, 1, 3), (1, 1, 3), (5, 3000, 3)])
def test_thin_images_have_no_face_and_no_error(backend, shape):
    assert get_detector(backend)(np.full(shape, 128, np.uint8)) == []


def test_video_faces_classified_in_batches_as_frame_by_frame():
    """A video's faces are classified many at a time; each track still smooths its frames in order."""
    from emofuse.face.classifier import FaceClassifier
    from emofuse.face.track import FaceStream
    from emofuse.media import iter_video_frames
    from emofuse.video.faces import CLASSIFY_BATCH, track_faces
    from tests.conftest import RAVDESS_VIDEO, need

    clip = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"
    classifier = FaceClassifier(detector="blazeface")
    samples, frames, _, _ = track_faces(classifier, clip, fps=15, detect_every=2)
    stream = FaceStream(classifier, 2, IoUTracker(max_misses=15))
    expected = [probs for _, frame in iter_video_frames(clip, fps=15) for _, _, probs in stream.step(frame)]
    assert len(samples) == len(expected) == frames > CLASSIFY_BATCH
    np.testing.assert_allclose([s.probs for s in samples], expected, atol=1e-5)


def test_detection_thins_out_while_faces_hold_still_and_returns_when_one_moves():
    from emofuse.face.track import FaceStream

    class Scene:
        """One face at ``box``; notes the frame index of each detector run."""

        def __init__(self):
            self.box, self.detected_at, self.stream = (100.0, 100.0, 200.0, 200.0), [], None

        def detect(self, frame):
            self.detected_at.append(self.stream.frames)
            return [Detection(self.box, 0.9)]

    scene = Scene()
    stream = scene.stream = FaceStream(scene, detect_every=2, max_detect_every=5)
    frame = np.zeros((8, 8, 3), np.uint8)
    for _ in range(17):
        stream.locate(frame)
    assert scene.detected_at == [0, 2, 6, 11, 16]  # gap 2, 4, then at most 5 frames
    scene.box = (160.0, 100.0, 260.0, 200.0)  # the face moves: the next detection sees it and the gap resets
    for _ in range(8):
        faces = stream.locate(frame)
    assert scene.detected_at[5:] == [21, 23]
    assert faces[0][1].box == scene.box and stream.detections == 7

    still = Scene()
    fixed = still.stream = FaceStream(still, detect_every=2)  # without max_detect_every: every 2nd frame, as before
    for _ in range(9):
        fixed.locate(frame)
    assert still.detected_at == [0, 2, 4, 6, 8]


def test_a_track_and_its_windows_read_the_mean_of_their_frames():
    """The clip rule (issue #21, docs/results.md "Face clip rules"): a track's label and each window's are the mean of
    its frames' probabilities. A face expressive (happy, 0.9) for 2 frames of 6 and leaning neutral (0.55) for 4 reads
    neutral over the clip (mean happy 0.35 against neutral 0.37); the window holding the smile reads happy."""
    from emofuse.labels import FACE_LABELS
    from emofuse.video.faces import FaceSample, face_result

    def probs(label: str, share: float) -> np.ndarray:
        p = np.full(7, (1 - share) / 6)
        p[FACE_LABELS.index(label)] = share
        return p

    frames = [probs("neutral", 0.55)] * 2 + [probs("happy", 0.9)] * 2 + [probs("neutral", 0.55)] * 2
    samples = [FaceSample(0.5 * i, 1, p, 0.9, 100.0, (0, 0, 100, 100)) for i, p in enumerate(frames)]
    result = face_result(samples, 6, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)], FACE_LABELS)
    np.testing.assert_allclose(result.probs, np.mean(frames, axis=0))
    assert result.label == "neutral" and result.faces[0].frames == 6
    assert [FACE_LABELS[int(s.probs.argmax())] for s in result.segments] == ["neutral", "happy", "neutral"]


def test_a_members_class_weights_shift_its_reading_by_the_prior():
    """A card member's ``class_weights`` rescale its probabilities (renormalised) before the ensemble averages."""
    from emofuse.face.classifier import FaceClassifier, reweighted
    from emofuse.labels import FACE_LABELS
    from emofuse.models import load_card

    np.testing.assert_allclose(reweighted(np.array([[0.5, 0.5]]), np.array([1.0, 3.0])), [[0.25, 0.75]])
    member = {k: v for k, v in load_card("face")["members"][0].items() if k not in ("class_weights", "flip_tta")}
    shipped = {**load_card("face"), "members": [member]}
    card = {**shipped, "members": [{**member, "class_weights": [1.0] * (len(FACE_LABELS) - 1) + [0.0]}]}
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    plain, shifted = FaceClassifier(shipped).classify_batch(crops), FaceClassifier(card).classify_batch(crops)
    assert plain[:, -1].min() > 0.01
    assert (shifted[:, -1] == 0).all() and np.allclose(shifted.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(shifted[:, :-1], plain[:, :-1] / plain[:, :-1].sum(1, keepdims=True), atol=1e-5)


def test_any_number_of_crops_reads_in_bounded_batches_as_in_one():
    from emofuse.face.classifier import FaceClassifier

    crops = np.random.default_rng(2).integers(0, 256, (11, 48, 48), dtype=np.uint8)
    classifier = FaceClassifier()
    whole = classifier.classify_batch(crops)
    np.testing.assert_allclose(classifier.classify_batch(crops, batch_size=4), whole, atol=1e-5)
    assert whole.shape == (11, 7) and classifier.classify_batch(crops[:0], batch_size=4).shape == (0, 7)


def test_a_member_with_flip_tta_averages_a_crop_and_its_mirror_image():
    """A card member's ``flip_tta`` reads each crop and its mirror image (one call) and averages them; the other
    members read the crop alone."""
    from emofuse.face.classifier import FaceClassifier
    from emofuse.models import load_card

    shipped = load_card("face")
    first = {**shipped["members"][0], "flip_tta": False}  # two networks in the package, each read plainly
    second = {**load_card("face_fast")["members"][0], "flip_tta": False}
    crops = np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])

    def read(*members: dict, crops: np.ndarray = crops) -> np.ndarray:
        return FaceClassifier({**shipped, "members": list(members), "flip_tta": False}).classify_batch(crops)

    alone, mirror = read(first), read(first, crops=mirrored)
    assert np.abs(alone - mirror).max() > 1e-3  # a random crop and its mirror image read differently
    np.testing.assert_allclose(read({**first, "flip_tta": True}), (alone + mirror) / 2, atol=1e-5)
    np.testing.assert_allclose(read({**first, "flip_tta": True}, second), ((alone + mirror) / 2 + read(second)) / 2,
                               atol=1e-5)
