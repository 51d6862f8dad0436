"""Self-contained HTML report: clip summary, per-modality and fused timelines, per-face breakdown."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from emofuse.labels import EMOTION_COLOURS
from emofuse.results import (
    atomic_write_text,
    clock_text,
    fusion_summary,
    input_names,
    label_with_share,
    person_name,
    several_people,
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
.label{font-weight:600}.muted{color:#777}img{max-width:100%}
.utterance td:nth-child(-n+2){white-space:nowrap;color:#555}.swatch{display:inline-block;width:.8em;height:.8em;
border-radius:2px;margin-right:.3em;vertical-align:middle}
"""


def timeline_figure(result: dict):
    """A matplotlib figure with one stacked-area timeline per modality present in ``result``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = [(name, result[name]) for name in ("speech", "face", "fused")
              if result.get(name) and result[name].get("segments")]
    if not blocks:
        return None
    fig, axes = plt.subplots(len(blocks), 1, figsize=(9, 2.1 * len(blocks)), sharex=True, dpi=100, squeeze=False)
    duration = max(result.get("duration") or 0.0, max(s["end"] for _, b in blocks for s in b["segments"]))
    grid = np.linspace(0.0, duration, 400)
    for ax, (name, block) in zip(axes[:, 0], blocks):
        segments = block["segments"]
        if name == "face" and block.get("primary_track") is not None:
            segments = [s for s in segments if s.get("track_id") == block["primary_track"]]
        labels = block["labels"]
        ax.stackplot(grid, probabilities_on_grid(segments, labels, grid), labels=labels,
                     colors=[EMOTION_COLOURS.get(k, "#808080") for k in labels], alpha=0.85)
        ax.set_ylim(0, 1)
        ax.set_xlim(0, duration)
        ax.set_ylabel(name)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    for number, utterance in enumerate((result.get("transcript") or {}).get("utterances", []), start=1):
        ax = axes[-1, 0]  # the fused timeline: each utterance's span, numbered as in the transcript table
        ax.axvspan(utterance["start"], utterance["end"], fill=False, edgecolor="#333333", linestyle="--", lw=0.8)
        ax.text((utterance["start"] + utterance["end"]) / 2, 1.02, str(number), ha="center", va="bottom",
                fontsize=7, transform=ax.get_xaxis_transform())
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def probabilities_on_grid(segments: list[dict], labels: list[str], grid: np.ndarray) -> np.ndarray:
    """(labels, len(grid)) mean probabilities of the segments covering each time; 0 where none does."""
    total = np.zeros((len(labels), len(grid)))
    count = np.zeros(len(grid))
    for seg in segments:
        inside = (grid >= seg["start"]) & (grid <= seg["end"])
        total[:, inside] += np.array([[seg["probabilities"].get(k, 0.0)] for k in labels])
        count[inside] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _figure_png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _prob_table(block: dict) -> str:
    rows = sorted(block["probabilities"].items(), key=lambda kv: -kv[1])
    return "<table>" + "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.1%}</td></tr>" for k, v in rows) + "</table>"


def result_html(result: dict) -> str:
    """The HTML section of one analysed input."""
    esc = html.escape
    parts = [f"<h2>{esc(input_names(result, lambda n: Path(n).name))}</h2>",
             f"<p class='muted'>{esc(input_names(result))} &middot; {esc(result['kind'])} &middot; "
             f"{result['duration']:.1f} s</p>"]
    fused = result.get("fused") or {}
    missing = ", ".join(fused.get("missing", [])) or "none"
    parts.append(f"<p>Fused: <span class='label'>{esc(str(fused.get('label')))}</span> "
                 f"(sources: {esc(', '.join(fused.get('sources', [])) or 'none')}; missing: {esc(missing)})</p>")
    if note := fusion_summary(result):
        parts.append(f"<p class='muted'>{esc(note)}</p>")
    summary = "".join(f"<td><b>{name}</b><br>{esc(str(block['label']))}{_prob_table(block)}</td>"
                      for name in ("speech", "face", "fused") if (block := result.get(name)) and block.get("label"))
    if summary:
        parts.append(f"<table><tr>{summary}</tr></table>")
    fig = timeline_figure(result)
    if fig is not None:
        parts.append(f"<img alt='timelines' src='data:image/png;base64,{_figure_png(fig)}'>")
    if transcript := result.get("transcript"):
        parts.append(transcript_html(transcript))
    if people := several_people(result):
        parts.append(people_html(people, result))
    faces = (result.get("face") or {}).get("faces") or []
    if faces:
        rows = "".join(f"<tr><td>{esc(str(f.get('track_id', i + 1)))}</td><td>{esc(str(f['label']))}</td>"
                       f"<td>{f['probabilities'].get(f['label'], 0):.1%}</td><td>{f.get('frames', 1)}</td></tr>"
                       for i, f in enumerate(faces))
        parts.append("<h3>Faces</h3><table><tr><th>face</th><th>label</th><th>probability</th><th>frames</th></tr>"
                     f"{rows}</table>")
    return "\n".join(parts)


def people_html(people: list[dict], result: dict) -> str:
    """Who is who and when each speaks: one row per person (their fused, voice and face labels) and each person's
    own timelines."""
    esc = html.escape
    width = (result.get("video") or {}).get("width")
    rows, figures = [], []
    for person in people:
        name = person_name(person, width)
        labels = "".join(f"<td>{esc(label_with_share(person.get(m)) or '–')}</td>" for m in ("fused", "speech", "face"))
        rows.append(f"<tr><td>{esc(name)}</td>{labels}</tr>")
        fig = timeline_figure({**person, "duration": result["duration"]})
        if fig is not None:
            figures.append(f"<h4>{esc(name)}</h4><img alt='timelines of {esc(name)}' "
                           f"src='data:image/png;base64,{_figure_png(fig)}'>")
    return ("<h3>People</h3><p class='muted'>Each voice goes with the face that moves in time with it; each person's "
            "voice timeline holds only what they say, their face timeline only their own face.</p>"
            "<table><tr><th>person</th><th>fused</th><th>voice</th><th>face</th></tr>" + "".join(rows) + "</table>"
            + "".join(figures))


def transcript_html(transcript: dict) -> str:
    """What was said: one row per utterance, its time, its words on the colour of its fused emotion, and the
    voice's, the face's and the fused label."""
    esc = html.escape
    language = transcript.get("language") or "unknown language"
    head = (f"<h3>Transcript</h3><p class='muted'>{esc(transcript['model'])}, {esc(language)}; each utterance "
            "coloured by its fused emotion</p>")
    if not transcript["utterances"]:
        return head + "<p class='muted'>No speech was transcribed.</p>"
    def label(block: dict | None, share: bool = False) -> str:
        text = label_with_share(block) if share else (block or {}).get("label")
        return esc(text) if text else "&ndash;"

    rows = []
    for number, u in enumerate(transcript["utterances"], start=1):
        colour = EMOTION_COLOURS.get((u.get("fused") or {}).get("label") or "", "#cccccc")
        span = f"{clock_text(u['start'])}&ndash;{clock_text(u['end'])}"
        rows.append(f"<tr class='utterance'><td>{number}</td><td>{span}</td>"
                    f"<td style='background:{colour}33;border-left:4px solid {colour}'>{esc(u['text'])}</td>"
                    f"<td><span class='swatch' style='background:{colour}'></span>{label(u.get('fused'), True)}</td>"
                    f"<td>{label(u.get('speech'))}</td><td>{label(u.get('face'))}</td></tr>")
    return (head + "<table><tr><th>#</th><th>time</th><th>said</th><th>fused</th><th>voice</th><th>face</th></tr>"
            + "".join(rows) + "</table>")


def report_html(results: list[dict], title: str = "emofuse report") -> str:
    body = "\n".join(result_html(r) for r in results)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
            "<p class='muted'>Made by emofuse. Probabilities are model outputs, not certainties; see the model "
            "cards for how the models were measured.</p></body></html>")


def write_report(results: list[dict], path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, report_html(results))
    return path
