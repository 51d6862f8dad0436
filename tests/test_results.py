"""The typed results and their JSON form: schema-valid, no NaN, lossless round trip."""

import json

import jsonschema
import numpy as np
import pytest

from emofuse.fusion import FusionConfig, fuse_clip
from emofuse.labels import FACE_LABELS, SPEECH_LABELS
from emofuse.results import FaceRecord, FaceResult, Result, Segment, SpeechResult, result_schema, write_json
from tests.conftest import checked


def speech_with(snr: float) -> SpeechResult:
    probs = np.full(8, 1 / 8, np.float32)
    probs[4] = 0.5
    probs /= probs.sum()
    return SpeechResult(labels=SPEECH_LABELS, probs=probs, segments=(Segment(0.0, 3.0, probs),), voiced_ratio=0.9,
                        snr_db=snr, domain_match=1.0)


def test_a_non_finite_number_becomes_null_not_nan():
    speech = speech_with(float("nan"))
    result = Result("x.wav", "audio", 3.0, speech, None, fuse_clip(speech, None, {"speech": 1.0, "face": 0.0},
                                                                    FusionConfig()))
    data = checked(result)
    assert data["speech"]["snr_db"] is None and data["speech"]["label"] == "angry"
    assert data["fused"]["sources"] == ["speech"] and data["fused"]["missing"] == ["face"]


def test_writers_refuse_nan_instead_of_writing_invalid_json(tmp_path):
    with pytest.raises(ValueError):
        write_json({"snr_db": float("nan")}, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_schema_rejects_what_emofuse_never_writes():
    face = FaceResult(labels=FACE_LABELS, probs=np.eye(7, dtype=np.float32)[3],
                      faces=(FaceRecord(np.eye(7, dtype=np.float32)[3], box=(1, 2, 30, 40), score=0.99),))
    data = checked(Result("p.jpg", "image", 0.0, None, face, fuse_clip(None, face, {"speech": 0.0, "face": 1.0},
                                                                      FusionConfig())))
    assert data["face"]["faces"][0]["label"] == "happy" and data["fused"]["label"] == "happy"
    for broken in ({**data, "kind": "podcast"}, {**data, "fused": {**data["fused"], "sources": ["smell"]}},
                   {k: v for k, v in data.items() if k != "fused"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(json.dumps(broken)), result_schema())
