"""Charts of the app: one fixed colour per emotion (emofuse.labels.EMOTION_COLOURS), probabilities on a 0-100%
axis, labels in one fixed order (the model's own), every emotion named on every chart, so a colour and a length
mean the same thing everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from emofuse.labels import EMOTION_COLOURS


def _scale(labels: Sequence[str]):
    import altair as alt

    return alt.Scale(domain=list(labels), range=[EMOTION_COLOURS.get(k, "#808080") for k in labels])


BAR_HEIGHT = 24
"""Pixels per bar: room for every emotion's name (Vega hides axis labels that would overlap)."""


def _probability_axis():
    """The 0-100% axis of every probability, ticks at quarters."""
    import altair as alt

    return alt.Axis(format="%", title="probability", values=[0, 0.25, 0.5, 0.75, 1])


def probability_bars(probabilities: dict[str, float], labels: Sequence[str]):
    """Horizontal bars, one per label in ``labels`` order and every label named, 0-100% axis, each bar in its
    emotion's colour."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame({"emotion": list(labels), "probability": [probabilities.get(k, 0.0) for k in labels]})
    return (alt.Chart(frame).mark_bar()
            .encode(x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=_probability_axis()),
                    y=alt.Y("emotion:N", sort=list(labels), title=None,
                            axis=alt.Axis(labelOverlap=False, labelLimit=200)),
                    color=alt.Color("emotion:N", scale=_scale(labels), legend=None),
                    tooltip=["emotion", alt.Tooltip("probability:Q", format=".0%")])
            .properties(height=BAR_HEIGHT * len(labels)))


def timeline(columns: dict[str, list[float]], labels: Sequence[str], height: int = 220):
    """Stacked areas over time (``columns``: ``time`` and one list per label), 0-100% axis, fixed colours, the
    legend in ``labels`` order."""
    import altair as alt
    import pandas as pd

    wide = pd.DataFrame(columns)
    long = wide.melt("time", value_vars=[k for k in labels if k in wide], var_name="emotion", value_name="probability")
    return (alt.Chart(long).mark_area()
            .encode(x=alt.X("time:Q", title="time (s)"),
                    y=alt.Y("probability:Q", stack=True, scale=alt.Scale(domain=[0, 1]), axis=_probability_axis()),
                    color=alt.Color("emotion:N", scale=_scale(labels), sort=list(labels),
                                    legend=alt.Legend(values=list(labels), labelOverlap=False)),
                    order=alt.Order("emotion_order:Q"),
                    tooltip=["time", "emotion", alt.Tooltip("probability:Q", format=".0%")])
            .transform_calculate(emotion_order=f"indexof({list(labels)!r}, datum.emotion)")
            .properties(height=height))
