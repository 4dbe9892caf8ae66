"""Alarm episodes and event detection with an onset tolerance, on point-index spans.

What a person on call sees of a detector is its *alarm episodes*, not its
windows: a run of anomalous windows is one page, and so are two runs a few
points apart. These helpers turn an engine's results into half-open spans of
point indices ``[start, end)`` and count on them (``benchmarks/bench_fleet.py``
reports with them):

- :func:`anomalous_spans`: the spans of the results whose label is not NORMAL
  (``is_anomalous``), located in the series by their timestamps.
- :func:`merge_spans`: episodes, the union of spans where runs separated by
  fewer than ``gap_points`` points without an alarm are one episode.
- :func:`spans_outside`: what is left of spans once zones (e.g. labelled events
  and their tolerance) are cut out; pieces of one span stay separate.
- :func:`detected_within`: whether an event with onset ``onset`` is found: some
  span holds a point in ``[onset, onset + tolerance_points]`` (both ends
  included), i.e. a span ``[s, e)`` with ``s <= onset + tolerance_points`` and
  ``e > onset``.

>>> merge_spans([(10, 12), (14, 15), (40, 41)], gap_points=5)
[(10, 15), (40, 41)]
>>> spans_outside([(0, 10)], [(3, 5)])
[(0, 3), (5, 10)]
>>> detected_within([(35, 36)], onset=5, tolerance_points=30)
True
>>> detected_within([(36, 37)], onset=5, tolerance_points=30)
False
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .._kinds import AnomalyType
from ..types import AnomalyResult, MetricSeries
from ..windows import locate_window

__all__ = ["anomalous_spans", "detected_within", "merge_spans", "spans_outside"]

Span = tuple[int, int]


def _check_spans(owner: str, name: str, spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for k, span in enumerate(spans):
        if not isinstance(span, tuple) or len(span) != 2:
            raise TypeError(f"{owner}: {name}[{k}] must be a (start, end) pair of ints, got {span!r}")
        start, end = span
        if (
            isinstance(start, bool)
            or isinstance(end, bool)
            or not (isinstance(start, int) and isinstance(end, int))
        ):
            raise TypeError(f"{owner}: {name}[{k}] must be a (start, end) pair of ints, got {span!r}")
        if not 0 <= start < end:
            raise ValueError(f"{owner}: {name}[{k}] must satisfy 0 <= start < end, got {span!r}")
        out.append((start, end))
    return out


def _check_count(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be an int >= 0, got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, got {value!r}")
    return value


def anomalous_spans(series: MetricSeries, results: Sequence[AnomalyResult]) -> list[Span]:
    """``[start, end)`` point indices of each result labelled anomalous, in the results' order.

    A result covers the points with ``window_start <= t <= window_end``
    (:func:`~backend.analytics.windows.locate_window`; ``ValueError`` when none).
    """
    spans: list[Span] = []
    for result in results:
        if result.anomaly_label is not AnomalyType.NORMAL:
            window = locate_window(series, result.window_start, result.window_end)
            spans.append((window.start_index, window.end_index))
    return spans


def merge_spans(spans: Iterable[Span], *, gap_points: int) -> list[Span]:
    """Episodes: spans sorted and merged where fewer than ``gap_points`` points separate them.

    Overlapping and touching spans always merge (``gap_points=0``); with
    ``gap_points=g``, ``(a, b)`` and ``(c, d)`` with ``b <= c`` merge when
    ``c - b < g``.
    """
    owner = "merge_spans"
    gap = _check_count(owner, "gap_points", gap_points)
    episodes: list[Span] = []
    for start, end in sorted(_check_spans(owner, "spans", spans)):
        if episodes and start - episodes[-1][1] < max(gap, 1):
            if end > episodes[-1][1]:
                episodes[-1] = (episodes[-1][0], end)
        else:
            episodes.append((start, end))
    return episodes


def spans_outside(spans: Iterable[Span], zones: Iterable[Span]) -> list[Span]:
    """The parts of ``spans`` outside every zone, sorted; a span cut by a zone leaves two pieces."""
    owner = "spans_outside"
    cuts = merge_spans(_check_spans(owner, "zones", zones), gap_points=0)
    out: list[Span] = []
    for start, end in sorted(_check_spans(owner, "spans", spans)):
        pieces = [(start, end)]
        for z0, z1 in cuts:
            if z0 >= end:
                break
            nxt: list[Span] = []
            for a, b in pieces:
                if z1 <= a or z0 >= b:
                    nxt.append((a, b))
                    continue
                if a < z0:
                    nxt.append((a, z0))
                if z1 < b:
                    nxt.append((z1, b))
            pieces = nxt
        out.extend(pieces)
    return out


def detected_within(spans: Iterable[Span], *, onset: int, tolerance_points: int) -> bool:
    """Whether a span holds a point in ``[onset, onset + tolerance_points]`` (both included)."""
    owner = "detected_within"
    first = _check_count(owner, "onset", onset)
    last = first + _check_count(owner, "tolerance_points", tolerance_points)
    return any(start <= last and end > first for start, end in _check_spans(owner, "spans", spans))
