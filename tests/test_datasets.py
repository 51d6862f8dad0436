import gzip
import lzma
import os

import cv2
import numpy as np
import pytest

from emofuse.datasets import (
    actor_folds,
    list_cremad,
    list_ravdess,
    load_fer2013,
    load_ferplus_votes,
    parse_cremad_name,
    parse_ravdess_name,
)
from emofuse.datasets.fer2013 import ferplus_majority
from emofuse.errors import InputError
from tests.conftest import CREMAD, FER_CSV, FERPLUS, RAVDESS, need, tone, write_wav


def test_parse_ravdess_name():
    clip = parse_ravdess_name("Actor_12/03-01-06-02-01-02-12.wav")
    assert (clip.modality, clip.channel, clip.label, clip.intensity, clip.statement, clip.repetition, clip.actor) == \
        ("audio", "speech", "fearful", "strong", 1, 2, 12)
    assert clip.gender == "female" and parse_ravdess_name("01-02-02-01-01-01-07.mp4").channel == "song"
    with pytest.raises(InputError, match="not a RAVDESS"):
        parse_ravdess_name("speech.wav")
    with pytest.raises(InputError, match="unknown code"):
        parse_ravdess_name("03-01-09-01-01-01-01.wav")


def test_ravdess_official_layout_fixture(tmp_path):
    for actor in (1, 2):
        folder = tmp_path / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emotion in (1, 3):
            write_wav(folder / f"03-01-{emotion:02d}-01-01-01-{actor:02d}.wav", tone(0.5), 48_000)
        write_wav(folder / f"03-02-03-01-01-01-{actor:02d}.wav", tone(0.5), 48_000)  # song
    (tmp_path / "notes.txt").write_text("not audio")
    clips = list_ravdess(tmp_path)
    assert [(c.actor, c.label) for c in clips] == [(1, "neutral"), (1, "happy"), (2, "neutral"), (2, "happy")]
    assert len(list_ravdess(tmp_path, channel=None)) == 6
    assert len(list_ravdess(tmp_path, actors={2})) == 2


def test_ravdess_empty_folder_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no RAVDESS files"):
        list_ravdess(tmp_path)


def test_real_ravdess_has_1200_clips_and_speaker_independent_folds():
    clips = list_ravdess(need(RAVDESS))
    assert len(clips) == 1200
    assert {c.actor for c in clips} == set(range(1, 21))
    assert all(parse_ravdess_name(c.path).label == c.label for c in clips[:50])
    counts = {label: sum(c.label == label for c in clips) for label in {c.label for c in clips}}
    assert counts["neutral"] == 80 and counts["calm"] == 160
    folds = actor_folds(clips)
    assert len(folds) == 5
    for train, test in folds:
        assert len(test) == 240
        assert not {clips[i].actor for i in train} & {clips[i].actor for i in test}


def _fer_rows(n):
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for i in range(n):
        pixels = " ".join(map(str, rng.integers(0, 256, 2304)))
        lines.append(f"{i % 7},{pixels},{'Training' if i < n - 2 else 'PublicTest'}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("suffix,opener", [(".csv", open), (".csv.gz", gzip.open), (".csv.xz", lzma.open)])
def test_fer2013_csv_variants(tmp_path, suffix, opener):
    path = tmp_path / f"fer2013{suffix}"
    with opener(path, "wt") as handle:
        handle.write(_fer_rows(9))
    faces = load_fer2013(path)
    assert faces.images.shape == (9, 48, 48) and faces.images.dtype == np.uint8
    assert list(faces.labels[:7]) == list(range(7))
    assert len(load_fer2013(path, usage="PublicTest")) == 2


def test_a_big_fer2013_csv_is_read_once_then_from_the_cache(tmp_path, monkeypatch):
    """The parsed CSV is cached under its path, size and time: read again from the cache, read anew once the file
    changes, rebuilt when the cache file is torn."""
    from emofuse.datasets import fer2013

    monkeypatch.setenv("EMOFUSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fer2013, "CACHED_FROM_BYTES", 0)
    path = tmp_path / "fer2013.csv.xz"
    with lzma.open(path, "wt") as handle:
        handle.write(_fer_rows(9))
    first = load_fer2013(path)
    [cached] = (tmp_path / "cache" / "datasets").iterdir()
    parse = fer2013._load_csv
    monkeypatch.setattr(fer2013, "_load_csv", lambda _: pytest.fail("parsed again"))
    again = load_fer2013(path, usage="PublicTest")
    assert np.array_equal(again.images, first.images[-2:]) and list(again.usage) == ["PublicTest"] * 2
    monkeypatch.setattr(fer2013, "_load_csv", parse)
    with lzma.open(path, "wt") as handle:
        handle.write(_fer_rows(12))
    os.utime(path, ns=(cached.stat().st_mtime_ns + 10**9,) * 2)
    assert len(load_fer2013(path)) == 12
    for stored in (tmp_path / "cache" / "datasets").iterdir():
        stored.write_bytes(stored.read_bytes()[:100])
    assert len(load_fer2013(path)) == 12


def test_fer2013_bad_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a FER2013 CSV"):
        load_fer2013(bad)
    short = tmp_path / "short.csv"
    short.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    with pytest.raises(InputError, match="expected 2304 pixel values"):
        load_fer2013(short)
    for wrong in ("300", "x"):  # out of range, not a number
        odd = tmp_path / f"odd_{wrong}.csv"
        odd.write_text("emotion,pixels,Usage\n0," + " ".join(["7"] * 2303 + [wrong]) + ",Training\n")
        with pytest.raises(InputError, match="row 2: expected 2304 pixel values 0-255"):
            load_fer2013(odd)


def test_fer2013_image_folder(tmp_path):
    for split, classes in (("train", ["angry", "happy", "surprise"]), ("test", ["fear", "neutral"])):
        for name in classes:
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / "im0.jpg"), np.full((48, 48), 100, np.uint8))
    cv2.imwrite(str(tmp_path / "train" / "happy" / "big.png"), np.zeros((96, 96), np.uint8))
    faces = load_fer2013(tmp_path)
    assert len(faces) == 6 and faces.images.shape[1:] == (48, 48)
    test = load_fer2013(tmp_path, usage="PublicTest")
    assert sorted(test.labels.tolist()) == [2, 6]


def test_real_fer2013_counts_and_ferplus():
    faces = load_fer2013(need(FER_CSV), ferplus=need(FERPLUS))
    assert (faces.usage == "Training").sum() == 28709
    assert (faces.usage == "PublicTest").sum() == 3589
    assert faces.soft_labels.shape == (len(faces), 7)
    majority = ferplus_majority(faces.soft_labels)
    valid = majority >= 0
    assert valid.mean() > 0.95
    assert (majority[valid] == faces.labels[valid]).mean() > 0.5  # FER+ mostly agrees with FER2013


def test_ferplus_votes_fixture(tmp_path):
    path = tmp_path / "fer2013new.csv"
    path.write_text("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
                    "Training,fer0.png,2,8,0,0,0,0,0,0,0,0\nTraining,,0,0,0,0,0,0,0,0,0,10\n")
    votes = load_ferplus_votes(path)
    assert votes[0, 3] == pytest.approx(0.8) and votes[0, 6] == pytest.approx(0.2)
    assert votes[1].sum() == 0 and list(ferplus_majority(votes)) == [3, -1]


def test_cremad_names():
    clip = parse_cremad_name("1001_DFA_ANG_XX.flv")
    assert (clip.actor, clip.sentence, clip.label, clip.level) == (1001, "DFA", "angry", "unspecified")
    with pytest.raises(InputError):
        parse_cremad_name("1001_DFA_XYZ_XX.flv")
    clips = list_cremad(need(CREMAD))
    assert len(clips) == 9 and {c.label for c in clips} == {"angry", "disgust", "fearful", "happy", "neutral", "sad"}


def test_emodb_loads_the_six_shared_emotions():
    from emofuse.datasets import list_emodb, parse_emodb_name
    from tests.conftest import EMODB

    clips = list_emodb(need(EMODB))
    assert len(clips) == 454  # 535 clips less the 81 of boredom, which has no emofuse label
    assert {c.speaker for c in clips} == {3, 8, 9, 10, 11, 12, 13, 14, 15, 16}
    assert {c.label for c in clips} == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    clip = parse_emodb_name("wav/03a01Wa.flac")
    assert (clip.speaker, clip.text, clip.label) == (3, "a01", "angry")
    assert parse_emodb_name("08b02Lb.wav").label is None  # boredom
    with pytest.raises(InputError, match="not an EmoDB file name"):
        parse_emodb_name("03-01-05-02-01-01-03.wav")
