"""Unit tests for event-level metrics, point-adjusted F1 and time to detect."""

from __future__ import annotations

import math

import pytest

from backend.analytics.evaluation import (
    alarms_from_scores,
    event_metrics,
    events_from_labels,
    point_adjusted_scores,
)


def flags(n: int, on: set[int]) -> list[bool]:
    return [i in on for i in range(n)]


def test_events_from_labels_runs() -> None:
    """Maximal runs of true labels, inclusive, including one touching the end."""
    assert events_from_labels(flags(10, {1, 2, 5, 8, 9})) == [(1, 2), (5, 5), (8, 9)]
    assert events_from_labels([]) == []


def test_alarms_from_scores_uses_at_or_above() -> None:
    """A point alarms when its score is >= the threshold."""
    assert alarms_from_scores([0.1, 0.5, 0.9], 0.5) == [False, True, True]
    with pytest.raises(ValueError, match=r"alarms_from_scores: scores\[1\] is nan"):
        alarms_from_scores([0.1, math.nan, 0.9], 0.5)


@pytest.mark.parametrize(
    ("bad", "error", "expected"),
    [
        (math.nan, ValueError, r"got nan"),
        (-math.inf, ValueError, r"got -inf"),
        ("0.5", TypeError, r"got '0.5' \(str\)"),
        (False, TypeError, r"got False \(bool\)"),
    ],
)
def test_alarms_from_scores_refuses_a_bad_threshold(
    bad: object, error: type[Exception], expected: str
) -> None:
    """A nan threshold used to fire on no point (score_file fired on every row); now it is refused."""
    prefix = r"alarms_from_scores: threshold must be a finite real number, "
    with pytest.raises(error, match=prefix + expected):
        alarms_from_scores([0.1, 0.5, 0.9], bad)  # type: ignore[arg-type]
    assert alarms_from_scores([0.1, 0.5, 0.9], 2) == [False, False, False]  # finite, any value


def test_event_metrics_by_hand() -> None:
    """3 events, 2 found; alarms 12-13 and 15 outside events are 2 FP runs.

    precision = 2 / (2 + 2) = 0.5, recall = 2 / 3, F1 = 2 * 0.5 * (2/3) / (0.5 + 2/3) = 4/7.
    """
    events = [(2, 4), (7, 9), (17, 18)]
    alarms = flags(20, {3, 4, 7, 12, 13, 15})
    m = event_metrics(events, alarms)
    assert (m.events, m.detected, m.missed, m.false_positives, m.alarms) == (3, 2, 1, 2, 6)
    assert m.precision == 0.5
    assert m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(4 / 7)
    assert m.delays_points == (1, 0, None)  # event (2,4) first alarm at 3; (7,9) at 7
    assert m.mean_delay_points == 0.5
    assert m.delays_seconds is None and m.mean_delay_seconds is None


def test_time_to_detect_in_seconds() -> None:
    """With timestamps (60 s apart), a 2-point delay is 120 s."""
    epoch_us = [i * 60_000_000 for i in range(10)]
    m = event_metrics([(3, 6)], flags(10, {5}), epoch_us=epoch_us)
    assert m.delays_points == (2,)
    assert m.delays_seconds == (120.0,)
    assert m.mean_delay_seconds == 120.0


def test_alarm_runs_touching_an_event_split_at_its_edge() -> None:
    """Alarms 4-7 around event (5, 6): the event is found, 4 and 7 are two separate FP runs."""
    m = event_metrics([(5, 6)], flags(10, {4, 5, 6, 7}))
    assert (m.detected, m.false_positives) == (1, 2)


def test_zero_denominators_give_zero() -> None:
    """No events and no alarms: precision, recall and F1 are all 0.0 (Merlion's convention)."""
    m = event_metrics([], flags(5, set()))
    assert (m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0)
    assert m.mean_delay_points is None


def test_event_bounds_are_checked() -> None:
    """Events must be ascending, disjoint and inside the series; the index is named."""
    with pytest.raises(ValueError, match=r"events\[1\] must be \(first, last\)"):
        event_metrics([(1, 3), (3, 4)], flags(10, set()))
    with pytest.raises(ValueError, match=r"events\[0\]"):
        event_metrics([(8, 12)], flags(10, set()))


def test_point_adjusted_by_hand() -> None:
    """Event (2,4) found -> 3 TP points; event (7,9) missed -> 3 FN; alarms 0 and 12 -> 2 FP.

    precision = 3 / 5, recall = 3 / 6, F1 = 2 * 0.6 * 0.5 / 1.1 = 6/11.
    """
    labels = flags(15, {2, 3, 4, 7, 8, 9})
    alarms = flags(15, {0, 4, 12})
    pa = point_adjusted_scores(labels, alarms)
    assert (pa.tp, pa.fp, pa.fn) == (3, 2, 3)
    assert pa.precision == pytest.approx(0.6)
    assert pa.recall == 0.5
    assert pa.f1 == pytest.approx(6 / 11)


def test_point_adjusted_length_mismatch() -> None:
    """Labels and alarms must align point for point."""
    with pytest.raises(ValueError, match=r"same length, got 3 and 2"):
        point_adjusted_scores([True, False, False], [True, False])
