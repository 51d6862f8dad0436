"""Live latency: how long after a change in the input the live labels follow it, and frames per second.

A real RAVDESS clip of one emotion is followed, without a gap, by a clip of another emotion of the same actor
(camera frames and microphone audio, as emofuse live --source plays them). Latency is the time from the cut to
the first update whose face (or voice) label is the one that modality gives the second clip when it has had
it for a while (its label at the second clip's end). Measured in media time with the analysis run as fast as it
goes (so it is the algorithm's latency); the compute per frame and per voice reading is added on top and
reported, as are the frames per second the machine keeps up with.

    python benchmarks/live_latency.py
"""

from __future__ import annotations

import time

import av
import numpy as np
from _common import SHARED, few, parse_args, save, table

from emofuse.live import STEP, LiveSession
from emofuse.live.session import SURE_HOLD, SURE_VOICE
from emofuse.media import iter_video_frames, load_audio
from emofuse.pipeline import Analyzer

PAIRS = [("01-01-01-01-01-01-01.mp4", "01-01-08-01-02-01-05.mp4"),  # neutral (actor 01) -> surprised (actor 05)
         ("01-01-04-01-01-01-05.mp4", "01-01-06-02-02-01-05.mp4"),  # sad -> fearful, strong (actor 05)
         ("01-01-06-01-01-01-05.mp4", "01-01-03-01-01-02-05.mp4")]  # fearful -> happy (actor 05)


def joined(first, second, fps: float = 15.0):
    """Frames and audio of two clips back to back, and the time of the cut."""
    frames, audio, offset = [], [], 0.0
    for path in (first, second):
        clip_frames = list(iter_video_frames(path, fps=fps))
        frames += [(offset + t, f) for t, f in clip_frames]
        sound = load_audio(path)
        audio.append(sound)
        length = max(len(sound) / 16_000, clip_frames[-1][0] + 1 / fps)
        audio.append(np.zeros(int((length - len(sound) / 16_000) * 16_000), np.float32))
        cut = offset + length
        offset = cut
    return frames, np.concatenate(audio), offset - length


def run(analyzer: Analyzer, first, second) -> dict:
    frames, audio, cut = joined(first, second)
    session = LiveSession(analyzer)
    chunk, events = 1600, []
    events += [(t, "frame", f) for t, f in frames]
    events += [(min(len(audio), i + chunk) / 16_000, "audio", audio[i:i + chunk]) for i in range(0, len(audio), chunk)]
    events.sort(key=lambda e: e[0])
    frame_seconds, voice_seconds = [], []
    for at, kind, data in events:
        start = time.perf_counter()
        if kind == "frame":
            session.add_frame(data, at=at)
            frame_seconds.append(time.perf_counter() - start)
        else:
            before = session._voice  # noqa: SLF001 - to time only the calls that read the voice
            session.add_audio(data, 16_000, at=at)
            if session._voice is not before:  # noqa: SLF001
                voice_seconds.append(time.perf_counter() - start)
    updates = session.updates()
    final = {m: next((getattr(u, m) for u in reversed(updates) if getattr(u, m) is not None), None)
             for m in ("face", "speech")}
    row = {"clips": f"{first.name} -> {second.name}"}
    for modality, labels in (("face", "face"), ("speech", "voice")):
        target = None if final[modality] is None else int(np.argmax(final[modality]))
        hit = next((u.time for u in updates if u.time >= cut and getattr(u, modality) is not None
                    and int(np.argmax(getattr(u, modality))) == target), None)
        row[f"{labels}_latency_s"] = None if hit is None else round(hit - cut, 2)
    row["frame_ms"] = round(1000 * float(np.median(frame_seconds)), 1)
    row["voice_reading_ms"] = round(1000 * float(np.median(voice_seconds)), 1) if voice_seconds else None
    row["fps_capacity"] = round(1 / float(np.median(frame_seconds)), 1)
    return row


def main() -> None:
    parse_args(doc=__doc__)
    analyzer = Analyzer()
    rows = [run(analyzer, SHARED / "ravdess_video" / a, SHARED / "ravdess_video" / b) for a, b in few(PAIRS, 1)]
    table(rows)
    save("live_latency", {"protocol": "two real RAVDESS clips back to back at 15 fps camera, 16 kHz microphone in "
                                      "0.1 s chunks; latency in media time from the cut to the first update "
                                      "showing the label the modality settles on for the second clip (update "
                                      f"every {STEP} s, so latencies are multiples of it; a voice reading of "
                                      f"under {SURE_VOICE} s of speech does not replace a surer one of the last "
                                      f"{SURE_HOLD} s); compute "
                                      "per frame and "
                                      "per voice reading measured on this machine, added on top in real time",
                          "rows": rows, "av": av.__version__})


if __name__ == "__main__":
    main()
