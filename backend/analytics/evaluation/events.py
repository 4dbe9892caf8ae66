"""Event-level detection metrics for labelled series (e.g. the simulator's ground truth).

Points are identified by their index in the series. An *event* is a labelled
anomaly: a run of points ``(first, last)``, inclusive. *Alarms* are one boolean
per point (``True`` where the detector fired; see :func:`alarms_from_scores`).

- :func:`event_metrics`: an event is *detected* when any alarm falls inside it;
  alarms outside every event are false positives, and adjacent ones (a run of
  consecutive alarm points) count as one. Precision = detected events /
  (detected events + false-positive runs), recall = detected / events, F1 their
  harmonic mean. Time to detect: from an event's first point to its first alarm,
  in points and, given the timestamps, in seconds.
- :func:`point_adjusted_scores`: point-adjusted precision, recall and F1 as
  Merlion reports them (``ScoreType.PointAdjusted``; Xu et al., WWW 2018): every
  point of a detected event counts as a true positive, every point of a missed
  one as a false negative, every alarm point outside events as a false positive.

As in Merlion, a ratio with a zero denominator is reported as ``0.0`` (no
events gives recall 0.0; no alarms gives precision 0.0), and F1 is 0.0 when
precision or recall is.

>>> labels = [False, True, True, False, False, False, True, False]
>>> alarms = [False, False, True, False, True, True, False, False]
>>> m = event_metrics(events_from_labels(labels), alarms)
>>> (m.detected, m.missed, m.false_positives, m.precision, m.recall, m.delays_points)
(1, 1, 1, 0.5, 0.5, (1, None))
>>> point_adjusted_scores(labels, alarms).recall  # 2 of 3 labelled points adjusted as found
0.6666666666666666
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .._validate import check_real

__all__ = [
    "EventMetrics",
    "PointAdjustedScores",
    "alarms_from_scores",
    "event_metrics",
    "events_from_labels",
    "point_adjusted_scores",
]


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    if precision == 0.0 or recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def events_from_labels(labels: Sequence[bool]) -> list[tuple[int, int]]:
    """Maximal runs of truthy labels as ``(first, last)`` index pairs, inclusive."""
    events: list[tuple[int, int]] = []
    start = -1
    for i, flag in enumerate(labels):
        if flag and start < 0:
            start = i
        elif not flag and start >= 0:
            events.append((start, i - 1))
            start = -1
    if start >= 0:
        events.append((start, len(labels) - 1))
    return events


def alarms_from_scores(scores: Sequence[float], threshold: float) -> list[bool]:
    """``True`` where ``score >= threshold`` (the NAB convention).

    ``threshold`` must be a finite real number (not a bool or a str), as for
    :func:`.nab.score_file`: ``TypeError``/``ValueError`` otherwise.
    """
    threshold = check_real("alarms_from_scores", "threshold", threshold)
    out = [s >= threshold for s in scores]
    if not all(out):  # (a NaN compares False: it would never alarm)
        bad = next((i for i, s in enumerate(scores) if math.isnan(s)), None)
        if bad is not None:
            raise ValueError(f"alarms_from_scores: scores[{bad}] is nan; a score must be a number")
    return out


def _check_events(owner: str, events: Sequence[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    checked: list[tuple[int, int]] = []
    previous = -1
    for k, pair in enumerate(events):
        first, last = pair
        if not (isinstance(first, int) and isinstance(last, int)) or not previous < first <= last < n:
            raise ValueError(
                f"{owner}: events[{k}] must be (first, last) indices, ascending and disjoint "
                f"within [0, {n}), got {pair!r}"
            )
        checked.append((first, last))
        previous = last
    return checked


@dataclass(frozen=True, slots=True)
class EventMetrics:
    """Event-level result; ratios in [0, 1] (0.0 where the denominator is 0).

    ``delays_points[k]`` is the number of points from event ``k``'s first point
    to its first alarm (0 = on the first point), ``None`` if it was missed;
    ``delays_seconds`` the same in seconds when timestamps were given.
    """

    events: int
    detected: int
    missed: int
    false_positives: int
    alarms: int
    precision: float
    recall: float
    f1: float
    delays_points: tuple[int | None, ...]
    delays_seconds: tuple[float | None, ...] | None

    @property
    def mean_delay_points(self) -> float | None:
        """Mean time to detect over detected events, in points (``None`` if none)."""
        found = [d for d in self.delays_points if d is not None]
        return sum(found) / len(found) if found else None

    @property
    def mean_delay_seconds(self) -> float | None:
        """Mean time to detect over detected events, in seconds (``None`` if unknown or none)."""
        if self.delays_seconds is None:
            return None
        found = [d for d in self.delays_seconds if d is not None]
        return sum(found) / len(found) if found else None


def event_metrics(
    events: Sequence[tuple[int, int]],
    alarms: Sequence[bool],
    *,
    epoch_us: Sequence[int] | None = None,
) -> EventMetrics:
    """Event-level precision, recall, F1 and time to detect.

    ``events``: ascending, disjoint ``(first, last)`` point indices (inclusive).
    ``alarms``: one boolean per point. ``epoch_us`` (optional, one per point,
    e.g. ``series.epoch_us``) adds delays in seconds.
    """
    n = len(alarms)
    checked = _check_events("event_metrics", events, n)
    if epoch_us is not None and len(epoch_us) != n:
        raise ValueError(f"event_metrics: epoch_us must have one entry per point ({n}), got {len(epoch_us)}")
    inside = [False] * n
    delays: list[int | None] = []
    for first, last in checked:
        inside[first : last + 1] = [True] * (last - first + 1)
        hit = next((i for i in range(first, last + 1) if alarms[i]), None)
        delays.append(None if hit is None else hit - first)
    false_runs = 0
    previous_false = False
    for i in range(n):
        is_false = bool(alarms[i]) and not inside[i]
        if is_false and not previous_false:
            false_runs += 1
        previous_false = is_false
    detected = sum(1 for d in delays if d is not None)
    precision = _ratio(detected, detected + false_runs)
    recall = _ratio(detected, len(checked))
    seconds: tuple[float | None, ...] | None = None
    if epoch_us is not None:
        seconds = tuple(
            None if d is None else (epoch_us[first + d] - epoch_us[first]) / 1e6
            for d, (first, _) in zip(delays, checked, strict=True)
        )
    return EventMetrics(
        events=len(checked),
        detected=detected,
        missed=len(checked) - detected,
        false_positives=false_runs,
        alarms=sum(1 for a in alarms if a),
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        delays_points=tuple(delays),
        delays_seconds=seconds,
    )


@dataclass(frozen=True, slots=True)
class PointAdjustedScores:
    """Point-adjusted counts and ratios (Merlion's ``ScoreType.PointAdjusted``)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def point_adjusted_scores(labels: Sequence[bool], alarms: Sequence[bool]) -> PointAdjustedScores:
    """Point-adjusted precision, recall and F1 from per-point labels and alarms.

    A labelled run with at least one alarm counts all its points as true
    positives, otherwise all as false negatives; alarm points outside labelled
    runs are false positives (each point counts).
    """
    if len(labels) != len(alarms):
        raise ValueError(
            f"point_adjusted_scores: labels and alarms must have the same length, "
            f"got {len(labels)} and {len(alarms)}"
        )
    tp = fn = 0
    for first, last in events_from_labels(labels):
        if any(alarms[first : last + 1]):
            tp += last - first + 1
        else:
            fn += last - first + 1
    fp = sum(1 for flag, alarm in zip(labels, alarms, strict=True) if alarm and not flag)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return PointAdjustedScores(tp, fp, fn, precision, recall, _f1(precision, recall))
