"""Unit tests of backend.analytics.windows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import MetricSeries, SlidingWindowExtractor, TimeBasedWindowExtractor, TimeWindow

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def series_at(offsets_s: list[int]) -> MetricSeries:
    return MetricSeries(
        "t", "c", "n", "m", [T0 + timedelta(seconds=o) for o in offsets_s], [0.0] * len(offsets_s)
    )


def spans(windows: list[TimeWindow]) -> list[tuple[int, int, bool]]:
    return [(w.start_index, w.end_index, w.is_partial) for w in windows]


class TestSliding:
    def test_full_windows_only_by_default(self) -> None:
        """Windows start at 0 and advance by the stride; no partial tail by default."""
        s = series_at(list(range(10)))
        assert spans(SlidingWindowExtractor(4, 3).extract(s)) == [
            (0, 4, False),
            (3, 7, False),
            (6, 10, False),
        ]
        assert spans(SlidingWindowExtractor(4, 4).extract(s)) == [(0, 4, False), (4, 8, False)]

    def test_partial_tail(self) -> None:
        """With include_partial the one trailing short window is returned, marked."""
        s = series_at(list(range(10)))
        got = spans(SlidingWindowExtractor(4, 3, include_partial=True).extract(s))
        assert got == [(0, 4, False), (3, 7, False), (6, 10, False), (9, 10, True)]
        got = spans(SlidingWindowExtractor(4, 4, include_partial=True).extract(s))
        assert got == [(0, 4, False), (4, 8, False), (8, 10, True)]

    def test_series_shorter_than_window(self) -> None:
        """Too short: nothing, or one partial window when asked."""
        s = series_at([0, 1])
        assert SlidingWindowExtractor(5, 1).extract(s) == []
        assert spans(SlidingWindowExtractor(5, 1, include_partial=True).extract(s)) == [(0, 2, True)]

    def test_empty_series(self) -> None:
        """An empty series has no windows."""
        assert SlidingWindowExtractor(1, 1, include_partial=True).extract(series_at([])) == []

    def test_times_are_first_and_last_point(self) -> None:
        """start_time/end_time are the timestamps of the first and last point inside."""
        w = SlidingWindowExtractor(3, 3).extract(series_at([0, 5, 7, 9]))[0]
        assert w.start_time == T0 and w.end_time == T0 + timedelta(seconds=7) and len(w) == 3

    def test_stride_larger_than_window(self) -> None:
        """Points between windows belong to none."""
        assert spans(SlidingWindowExtractor(2, 5).extract(series_at(list(range(12))))) == [
            (0, 2, False),
            (5, 7, False),
            (10, 12, False),
        ]

    @pytest.mark.parametrize(
        ("size", "stride", "name", "exc"),
        [
            (0, 1, "window_size_points", ValueError),
            (2, -1, "stride_points", ValueError),
            (2.0, 1, "window_size_points", TypeError),
            (True, 1, "window_size_points", TypeError),
        ],
    )
    def test_invalid_arguments(self, size: object, stride: object, name: str, exc: type[Exception]) -> None:
        """Bad sizes or strides raise naming the argument."""
        got = size if name == "window_size_points" else stride
        with pytest.raises(exc, match=f"SlidingWindowExtractor: {name} must be a positive int, got {got}"):
            SlidingWindowExtractor(size, stride)  # type: ignore[arg-type]


class TestTimeBased:
    def test_half_open_intervals_from_first_timestamp(self) -> None:
        """Window k covers [t0 + k*stride, t0 + k*stride + window)."""
        s = series_at([0, 10, 20, 30, 40, 50, 60])
        ex = TimeBasedWindowExtractor(timedelta(seconds=30), timedelta(seconds=30))
        assert spans(ex.extract(s)) == [(0, 3, False), (3, 6, False)]
        ex = TimeBasedWindowExtractor(timedelta(seconds=30), timedelta(seconds=30), include_partial=True)
        assert spans(ex.extract(s)) == [(0, 3, False), (3, 6, False), (6, 7, True)]

    def test_window_ending_exactly_at_last_point_is_partial(self) -> None:
        """A window is partial when the last timestamp is earlier than its end."""
        s = series_at([0, 10, 20, 30])
        ex = TimeBasedWindowExtractor(timedelta(seconds=30), timedelta(seconds=10), include_partial=True)
        got = spans(ex.extract(s))
        assert got[0] == (0, 3, False)
        assert all(p for _, _, p in got[1:])

    def test_gaps_are_skipped(self) -> None:
        """Windows holding no point are skipped, even across a huge gap."""
        s = series_at([0, 1, 10**8, 10**8 + 1, 10**8 + 100])
        ex = TimeBasedWindowExtractor(timedelta(seconds=10), timedelta(seconds=5))
        got = ex.extract(s)
        # Windows k = 2e7 - 1 and 2e7 both hold the two points at 1e8 and 1e8 + 1.
        assert spans(got) == [(0, 2, False), (2, 4, False), (2, 4, False)]
        assert got[1].start_time == T0 + timedelta(seconds=10**8)

    def test_irregular_overlapping(self) -> None:
        """Overlapping windows over irregular points match a brute-force reference."""
        offsets = [0, 3, 4, 11, 12, 13, 29, 31, 47, 48, 60]
        s = series_at(offsets)
        width, stride = 10, 4
        expected = []
        k = 0
        while k * stride <= offsets[-1]:
            lo, hi = k * stride, k * stride + width
            inside = [i for i, o in enumerate(offsets) if lo <= o < hi]
            if inside and hi <= offsets[-1]:
                expected.append((inside[0], inside[-1] + 1, False))
            k += 1
        got = TimeBasedWindowExtractor(timedelta(seconds=width), timedelta(seconds=stride)).extract(s)
        assert spans(got) == expected

    @pytest.mark.parametrize(
        ("window", "stride", "name", "exc"),
        [
            (timedelta(0), timedelta(seconds=1), "window", ValueError),
            (timedelta(seconds=1), timedelta(seconds=-1), "stride", ValueError),
            (30, timedelta(seconds=1), "window", TypeError),
        ],
    )
    def test_invalid_arguments(self, window: object, stride: object, name: str, exc: type[Exception]) -> None:
        """Non-positive or non-timedelta spans raise naming the argument."""
        with pytest.raises(
            exc, match=f"TimeBasedWindowExtractor: {name} must be a positive datetime.timedelta"
        ):
            TimeBasedWindowExtractor(window, stride)  # type: ignore[arg-type]


class TestTimeWindow:
    def test_validation(self) -> None:
        """A window holds at least one point and its times are ordered."""
        with pytest.raises(ValueError, match="end_index must be > start_index"):
            TimeWindow(3, 3, T0, T0)
        with pytest.raises(ValueError, match="start_time must be <= end_time"):
            TimeWindow(0, 2, T0 + timedelta(1), T0)
        with pytest.raises(TypeError, match="start_index must be a non-negative int"):
            TimeWindow(0.0, 2, T0, T0)  # type: ignore[arg-type]


def test_time_windows_refuse_to_multiply_a_series_without_end() -> None:
    """A 1 µs stride under a 2-hour window would make 3.6e9 windows of 2 points: a ValueError, not a hang."""
    from backend.analytics._validate import MAX_POINTS

    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    series = MetricSeries("t", "c", "n", "m", [t0, t0 + timedelta(hours=1)], [1.0, 2.0])
    extractor = TimeBasedWindowExtractor(timedelta(hours=2), timedelta(microseconds=1), include_partial=True)
    with pytest.raises(
        ValueError, match=rf"window=2:00:00 with stride=0:00:00.000001 .* {MAX_POINTS} windows"
    ):
        extractor.extract(series)


@pytest.mark.parametrize("include_partial", [False, True])
def test_time_windows_with_a_tiny_stride_over_a_sparse_series_are_served(include_partial: bool) -> None:
    """Billions of empty windows (a year at 1 µs strides) are not counted against the limit."""
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    stamps = [t0, t0 + timedelta(days=365), t0 + timedelta(days=365, milliseconds=5)]
    series = MetricSeries("t", "c", "n", "m", stamps, [1.0, 2.0, 3.0])
    one_us = timedelta(microseconds=1)
    windows = TimeBasedWindowExtractor(timedelta(milliseconds=1), one_us, include_partial).extract(series)
    # The first point's window, the 1,000 windows around the second point, and (partial) the third's.
    assert [w.start_index for w in windows[:2]] == [0, 1]
    assert len(windows) == 1 + 1000 + (1000 if include_partial else 0)
