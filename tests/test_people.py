"""Who is speaking: diarization of the voice, mouth synchrony, and the people of a video."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from emofuse.audio.diarize import cluster_embeddings, speaker_turns, turns_from_windows
from emofuse.media import load_audio
from emofuse.video.speaking import MouthTracker, attribute, synchrony
from tests.conftest import CREMAD, RAVDESS, RAVDESS_VIDEO, checked, need

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def conversation(actors: tuple[int, ...], turns: int) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """Real RAVDESS utterances of ``actors`` in alternating turns, and who speaks when."""
    parts, truth, t = [], [], 0.0
    for k in range(turns):
        actor = actors[k % len(actors)]
        audio = load_audio(sorted((need(RAVDESS) / f"Actor_{actor:02d}").glob("*.flac"))[3 * k])
        parts.append(audio)
        truth.append((t, t + len(audio) / 16_000, actors.index(actor)))
        t += len(audio) / 16_000
    return np.concatenate(parts), truth


def right_share(turns, truth) -> float:
    """Share of 10 ms steps inside the turns found whose speaker is the truth's (speakers numbered by first speech,
    as the truth's are)."""
    right = total = 0
    for turn in turns:
        for t in np.arange(turn.start, turn.end, 0.01):
            speaker = next((k for s, e, k in truth if s <= t < e), None)
            total += 1
            right += speaker == turn.speaker
    return right / max(total, 1)


def test_two_real_speakers_taking_turns_are_told_apart():
    audio, truth = conversation((1, 2), 8)
    turns = speaker_turns(audio, n_speakers=2)
    assert {t.speaker for t in turns} == {0, 1}
    assert right_share(turns, truth) >= 0.9
    assert all(a.end <= b.start + 1e-9 for a, b in zip(turns, turns[1:]))  # in time order, never overlapping


def test_one_speaker_stays_one_when_told_and_silence_has_no_turns():
    audio, _ = conversation((3,), 4)
    assert {t.speaker for t in speaker_turns(audio, n_speakers=1)} == {0}
    assert speaker_turns(np.zeros(16_000 * 3, np.float32)) == []


def test_a_recording_of_two_voices_told_how_many_speak_has_a_person_each():
    from emofuse.cli import summary_line
    from emofuse.pipeline import Analyzer, AnalyzerConfig

    audio, truth = conversation((1, 2), 6)
    result = Analyzer(AnalyzerConfig(speakers=2)).analyze_audio(audio)
    first, second = result.people
    assert first.face is None and first.box is None and {first.voice, second.voice} == {0, 1}
    for person, actor in ((first, 0), (second, 1)):  # numbered by first speech: actor 1 speaks first
        spoken = [(s, e) for s, e, k in truth if k == actor]
        assert all(any(s <= (a + b) / 2 < e for s, e in spoken) for a, b in person.speaking)
    assert "person 2 (a voice, speaks" in summary_line(checked(result))
    (alone,) = Analyzer().analyze_audio(audio).people  # not told: one person, the recording's own result
    assert alone.speech is not None and alone.track_ids == () and alone.voice == 0


def test_clusters_of_clearly_different_voices_are_estimated_and_numbered_by_first_appearance():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16)[[2, 0, 1]]
    embeddings = np.repeat(centres, 10, axis=0) + 0.05 * rng.random((30, 16))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = cluster_embeddings(embeddings)
    assert labels.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert cluster_embeddings(embeddings, n_speakers=1).tolist() == [0] * 30


def test_a_long_recording_clusters_a_spread_of_windows_and_the_rest_join_them(monkeypatch):
    from emofuse.audio import diarize

    monkeypatch.setattr(diarize, "MAX_CLUSTERED", 40)  # as a recording of hours would
    rng = np.random.default_rng(2)
    truth = np.repeat([0, 1, 0, 1], 50)
    embeddings = np.eye(2, 32)[truth] + 0.25 * rng.standard_normal((200, 32))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    assert (cluster_embeddings(embeddings, n_speakers=2) == truth).mean() >= 0.95


def test_turn_boundaries_fall_in_the_middle_of_overlapping_windows():
    windows = [(0.0, 1.6), (0.8, 2.4), (1.6, 3.2), (5.0, 6.0)]
    turns = turns_from_windows(windows, np.array([0, 0, 1, 1]))
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0.0, 2.0, 0), (2.0, 3.2, 1), (5.0, 6.0, 1)]


def test_synchrony_finds_the_mouth_moving_with_the_voice():
    rng = np.random.default_rng(1)
    loudness = rng.random(90)
    talking = np.roll(loudness, 1) + 0.3 * rng.random(90)  # one frame late, noisy
    listening = rng.random(90)
    assert synchrony(talking, loudness) > 0.7 > synchrony(listening, loudness)
    assert np.isnan(synchrony(np.full(90, np.nan), loudness))


def test_a_voice_cluster_goes_to_the_face_most_in_sync_and_an_unsynced_voice_to_none():
    scores = {7: np.array([0.6, 0.1, 0.5, np.nan]), 9: np.array([0.0, 0.5, 0.2, 0.4])}
    assert attribute(scores) == [7, 9, 7, 9]
    assert attribute(scores, np.array([0, 1, 0, 1])) == [7, 9, 7, 9]
    # one voice: its face (7, most in sync on average) takes its windows, unless another face is in sync by 0.3 more
    assert attribute(scores, np.array([0, 0, 0, 0])) == [7, 9, 7, 9]
    close = {7: np.array([0.6, 0.25, 0.5, np.nan]), 9: np.array([0.0, 0.5, 0.2, 0.05])}
    assert attribute(close, np.array([0, 0, 0, 0])) == [7, 7, 7, None]  # 7 off screen in window 4, 9 not in sync
    assert attribute({7: np.array([0.02, -0.1])}) == [None, None]


def test_mouth_motion_is_read_at_every_frame_between_analysed_ones_where_the_box_moves():
    """A face moving right by 40 pixels between two analysed frames, its mouth opening and closing on each frame
    between them: the tracker follows the box and reads the change at every frame."""
    mouths = MouthTracker()
    rng = np.random.default_rng(0)
    lumas = []
    for i in range(6):  # half-size grey frames; the face box moves from x 100 to x 140 (full size)
        luma = np.full((120, 200), 100, np.uint8)
        left = (100 + 8 * i) // 2
        luma[45:58, left + 12:left + 38] = 30 if i % 2 else 220  # the mouth region of the moving box
        lumas.append((i / 30, luma + rng.integers(0, 2, luma.shape, dtype=np.uint8)))
    mouths.add(lumas[:1], 0.0, {5: (100, 40, 160, 120)})
    mouths.add(lumas[1:], 5 / 30, {5: (140, 40, 200, 120)})
    trace = mouths.traces()[5]
    assert np.allclose(trace.times, np.arange(6) / 30) and np.isnan(trace.motion[0])
    assert np.all(trace.motion[1:] > 50)  # the mouth changed at every frame (a box that stood still would miss it)
    mouths.add([(6 / 30, lumas[0][1])], 6 / 30, {})  # face 5 lost at frame 6: not read there
    mouths.add([(7 / 30, lumas[0][1])], 7 / 30, {5: (100, 40, 160, 120)})
    assert mouths.traces()[5].times[-1] == 7 / 30 and np.isnan(mouths.traces()[5].motion[-1])


def test_a_face_lost_and_found_again_is_one_person_and_a_glimpse_is_none():
    from emofuse.video.faces import FaceSample
    from emofuse.video.people import video_faces

    def samples(track, times, box):
        return [FaceSample(t, track, np.ones(7) / 7, 0.9, 100.0, box) for t in times]

    left, right = (100, 100, 300, 300), (800, 100, 1000, 300)
    seen = (samples(1, np.arange(0, 5, 0.2), left) + samples(2, np.arange(6, 9, 0.2), (110, 95, 310, 290))
            + samples(3, np.arange(0, 9, 0.2), right) + samples(4, [3.0, 3.2], (500, 500, 560, 560)))
    faces = video_faces(seen)
    assert [f.tracks for f in faces] == [(3,), (1, 2)]  # most seen first; track 4 (two frames) is no one
    assert faces[1].box[0] == pytest.approx(100, abs=10)
    assert len(video_faces(samples(1, [0.0], left) + samples(2, [0.0], right))) == 2  # at once: two faces


@pytest.fixture(scope="module")
def two_people(tmp_path_factory):
    """A generated two-person video (benchmarks/speakers.py): four turns, left first."""
    need(RAVDESS_VIDEO), need(CREMAD)
    from speakers import make_two_person_video

    path = tmp_path_factory.mktemp("people") / "two.mp4"
    return path, make_two_person_video(path, 4, np.random.default_rng(3))


def test_each_person_of_a_two_person_video_speaks_their_own_turns(two_people):
    from speakers import side_of

    from emofuse.pipeline import Analyzer

    path, truth = two_people
    result = Analyzer().analyze(path)
    people = result.people
    assert len(people) == 2 and {side_of(p.box) for p in people} == {0, 1}
    for turn in truth:
        speaker = next(p for p in people if side_of(p.box) == turn.side)
        for start, end in turn.voiced:
            middle = (start + end) / 2
            assert any(s <= middle < e for s, e in speaker.speaking), (turn, speaker.speaking)
    for person in people:  # a person's voice holds only their turns; their face only their track
        assert person.face.primary_track == person.track_ids[0] and len(person.face.faces) == 1
        assert all(any(s - 1e-6 <= (seg.start + seg.end) / 2 < e for s, e in person.speaking)
                   for seg in person.speech.segments)
    data = checked(result)
    assert [p["person"] for p in data["people"]] == [0, 1]
    from emofuse.cli import summary_line
    from emofuse.report import report_html
    from emofuse.results import csv_text

    lines = summary_line(data).splitlines()
    assert lines[1].startswith("  person 1 (face on the left, speaks")
    assert lines[2].startswith("  person 2 (face on the right, speaks")
    rows = [line for line in csv_text([data]).splitlines() if ",person," in line]
    assert len(rows) == sum(len(p["fused"]["segments"]) for p in data["people"])
    assert "<h3>People</h3>" in report_html([data]) and report_html([data]).count("<img") == 3


def test_a_one_person_video_has_one_person_whose_results_are_the_videos():
    from emofuse.pipeline import Analyzer

    result = Analyzer().analyze(need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4")
    (person,) = result.people
    assert person.track_ids[0] == result.face.primary_track and person.voice == 0
    assert person.speech is result.speech and person.face is result.face and person.fused is result.fused
    assert person.speaking and all(e > s for s, e in person.speaking)
    x0, y0, x1, y1 = person.box
    assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720
    assert checked(result)["people"][0]["fused"] == result.fused.to_dict()


def test_the_live_view_boxes_the_face_that_speaks(tmp_path):
    """A two-person video whose listener holds still, played into a live session: while someone speaks, the
    face marked speaking is theirs. (A listener mouthing other words is told apart over whole turns, in files.)"""
    need(RAVDESS_VIDEO), need(CREMAD)
    from speakers import make_two_person_video, side_of

    from emofuse.live import LiveSession
    from emofuse.live.sources import play_file

    path = tmp_path / "still_listener.mp4"
    truth = make_two_person_video(path, 4, np.random.default_rng(3), still_listener=True)
    session, marks = LiveSession(), []
    add_frame = session.add_frame

    def recording(frame, at=None):
        drawn, faces = add_frame(frame, at)
        marks.append((at, [side_of(f["box"]) for f in faces if f["speaking"]]))
        return drawn, faces

    session.add_frame = recording
    for _ in play_file(session, path, realtime=False, fps=15):
        pass
    during = [(at, sides, turn.side) for at, sides in marks for turn in truth
              if any(s + 1.0 <= at < e for s, e in turn.voiced)]  # a second into each stretch of speech
    marked = [(sides, side) for _, sides, side in during if sides]
    assert len(marked) >= 0.6 * len(during)
    assert all(len(sides) == 1 for sides, _ in marked)
    assert np.mean([sides[0] == side for sides, side in marked]) >= 0.8
