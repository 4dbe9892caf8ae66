"""Property tests of the explanation classifier: total, causal, bounded, scale-free, explainable."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, ExplanationClassifier, MetricSeries, TimeWindow

from .strategies import finite, moderate, series

CLF = ExplanationClassifier(history_points=24)


def _window(s: MetricSeries, start: int, end: int) -> TimeWindow:
    return TimeWindow(start, end, s.timestamps[start], s.timestamps[end - 1])


@st.composite
def series_and_window(
    draw: st.DrawFn, values: st.SearchStrategy[float] = finite
) -> tuple[MetricSeries, TimeWindow]:
    s = draw(series(min_size=1, max_size=60, values=values))
    start = draw(st.integers(0, len(s) - 1))
    end = draw(st.integers(start + 1, len(s)))
    return s, _window(s, start, end)


@settings(max_examples=80)
@given(series_and_window())
def test_classify_never_raises_at_any_scale(case: tuple[MetricSeries, TimeWindow]) -> None:
    """Any valid series and window (values anywhere in the float range) get a kind."""
    s, w = case
    assert isinstance(CLF.classify(s, w), AnomalyType)
    assert isinstance(ExplanationClassifier().classify(s, w), AnomalyType)


@settings(max_examples=60)
@given(series_and_window(moderate), st.lists(moderate, max_size=10), st.lists(moderate, max_size=10))
def test_classify_reads_only_the_window_and_bounded_history(
    case: tuple[MetricSeries, TimeWindow], after: list[float], before: list[float]
) -> None:
    """Changing points after the window, or more than history_points before it, changes nothing."""
    s, w = case
    kind = CLF.classify(s, w)
    values = s.values.tolist()
    cut = max(0, w.start_index - CLF.history_points)
    edited = list(values)
    for i, b in enumerate(before[:cut]):
        edited[i] = b
    for i, a in enumerate(after[: len(values) - w.end_index]):
        edited[w.end_index + i] = a
    assert len(edited) == len(values)
    changed = MetricSeries.from_arrays(*s.ids, list(s.epoch_us), edited)
    assert CLF.classify(changed, w) is kind
    # The slice an engine passes, with the window re-indexed.
    sub = s.slice(cut, w.end_index)
    assert CLF.classify(sub, _window(sub, w.start_index - cut, w.end_index - cut)) is kind


@settings(max_examples=60)
@given(series_and_window(moderate), st.integers(-60, 60))
def test_verdict_is_the_same_at_every_power_of_two_scale(
    case: tuple[MetricSeries, TimeWindow], exponent: int
) -> None:
    """Scaling every value by 2**k (exact in floating point) keeps the verdict."""
    s, w = case
    factor = 2.0**exponent
    scaled = MetricSeries.from_arrays(*s.ids, list(s.epoch_us), [v * factor for v in s.values.tolist()])
    assert CLF.classify(scaled, w) is CLF.classify(s, w)


@settings(max_examples=80)
@given(
    series(min_size=1, max_size=60, values=finite),
    st.integers(-5, 65),
    st.integers(0, 70),
    st.sampled_from(list(AnomalyType)),
)
def test_explain_never_raises_and_gives_one_sentence(
    s: MetricSeries, first: int, span: int, kind: AnomalyType
) -> None:
    """Any result on the series (even a window between or beyond its points) gets one sentence."""
    t0 = s.timestamps[0]
    start = t0 + timedelta(seconds=97 * first)
    result = AnomalyResult(*s.ids, start, start + timedelta(seconds=97 * span), 0.5, kind)
    text = ExplanationClassifier().explain(s, result)
    assert isinstance(text, str)
    assert text.startswith(f"{s.metric_name} on node {s.node_id} (cluster {s.cluster_id}")
    assert text.endswith(".") and "\n" not in text
    assert "nan" not in text.split()
