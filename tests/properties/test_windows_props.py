"""Property tests of the window extractors beyond test_core_props: µs resolution, any offset, prefixes."""

from __future__ import annotations

import itertools
from array import array
from datetime import datetime, timedelta, timezone

from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from backend.analytics import MetricSeries, SlidingWindowExtractor, TimeBasedWindowExtractor
from backend.analytics.windows import _count_windows, locate_window

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
MIN_US = (datetime.min.replace(tzinfo=timezone.utc) - EPOCH) // US
MAX_US = (datetime.max.replace(tzinfo=timezone.utc) - EPOCH) // US
# The most windows the brute-force definition enumerates per point, and the most windows a test extracts
# (extracting is linear in the windows: a 1 µs stride over a long series makes millions).
PER_POINT = 200
MAX_WINDOWS = 4000

# Window widths and strides in µs: a few µs, up to a second, days, centuries.
spans = st.one_of(st.integers(1, 5), st.integers(1, 10**6), st.integers(1, 10**13), st.integers(1, 10**16))
# Gaps between timestamps in µs: 1 µs steps, irregular steps, days, decades.
gaps_us = st.one_of(st.integers(1, 3), st.integers(1, 10**6), st.integers(1, 10**12), st.integers(1, 10**15))


@st.composite
def us_stamps(draw: st.DrawFn, max_size: int = 40) -> list[int]:
    """Strictly ascending epoch µs: 1 µs steps, irregular steps, huge gaps, anywhere in years 1..9999."""
    gaps = draw(st.lists(gaps_us, max_size=max_size))
    start = draw(st.one_of(st.just(0), st.integers(MIN_US, MAX_US)))
    out, t = [], start
    for g in gaps:
        t += g
        out.append(t)
    if out and out[-1] > MAX_US:  # shift down into range
        shift = out[-1] - MAX_US
        out = [x - shift for x in out]
    if out and out[0] < MIN_US:
        return []
    return out


def _series(stamps_us: list[int], offsets: list[int] | None = None) -> MetricSeries:
    """A series at those µs, its timestamps at UTC offsets of ``offsets`` minutes where they fit."""
    ts = [EPOCH + u * US for u in stamps_us]
    if offsets is not None:
        shifted = []
        for t, off in zip(ts, offsets, strict=True):
            try:
                shifted.append(t.astimezone(timezone(timedelta(minutes=off))))
            except OverflowError:  # near year 1 or 9999 the local time does not exist
                shifted.append(t)
        ts = shifted
    return MetricSeries("t", "c", "n", "m", ts, [0.0] * len(ts))


def _brute_time(us: list[int], width: int, stride: int, partial: bool) -> list[tuple[int, int, bool]] | None:
    """The contract's definition, literally: window k covers [t0 + k*stride, t0 + k*stride + width).

    None when a point lies in more than PER_POINT windows (too many to enumerate).
    """
    if not us:
        return []
    t0, last = us[0], us[-1]
    ks: set[int] = set()  # only the windows that can hold a point (the others are skipped by definition)
    for p in us:
        lo_k = max(0, -((width - 1 - (p - t0)) // stride))
        hi_k = (p - t0) // stride
        if hi_k - lo_k > PER_POINT:
            return None
        ks.update(range(lo_k, hi_k + 1))
    out = []
    for k in sorted(ks):
        lo, hi = t0 + k * stride, t0 + k * stride + width
        inside = [i for i, t in enumerate(us) if lo <= t < hi]
        is_partial = last < hi
        if inside and (partial or not is_partial):
            out.append((inside[0], inside[-1] + 1, is_partial))
    return out


def _few_windows(us: list[int], width: int, stride: int) -> bool:
    """At most MAX_WINDOWS windows, by two bounds: starts within the span; ceil(width / stride) per point."""
    if not us:
        return True
    return min((us[-1] - us[0]) // stride + 1, len(us) * -(-width // stride)) <= MAX_WINDOWS


@settings(max_examples=60)
@given(us_stamps(), spans, spans, st.booleans(), st.lists(st.integers(-840, 840), min_size=40, max_size=40))
def test_time_windows_definition_us(
    stamps: list[int], width: int, stride: int, partial: bool, offsets: list[int]
) -> None:
    """The definition holds at µs resolution, across huge gaps, whatever the UTC offsets of the input."""
    expected = _brute_time(stamps, width, stride, partial)
    if expected is None:
        reject()
    s = _series(stamps, offsets[: len(stamps)])
    ex = TimeBasedWindowExtractor(width * US, stride * US, partial)
    got = ex.extract(s)  # (never refused: at most 40 * 201 windows, under MAX_POINTS)
    assert [(w.start_index, w.end_index, w.is_partial) for w in got] == expected
    for w in got:
        assert w.start_time == s.timestamps[w.start_index]
        assert w.end_time == s.timestamps[w.end_index - 1]
        assert w.start_time.utcoffset() == timedelta(0)
    assert ex.extract(_series(stamps)) == got  # the same instants at offset 0: the same windows


@settings(max_examples=60)
@given(us_stamps(), spans, spans, st.booleans())
def test_count_windows_matches_extract(stamps: list[int], width: int, stride: int, partial: bool) -> None:
    """The refusal's count (_count_windows) is the definition's number of windows, and extract's."""
    expected = _brute_time(stamps, width, stride, partial)
    if not stamps or expected is None:
        reject()
    k_cap = (stamps[-1] - stamps[0] - (0 if partial else width)) // stride
    count = _count_windows(memoryview(array("q", stamps)), width, stride, k_cap) if k_cap >= 0 else 0
    assert count == len(expected)
    assert count == len(TimeBasedWindowExtractor(width * US, stride * US, partial).extract(_series(stamps)))


@settings(max_examples=60)
@given(us_stamps(), spans)
def test_time_windows_cover_every_point(stamps: list[int], width: int) -> None:
    """With stride <= window and include_partial=True every point lies in a window; indices never decrease."""
    stride = max(1, width // 3)
    ws = TimeBasedWindowExtractor(width * US, stride * US, True).extract(_series(stamps))
    covered: set[int] = set()
    for w in ws:
        covered.update(range(w.start_index, w.end_index))
    assert covered == set(range(len(stamps)))
    # Equal windows may repeat (distinct k, the same points), so only "never decrease".
    pairs = itertools.pairwise(ws)
    assert all(a.start_index <= b.start_index and a.end_index <= b.end_index for a, b in pairs)


@settings(max_examples=60)
@given(us_stamps(), spans, spans, st.data())
def test_time_windows_prefix_independent(
    stamps: list[int], width: int, stride: int, data: st.DataObject
) -> None:
    """The full windows of a prefix of the series are a prefix of the whole series' windows."""
    assume(_few_windows(stamps, width, stride))
    s = _series(stamps)
    ex = TimeBasedWindowExtractor(width * US, stride * US, False)
    whole = ex.extract(s)
    part = ex.extract(s.slice(0, data.draw(st.integers(0, len(stamps)), label="prefix")))
    assert whole[: len(part)] == part


@settings(max_examples=60)
@given(st.integers(0, 200), st.integers(1, 50), st.integers(1, 50), st.booleans())
def test_sliding_cover_and_prefix(n: int, size: int, stride: int, partial: bool) -> None:
    """Sliding: stride <= size with partial covers every point; prefixes agree; locate_window inverts."""
    s = _series(list(range(1, n + 1)))
    ex = SlidingWindowExtractor(size, stride, partial)
    ws = ex.extract(s)
    if partial and stride <= size:
        covered: set[int] = set()
        for w in ws:
            covered.update(range(w.start_index, w.end_index))
        assert covered == set(range(n))
    for j in range(0, n + 1, max(1, n // 7)):
        part = [w for w in ex.extract(s.slice(0, j)) if not w.is_partial]
        assert ws[: len(part)] == part
    for w in ws:  # locate_window turns a window's times back into its indices
        found = locate_window(s, w.start_time, w.end_time)
        assert (found.start_index, found.end_index) == (w.start_index, w.end_index)


@settings(max_examples=60)
@given(us_stamps(), spans, spans)
def test_partial_semantics_time(stamps: list[int], width: int, stride: int) -> None:
    """include_partial=True adds only partial windows, last, each reaching the series' end."""
    assume(_few_windows(stamps, width, stride))
    s = _series(stamps)
    full = TimeBasedWindowExtractor(width * US, stride * US, False).extract(s)
    every = TimeBasedWindowExtractor(width * US, stride * US, True).extract(s)
    assert [w for w in every if not w.is_partial] == full
    seen_partial = False
    for w in every:
        if w.is_partial:
            seen_partial = True
            assert w.end_index == len(stamps)
        else:
            assert not seen_partial
