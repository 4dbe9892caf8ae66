"""Deterministic windows over a :class:`~backend.analytics.types.MetricSeries`.

``SlidingWindowExtractor`` cuts windows by point count; ``TimeBasedWindowExtractor``
by time span, for irregular sampling (bisection on the timestamps, so the cost is
O(windows * log n)). Both return :class:`TimeWindow` objects in order of
``start_index``; the same input always gives the same windows.

>>> from datetime import datetime, timedelta, timezone
>>> from backend.analytics import MetricSeries
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> s = MetricSeries("t", "c", "n", "m", [t0 + timedelta(minutes=i) for i in range(5)], [0.0] * 5)
>>> [(w.start_index, w.end_index) for w in SlidingWindowExtractor(2, 2).extract(s)]
[(0, 2), (2, 4)]
>>> [(w.start_index, w.end_index, w.is_partial)
...  for w in SlidingWindowExtractor(2, 2, include_partial=True).extract(s)]
[(0, 2, False), (2, 4, False), (4, 5, True)]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._sequences import check_utc_datetime
from ._validate import (
    MAX_POINTS,
    check_aware_datetime,
    check_positive_int,
    check_positive_timedelta,
    fail_type,
)
from .types import MetricSeries, datetime_to_epoch_us, epoch_us_to_datetime

__all__ = ["SlidingWindowExtractor", "TimeBasedWindowExtractor", "TimeWindow", "locate_window"]

_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A contiguous run of points ``[start_index, end_index)`` of a series.

    ``start_time``/``end_time`` are the timestamps of the first and last point
    inside (so ``end_time`` is inclusive, unlike ``end_index``). ``is_partial``
    marks a trailing window the series ended before filling.
    """

    start_index: int
    end_index: int
    start_time: datetime
    end_time: datetime
    is_partial: bool = False

    def __post_init__(self) -> None:
        owner = "TimeWindow"
        for name in ("start_index", "end_index"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                fail_type(owner, name, "a non-negative int", value)
            if value < 0:
                raise ValueError(f"{owner}: {name} must be a non-negative int, got {value!r}")
        if self.end_index <= self.start_index:
            raise ValueError(
                f"{owner}: end_index must be > start_index (a window holds at least one point), "
                f"got start_index={self.start_index}, end_index={self.end_index}"
            )
        # In UTC: two times of one zone compare by wall clock, wrong across a DST fold.
        object.__setattr__(self, "start_time", check_utc_datetime(owner, "start_time", self.start_time))
        object.__setattr__(self, "end_time", check_utc_datetime(owner, "end_time", self.end_time))
        if self.start_time > self.end_time:
            raise ValueError(
                f"{owner}: start_time must be <= end_time, got {self.start_time} > {self.end_time}"
            )
        if not isinstance(self.is_partial, bool):
            fail_type(owner, "is_partial", "a bool", self.is_partial)

    def __len__(self) -> int:
        return self.end_index - self.start_index


def _window(us: memoryview, start: int, end: int, partial: bool) -> TimeWindow:
    return TimeWindow(start, end, epoch_us_to_datetime(us[start]), epoch_us_to_datetime(us[end - 1]), partial)


class SlidingWindowExtractor:
    """Windows of ``window_size_points`` points, advancing by ``stride_points``.

    Windows start at index 0, ``stride_points``, ``2 * stride_points``, ... A
    trailing window shorter than the size (the one that starts after the last
    full window and runs to the end of the series) is returned only with
    ``include_partial=True``, marked ``is_partial``. With a stride larger than
    the size, the points between windows belong to none.
    """

    __slots__ = ("include_partial", "stride_points", "window_size_points")

    def __init__(self, window_size_points: int, stride_points: int, include_partial: bool = False) -> None:
        owner = "SlidingWindowExtractor"
        self.window_size_points = check_positive_int(owner, "window_size_points", window_size_points)
        self.stride_points = check_positive_int(owner, "stride_points", stride_points)
        if not isinstance(include_partial, bool):
            fail_type(owner, "include_partial", "a bool", include_partial)
        self.include_partial = include_partial

    def __repr__(self) -> str:
        return (
            f"SlidingWindowExtractor(window_size_points={self.window_size_points}, "
            f"stride_points={self.stride_points}, include_partial={self.include_partial})"
        )

    def bounds(self, n: int) -> list[tuple[int, int, bool]]:
        """``(start_index, end_index, is_partial)`` of every window over ``n`` points."""
        size, stride = self.window_size_points, self.stride_points
        out = [(start, start + size, False) for start in range(0, n - size + 1, stride)]
        if self.include_partial:
            next_start = out[-1][0] + stride if out else 0
            if next_start < n and next_start + size > n:
                out.append((next_start, n, True))
        return out

    def extract(self, series: MetricSeries) -> list[TimeWindow]:
        """The windows of ``series``, in order of ``start_index``."""
        if not isinstance(series, MetricSeries):
            fail_type("SlidingWindowExtractor", "series", "a MetricSeries", series)
        us = series.epoch_us
        return [_window(us, s, e, p) for s, e, p in self.bounds(len(us))]


class TimeBasedWindowExtractor:
    """Windows of a fixed time span, advancing by a fixed time stride.

    Window ``k`` covers the points whose timestamps lie in the half-open
    interval ``[t0 + k*stride, t0 + k*stride + window)``, ``t0`` being the first
    timestamp. Windows that hold no point are skipped (in O(log n), whatever the
    gap). A window is partial when the series' last timestamp is earlier than
    the window's end; partial windows are returned only with
    ``include_partial=True``. Arithmetic is exact, in integer microseconds.

    A stride much shorter than the window repeats each point in many windows
    (a 1-hour window moved by 1 µs puts a point in 3.6e9 of them), so
    :meth:`extract` refuses, with a ``ValueError`` naming ``window`` and
    ``stride``, to cut a series of ``n`` points into more than
    ``max(n, MAX_POINTS)`` windows (``MAX_POINTS`` = 2**21), rather than run
    out of memory.
    """

    __slots__ = ("include_partial", "stride", "window")

    def __init__(self, window: timedelta, stride: timedelta, include_partial: bool = False) -> None:
        owner = "TimeBasedWindowExtractor"
        self.window = check_positive_timedelta(owner, "window", window)
        self.stride = check_positive_timedelta(owner, "stride", stride)
        if self.window < _ONE_US or self.stride < _ONE_US:
            raise ValueError(f"{owner}: window and stride must be at least 1 microsecond")
        if not isinstance(include_partial, bool):
            fail_type(owner, "include_partial", "a bool", include_partial)
        self.include_partial = include_partial

    def __repr__(self) -> str:
        return (
            f"TimeBasedWindowExtractor(window={self.window!r}, stride={self.stride!r}, "
            f"include_partial={self.include_partial})"
        )

    def extract(self, series: MetricSeries) -> list[TimeWindow]:
        """The non-empty windows of ``series``, in order of start time."""
        if not isinstance(series, MetricSeries):
            fail_type("TimeBasedWindowExtractor", "series", "a MetricSeries", series)
        us = series.epoch_us
        n = len(us)
        if n == 0:
            return []
        width, stride = self.window // _ONE_US, self.stride // _ONE_US
        t0, t_last = us[0], us[n - 1]
        limit = max(n, MAX_POINTS)
        # The last window start the loop below can reach: past it, windows start after the last
        # point or (without include_partial) end after it.
        k_cap = (t_last - t0 - (0 if self.include_partial else width)) // stride
        if k_cap >= limit and _count_windows(us, width, stride, k_cap) > limit:
            raise ValueError(
                f"TimeBasedWindowExtractor.extract: window={self.window} with stride={self.stride} "
                f"would cut this series of {n} points into more than {limit} windows "
                f"(at most max(points, {MAX_POINTS})); use a longer stride"
            )
        out: list[TimeWindow] = []
        k = 0
        while t0 + k * stride <= t_last:
            start_t = t0 + k * stride
            end_t = start_t + width
            partial = t_last < end_t
            if partial and not self.include_partial:
                break  # every later window ends later still, so is partial too
            lo = bisect_left(us, start_t)
            hi = bisect_left(us, end_t, lo)
            if lo < hi:
                out.append(_window(us, lo, hi, partial))
                k += 1
            else:
                # Empty: jump to the first window that contains the next point us[lo].
                offset = us[lo] - t0
                k = max(k + 1, (offset - width) // stride + 1)
        return out


def _count_windows(us: memoryview, width: int, stride: int, k_cap: int) -> int:
    """How many windows ``k`` in ``[0, k_cap]`` hold a point, in O(n) whatever the stride.

    Point ``p`` lies in the windows ``k`` with ``t0 + k*stride <= p < t0 + k*stride + width``, a
    range of ``k`` that moves forward with ``p``; the count is the size of their union.
    """
    t0 = us[0]
    count, covered = 0, -1
    for p in us:
        first = max(covered + 1, -((width - 1 - (p - t0)) // stride), 0)
        last = min((p - t0) // stride, k_cap)
        if last >= first:
            count += last - first + 1
            covered = last
    return count


def locate_window(series: MetricSeries, start_time: datetime, end_time: datetime) -> TimeWindow:
    """The window of ``series`` holding the points with ``start_time <= t <= end_time``.

    For turning an :class:`~backend.analytics.types.AnomalyResult`'s
    ``window_start``/``window_end`` back into indices (O(log n), bisection on
    the timestamps). Raises ``ValueError`` when no point of the series lies in
    that span.
    """
    owner = "locate_window"
    check_aware_datetime(owner, "start_time", start_time)
    check_aware_datetime(owner, "end_time", end_time)
    us = series.epoch_us
    lo = bisect_left(us, datetime_to_epoch_us(start_time))
    hi = bisect_right(us, datetime_to_epoch_us(end_time))
    if lo >= hi:
        raise ValueError(
            f"{owner}: no point of series {series.ids!r} lies in "
            f"[{start_time.isoformat()}, {end_time.isoformat()}]"
        )
    return _window(us, lo, hi, False)
