"""How fast does live session adaptation settle? A speaker's unlabelled speech through emofuse.live with
adapt="session": the running reference after t seconds of voice against the one after the whole session.

Per speaker: all of their RAVDESS clips in a random order, back to back, played as a microphone (audio only,
media time). At every voice reading the engine's reference is recorded with the window's features. Reported
by seconds of voice heard: the reference's remaining distance to the final one (relative to where it started:
the training mean), and how often the reading with the reference of that moment gives the same label as the
reading of the same window with the final reference.

    python benchmarks/live_session.py [--actors 16,17,18,19,20]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import SHARED, few, parse_args, save, table

from emofuse.datasets import list_ravdess
from emofuse.live import LiveSession
from emofuse.media import load_audio
from emofuse.pipeline import Analyzer

MARKS = (2, 5, 10, 15, 20, 30, 60)


class Recorder:
    """Stands in for the speech classifier's classify_features: keeps each voice reading's features, its
    reference and the seconds of voice behind that reference (the plain readings that estimate the session's
    emotion mix are passed through)."""

    def __init__(self, speech, session: LiveSession):
        self.speech, self.session, self.readings = speech, session, []

    def __call__(self, features, reference=None):
        if reference is not None:
            self.readings.append((features.copy(), np.array(reference), self.session.session_reference.seconds))
        return type(self.speech).classify_features(self.speech, features, reference)


def session_curve(analyzer: Analyzer, clips, rng) -> list[dict]:
    """Per mark: the reference's relative distance to the final one after that much voice, and the share of
    all later readings whose label is the one the final reference gives."""
    audio = np.concatenate([load_audio(c.path) for c in rng.permutation(clips)])
    session = LiveSession(analyzer, adapt="session")
    analyzer.speech.classify_features = recorder = Recorder(analyzer.speech, session)
    try:
        for i in range(0, len(audio), 1600):
            session.add_audio(audio[i:i + 1600], 16_000, at=(i + 1600) / 16_000)
    finally:
        del analyzer.speech.classify_features
    final = session.session_reference.profile().mean
    start = session.session_reference.prior_mean
    features = np.concatenate([f for f, _, _ in recorder.readings])
    with_final = analyzer.speech.classify_features(features, final).argmax(1)
    with_then = np.array([analyzer.speech.classify_features(f, ref).argmax(1)[0] for f, ref, _ in recorder.readings])
    heard = np.array([seconds for _, _, seconds in recorder.readings])
    distance = np.array([np.linalg.norm(ref - final) for _, ref, _ in recorder.readings])
    distance /= max(float(np.linalg.norm(start - final)), 1e-9)
    rows = []
    for mark in MARKS:
        later = heard >= mark
        first = int(np.argmax(later)) if later.any() else len(heard) - 1
        rows.append({"voice_s": mark, "distance": float(distance[first]),
                     "agreement": float(np.mean(with_then[later] == with_final[later])) if later.any() else 1.0})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", default="16,17,18,19,20")
    args = parse_args(parser)
    actors = set(few(sorted(int(a) for a in args.actors.split(",")), 1))
    analyzer = Analyzer()
    clips = list_ravdess(SHARED / "ravdess", actors=actors)
    curves = [session_curve(analyzer, few([c for c in clips if c.actor == actor], 8), np.random.default_rng(actor))
              for actor in sorted(actors)]
    rows = [{"seconds of voice": mark, "reference distance to final": round(float(np.mean(
        [c[i]["distance"] for c in curves])), 3), "same label as final reference (from then on)": round(float(
            np.mean([c[i]["agreement"] for c in curves])), 3)} for i, mark in enumerate(MARKS)]
    table(rows)
    save("live_session", {"protocol": f"RAVDESS actors {sorted(actors)}, all their clips shuffled and joined, played "
                                      "as a microphone through LiveSession(adapt='session'); distance relative to "
                                      "the start (training mean) = 1; agreement over every later reading",
                          "rows": rows})


if __name__ == "__main__":
    main()
