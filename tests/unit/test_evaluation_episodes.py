"""Unit tests of backend.analytics.evaluation.episodes: spans, episodes, detection within a tolerance."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.evaluation import anomalous_spans, detected_within, merge_spans, spans_outside

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_merge_joins_runs_closer_than_the_gap_only() -> None:
    """Runs separated by fewer than gap_points points merge; a gap of exactly gap_points does not."""
    assert merge_spans([(0, 5), (9, 12)], gap_points=5) == [(0, 12)]  # 4 quiet points between
    assert merge_spans([(0, 5), (10, 12)], gap_points=5) == [(0, 5), (10, 12)]  # 5 quiet points
    assert merge_spans([(3, 4), (0, 2), (1, 3)], gap_points=0) == [(0, 4)]  # touching and overlapping
    assert merge_spans([], gap_points=30) == []


def test_merge_keeps_a_span_nested_in_another() -> None:
    """A span inside another one does not shorten the episode."""
    assert merge_spans([(0, 100), (10, 20)], gap_points=1) == [(0, 100)]


@settings(max_examples=60)
@given(
    spans=st.lists(st.tuples(st.integers(0, 200), st.integers(1, 20)).map(lambda t: (t[0], t[0] + t[1]))),
    gap=st.integers(0, 40),
)
def test_episodes_cover_exactly_the_alarmed_points_and_are_far_apart(
    spans: list[tuple[int, int]], gap: int
) -> None:
    """Episodes are disjoint, at least `gap` points apart, cover every alarm, and start and end on one."""
    episodes = merge_spans(spans, gap_points=gap)
    alarmed = {i for s, e in spans for i in range(s, e)}
    for (_, e1), (s2, _) in itertools.pairwise(episodes):
        assert s2 - e1 >= max(gap, 1)
    for s, e in episodes:
        assert s in alarmed and e - 1 in alarmed
    assert alarmed <= {i for s, e in episodes for i in range(s, e)}


def test_spans_outside_cuts_zones_out_and_keeps_the_rest() -> None:
    """A zone inside a span leaves two pieces; a span inside a zone disappears."""
    assert spans_outside([(0, 10), (20, 25)], [(3, 5), (19, 30)]) == [(0, 3), (5, 10)]
    assert spans_outside([(0, 10)], []) == [(0, 10)]
    assert spans_outside([(0, 10)], [(8, 12), (0, 2)]) == [(2, 8)]


def test_detection_window_includes_both_ends() -> None:
    """A span ending at the onset or starting at onset + tolerance counts; just outside does not."""
    assert detected_within([(0, 11)], onset=10, tolerance_points=30)  # holds point 10
    assert not detected_within([(0, 10)], onset=10, tolerance_points=30)  # ends before the onset
    assert detected_within([(40, 41)], onset=10, tolerance_points=30)  # point 40 = onset + 30
    assert not detected_within([(41, 50)], onset=10, tolerance_points=30)
    assert not detected_within([], onset=0, tolerance_points=30)


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: merge_spans([(5, 5)], gap_points=1), ValueError, "spans[0] must satisfy 0 <= start < end"),
        (lambda: merge_spans([(1, 2)], gap_points=-1), ValueError, "gap_points must be an int >= 0, got -1"),
        (
            lambda: merge_spans([[1, 2]], gap_points=1),  # type: ignore[list-item]
            TypeError,
            "spans[0] must be a (start, end) pair",
        ),
        (
            lambda: spans_outside([(0, 1)], [(2.0, 3)]),  # type: ignore[list-item]
            TypeError,
            "zones[0] must be a (start, end) pair",
        ),
        (lambda: detected_within([(0, 1)], onset=-1, tolerance_points=3), ValueError, "onset must be"),
    ],
)
def test_bad_spans_are_refused_with_a_clear_message(call: object, exc: type[Exception], words: str) -> None:
    """A malformed span or count raises, naming the function, the argument and the index."""
    with pytest.raises(exc) as info:
        call()  # type: ignore[operator]
    assert words in str(info.value)


def test_anomalous_spans_locate_results_by_their_timestamps() -> None:
    """Only results not labelled NORMAL give spans, located by window_start and window_end."""
    ts = [T0 + timedelta(minutes=i) for i in range(10)]
    series = MetricSeries("t", "c", "n", "m", ts, [0.0] * 10)

    def result(a: int, b: int, label: AnomalyType, score: float) -> AnomalyResult:
        return AnomalyResult("t", "c", "n", "m", ts[a], ts[b], score, label)

    results = [
        result(0, 1, AnomalyType.NORMAL, 0.1),
        result(2, 4, AnomalyType.SPIKE, 0.9),
        result(7, 9, AnomalyType.TREND, 0.7),
    ]
    assert anomalous_spans(series, results) == [(2, 5), (7, 10)]
