"""Live voice stability: how often the live voice readings of a clip played in a loop agree with the file analysis.

Each real RAVDESS clip (actor 05, except the neutral one of actor 01) is looped six times and fed to a LiveSession
as a microphone in 0.1 s chunks (media time, as fast as the analysis goes). Every update after the first 2 s that
has a voice reading counts; agreement is the share of them whose label is the file analysis's label of the clip.
Read with the shipped rule (a reading of under SURE_VOICE seconds of voiced speech does not replace a surer one of
the last SURE_HOLD seconds), without it (every reading replaces the last), and with the rule and session
adaptation (the voice read against the running reference of the session so far: one emotion held for long drifts
towards neutral).

    python benchmarks/live_voice_stability.py
"""

from __future__ import annotations

import numpy as np
from _common import SHARED, few, parse_args, save, table

import emofuse.live.session as live_session
from emofuse.live import LiveSession
from emofuse.media import load_audio
from emofuse.pipeline import Analyzer

CLIPS = ["01-01-03-01-01-02-05.mp4", "01-01-04-02-02-01-05.mp4", "01-01-08-01-02-01-05.mp4",
         "01-01-06-02-02-01-05.mp4", "01-01-04-01-01-01-05.mp4", "01-01-01-01-02-01-05.mp4"]
LOOPS = 6


def agreement(analyzer: Analyzer, audio: np.ndarray, label: str, adapt: str = "none") -> tuple[float, int]:
    """Share of voice readings after 2 s that say ``label``, and how many there were."""
    session, chunk = LiveSession(analyzer, adapt=adapt), 1600
    for i in range(0, len(audio), chunk):
        session.add_audio(audio[i:i + chunk], 16_000, at=min(len(audio), i + chunk) / 16_000)
    heard = [u.to_dict()["speech"]["label"] for u in session.updates() if u.time > 2 and u.speech is not None]
    return (sum(h == label for h in heard) / len(heard) if heard else 0.0), len(heard)


def main() -> None:
    args = parse_args(doc=__doc__)
    analyzer, rows, sure = Analyzer(), [], live_session.SURE_VOICE
    for name in few(CLIPS, 1):
        audio = load_audio(SHARED / "ravdess_video" / name)
        label = analyzer.analyze_audio(audio).speech.label
        looped = np.tile(audio, 2 if args.smoke else LOOPS)
        with_rule, readings = agreement(analyzer, looped, label)
        adapted, _ = agreement(analyzer, looped, label, adapt="session")
        live_session.SURE_VOICE = 0.0
        without_rule, _ = agreement(analyzer, looped, label)
        live_session.SURE_VOICE = sure
        rows.append({"clip": name, "file_label": label, "readings": readings, "agreement": round(with_rule, 3),
                     "agreement_every_reading": round(without_rule, 3), "agreement_session_adapted": round(adapted, 3)})
    table(rows)
    mean = {k: round(float(np.mean([r[k] for r in rows])), 3)
            for k in ("agreement", "agreement_every_reading", "agreement_session_adapted")}
    print(mean)
    save("live_voice_stability", {
        "protocol": f"real RAVDESS clips looped {LOOPS} times as a 16 kHz microphone in 0.1 s chunks (media time); "
                    f"voice window {live_session.SPEECH_WINDOW} s read every {live_session.STEP} s; share of "
                    f"updates after 2 s with a voice reading whose label is the file analysis's; SURE_VOICE = "
                    f"{sure} s, SURE_HOLD = {live_session.SURE_HOLD} s against every reading replacing the last; "
                    "and with session adaptation",
        "rows": rows, "mean": mean})


if __name__ == "__main__":
    main()
