"""Classify what an anomalous window looks like and explain it in one sentence.

:class:`ExplanationClassifier` labels a window of a series ``SPIKE``, ``TREND``,
``SEASONAL`` or ``NORMAL`` (:class:`AnomalyType`) against at most
``history_points`` points immediately before the window, and nothing after it:
causal and bounded, so the answer on
``series.slice(max(0, start - history_points), end)`` (window re-indexed) is the
answer on the whole series. :meth:`ExplanationClassifier.explain` turns an
:class:`~backend.analytics.types.AnomalyResult` into one sentence for a person
on call.

Method (all in units of the history's own spread, so the scale of the metric
does not matter):

1. Baseline (:mod:`backend.analytics._seasonal`). The history's period is found
   by autocorrelation (2 .. ``max_period`` points, default 336, at least two
   periods of history). With a period, each window point is expected at the mean of its
   phase over the last cycles; without one, at the recent median. ``sd`` is
   the (outlier-trimmed) spread of a new point around that expectation.
2. Every window point gets ``z = (value - expected) / sd``.
3. TREND: the last 3 points are all on the same side, each at least
   ``trend_z / 2`` and on average at least ``trend_z`` sd away (a ramp or a
   level shift that persists to the end). When
   the history is seasonal and the last point is still inside the historical
   range (the seasonal profile widened by ``range_sd`` noise sd), the shape
   changed rather than the level: SEASONAL.
4. SPIKE: points at least ``spike_z`` sd away. In a history without a cycle
   that is all it takes (the series went and came back). In a seasonal
   history the far points must also fit in 4 consecutive points with the rest
   of the window consistent and leave the historical range, or most of them
   must leave it; a wider or in-range departure is a changed shape: SEASONAL.
5. SEASONAL: a seasonal history and a mean ``z**2`` over the window of at least
   ``seasonal_score`` (a window that follows the cycle scores about 1).
6. NORMAL otherwise. A history counts as seasonal only with at least
   ``min_cycles`` (default 3) periods in it, so a history shorter than two
   periods is never SEASONAL.

>>> clf = ExplanationClassifier()
>>> hist = [10.0 + (i % 3) * 0.1 for i in range(60)]
>>> clf.classify_values(hist, [10.0, 10.1, 10.2, 10.0, 90.0, 10.2, 10.0, 10.1, 10.2])
<AnomalyType.SPIKE: 'spike'>
>>> clf.classify_values(hist, [10.0, 10.1, 10.2, 30.0, 30.1, 30.2, 30.0, 30.1])
<AnomalyType.TREND: 'trend'>
>>> clf.classify_values(hist, [10.0, 10.1, 10.2, 10.0, 10.1, 10.2])
<AnomalyType.NORMAL: 'normal'>
>>> clf.classify_values(hist, [10.1, 10.2, 10.0, 10.1, 10.2, 10.0])  # the cycle's phase moved
<AnomalyType.SEASONAL: 'seasonal'>
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from ._kinds import AnomalyType
from ._seasonal import Baseline, baseline, detect_period
from ._validate import check_positive_int, check_real, fail_type, fail_value
from .types import AnomalyResult, MetricSeries
from .windows import TimeWindow

__all__ = ["AnomalyType", "ExplanationClassifier"]

_OWNER = "ExplanationClassifier"
_TAIL = 3  # points at the end of a window that must agree for a TREND
_SPIKE_SPAN = 4  # a spike's far points fit in this many consecutive points
_MIN_SD = 1e-12  # floor of the spread, relative to the largest |value| involved
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)


class _Judgement:
    """The numbers behind one verdict, in the metric's units (shared by classify and explain)."""

    __slots__ = ("base", "expected", "kind", "scale", "sd", "window", "z")

    def __init__(
        self,
        kind: AnomalyType,
        window: list[float],
        base: Baseline | None = None,
        scale: float = 1.0,
        sd: float = 0.0,
        z: list[float] | None = None,
    ) -> None:
        self.kind = kind
        self.window = window
        self.base = base
        self.scale = scale
        self.sd = sd
        self.z = z if z is not None else []
        self.expected = [base.expected(i) * scale for i in range(len(window))] if base is not None else []


class ExplanationClassifier:
    """Label a window SPIKE, TREND, SEASONAL or NORMAL against the history before it.

    All settings are keyword-only and validated (``TypeError`` for a wrong
    type, ``ValueError`` for a bad value; the message names the argument):

    - ``history_points`` (int >= 8, default 2048): at most this many points
      before the window are read. 2048 holds a whole week at 5 minutes (7.1
      days: seven daily cycles of 288 points, so a weekend is always in the
      history), 6 weeks at 30 minutes and 12 weeks of hourly data; engines
      that label their windows buffer this many points per live stream.
    - ``max_period`` (int >= 2, default 336): the longest period looked for,
      in points: a day at 5 minutes (288) and a week at 30 minutes (336) or
      hourly (168) are inside the range.
    - ``spike_z`` (real > 0, default 4.5): how many sd from its expectation a
      point must be to count as far.
    - ``trend_z`` (real > 0, default 3.5): how many sd, on average, the last 3
      points must be away, on one side, for a TREND.
    - ``seasonal_score`` (real > 1, default 3.0): the mean squared z of a window
      of a seasonal series above which its shape counts as changed.
    - ``min_strength`` (real in (0, 1), default 0.4): the autocorrelation at the
      period needed to call a history periodic.
    - ``min_cycles`` (int >= 2, default 3): the periods of history needed before
      a departure from the cycle can be judged SEASONAL.
    - ``range_sd`` (real >= 0, default 2.0): how many noise sd beyond the
      seasonal profile's range still count as inside the historical range.
    """

    __slots__ = (
        "history_points",
        "max_period",
        "min_cycles",
        "min_strength",
        "range_sd",
        "seasonal_score",
        "spike_z",
        "trend_z",
    )

    def __init__(
        self,
        *,
        history_points: int = 2048,
        max_period: int = 336,
        spike_z: float = 4.5,
        trend_z: float = 3.5,
        seasonal_score: float = 3.0,
        min_strength: float = 0.4,
        min_cycles: int = 3,
        range_sd: float = 2.0,
    ) -> None:
        self.history_points = _int_at_least("history_points", history_points, 8)
        self.max_period = _int_at_least("max_period", max_period, 2)
        self.min_cycles = _int_at_least("min_cycles", min_cycles, 2)
        self.spike_z = _real_above("spike_z", spike_z, 0.0)
        self.trend_z = _real_above("trend_z", trend_z, 0.0)
        self.seasonal_score = _real_above("seasonal_score", seasonal_score, 1.0)
        self.min_strength = _real_above("min_strength", min_strength, 0.0)
        if self.min_strength >= 1.0:
            fail_value(_OWNER, "min_strength", "a real number in (0, 1)", min_strength)
        self.range_sd = check_real(_OWNER, "range_sd", range_sd)
        if self.range_sd < 0.0:
            fail_value(_OWNER, "range_sd", "a real number >= 0", range_sd)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ExplanationClassifier({settings})"

    # -- classification -----------------------------------------------------------

    def classify(self, series: MetricSeries, window: TimeWindow) -> AnomalyType:
        """The kind of ``window`` of ``series``, judged against the history just before it.

        Reads the window's points and at most ``history_points`` points before
        ``window.start_index``, nothing after ``window.end_index``. A window
        reaching past the end of the series is a ``ValueError``. With fewer
        than 2 points of history the answer is ``NORMAL`` (nothing to compare
        with).
        """
        if not isinstance(series, MetricSeries):
            fail_type(_OWNER, "series", "a MetricSeries", series)
        if not isinstance(window, TimeWindow):
            fail_type(_OWNER, "window", "a TimeWindow", window)
        if window.end_index > len(series):
            raise ValueError(
                f"{_OWNER}: window.end_index must be <= len(series) = {len(series)}, got {window.end_index}"
            )
        return self._judge_span(series, window.start_index, window.end_index).kind

    def classify_values(self, history: Sequence[float], window: Sequence[float]) -> AnomalyType:
        """The kind of the values ``window`` that follow the values ``history``.

        The same judgement as :meth:`classify`, on raw numbers: only the last
        ``history_points`` values of ``history`` are used. Values must be finite
        real numbers and ``window`` must not be empty.
        """
        hist = _finite_list("history", history)
        win = _finite_list("window", window)
        if not win:
            fail_value(_OWNER, "window", "a non-empty sequence of finite real numbers", window)
        return self._judge(hist[-self.history_points :], win).kind

    def _judge_span(self, series: MetricSeries, start: int, end: int) -> _Judgement:
        values = series.values
        lo = max(0, start - self.history_points)
        return self._judge(values[lo:start].tolist(), values[start:end].tolist())

    def _judge(self, hist: list[float], win: list[float]) -> _Judgement:
        if len(hist) < 2 or not win:
            return _Judgement(AnomalyType.NORMAL, win)
        # Work in units of the largest |value|: no overflow at 1e308, no
        # underflow at 1e-300, and the same verdict at every scale.
        scale = max(*map(abs, hist), *map(abs, win))
        if scale == 0.0:
            return _Judgement(AnomalyType.NORMAL, win, baseline(hist, None), 0.0, 0.0, [0.0] * len(win))
        h = [v / scale for v in hist]
        w = [v / scale for v in win]
        found = detect_period(h, max_period=self.max_period, min_strength=self.min_strength)
        base = baseline(h, found[0] if found else None)
        sd = max(base.sd, _MIN_SD)
        z = [(v - base.expected(i)) / sd for i, v in enumerate(w)]
        spread = base.sd * scale if base.sd > _MIN_SD else 0.0  # below that: rounding only
        return _Judgement(self._decide(base, w, z), win, base, scale, spread, z)

    def _decide(self, base: Baseline, win: list[float], z: list[float]) -> AnomalyType:
        seasonal = base.period is not None and base.cycles >= self.min_cycles
        margin = self.range_sd * base.noise
        lo, hi = base.low - margin, base.high + margin
        if len(z) >= 2:
            tail = z[-_TAIL:]
            mean = math.fsum(tail) / len(tail)
            sign = 1.0 if mean >= 0.0 else -1.0
            if abs(mean) >= self.trend_z and all(t * sign >= 0.5 * self.trend_z for t in tail):
                if seasonal and lo <= win[-1] <= hi:
                    return AnomalyType.SEASONAL
                return AnomalyType.TREND
        big = [i for i, v in enumerate(z) if abs(v) >= self.spike_z]
        if big:
            first, last = big[0], big[-1]
            if not seasonal:
                return AnomalyType.SPIKE
            outside = sum(1 for i in big if not lo <= win[i] <= hi)
            if last - first < _SPIKE_SPAN:
                rest = z[: max(0, first - 1)] + z[last + 2 :]
                if outside and (not rest or math.fsum(v * v for v in rest) / len(rest) < self.seasonal_score):
                    return AnomalyType.SPIKE
            return AnomalyType.SPIKE if 2 * outside > len(big) else AnomalyType.SEASONAL
        if seasonal and math.fsum(v * v for v in z) / len(z) >= self.seasonal_score:
            return AnomalyType.SEASONAL
        return AnomalyType.NORMAL

    # -- explanation --------------------------------------------------------------

    def explain(self, series: MetricSeries, result: AnomalyResult) -> str:
        """One plain sentence about ``result`` on ``series`` for a person on call.

        Says what moved and where (metric, node, cluster, tenant), what happened
        (``result.anomaly_label``), how far (in the metric's units and in sd of
        the baseline), when (the window's first and last point, UTC) and
        compared with what (the baseline level, or the value the seasonal cycle
        expected). The window is found by bisecting ``result.window_start`` and
        ``result.window_end`` in the series' timestamps and judged against the
        same bounded history as :meth:`classify`. Never raises for a valid
        series and result, e.g.:

        "cpu_util on node n-17 (cluster c-2, tenant acme) spiked to 97.3, 8.1 sd
        above its baseline of 41.2, at 14:05–14:10 UTC on 2024-05-01."
        """
        if not isinstance(series, MetricSeries):
            fail_type(_OWNER, "series", "a MetricSeries", series)
        if not isinstance(result, AnomalyResult):
            fail_type(_OWNER, "result", "an AnomalyResult", result)
        where = (
            f"{series.metric_name} on node {series.node_id} "
            f"(cluster {series.cluster_id}, tenant {series.tenant_id})"
        )
        kind = result.anomaly_label
        when = _when(result.window_start, result.window_end)
        us = series.epoch_us
        start = bisect_left(us, (result.window_start - _EPOCH) // _ONE_US)
        end = bisect_right(us, (result.window_end - _EPOCH) // _ONE_US)
        if end <= start:
            return f"{where}: {kind.value} {when}, but the series has no points in that window."
        j = self._judge_span(series, start, end)
        lo, hi = min(j.window), max(j.window)
        seen = f"at {_num(lo)}" if lo == hi else f"between {_num(lo)} and {_num(hi)}"
        if j.base is None:
            label = "nothing unusual" if kind is AnomalyType.NORMAL else f"a possible {kind.value}"
            return f"{where} was {seen} {when} ({label}); no baseline yet to compare with."
        cycle = _cycle(series, start, j.base.period)
        if kind is AnomalyType.TREND:
            i = len(j.window) - 1
        else:
            i = max(range(len(j.window)), key=lambda k: abs(j.window[k] - j.expected[k]))
        value, expect = j.window[i], j.expected[i]
        up = value >= expect
        if j.base.period is not None:
            against = f"the {_num(expect)} its {cycle} cycle expected there"
        else:
            against = f"its baseline of {_num(expect)}"
        dist = _distance(value, expect, j.sd)
        if j.sd == 0.0 and value != expect:
            against += " (its history had no spread)"
        far = "exactly at" if value == expect else f"{dist} {'above' if up else 'below'}"
        if kind is AnomalyType.SPIKE:
            verb = "spiked to" if up else "dropped to"
            return f"{where} {verb} {_num(value)}, {far} {against}, {when}."
        if kind is AnomalyType.TREND:
            verb = "rose to" if up else "fell to"
            return f"{where} {verb} {_num(value)} and stayed there, {far} {against}, {when}."
        if kind is AnomalyType.SEASONAL:
            if j.base.period is None:
                return f"{where} departed from its usual pattern at {_num(value)}, {far} {against}, {when}."
            note = "; its history had no spread" if j.sd == 0.0 and value != expect else ""
            return (
                f"{where} broke its usual {cycle} cycle: {_num(value)} where {_num(expect)} was "
                f"expected ({far}{note}), while staying {seen}, {when}."
            )
        close = "exactly at" if value == expect else f"within {dist} of"
        return f"{where} was normal {when}: {seen}, {close} {against}."


def _distance(value: float, expect: float, sd: float) -> str:
    """'8.1 sd' (or '2' in the metric's units when the history had no spread)."""
    delta = abs(value - expect)
    if not math.isfinite(delta):  # two values of opposite sign near the float limit
        delta = abs(value / 2.0 - expect / 2.0)
        return f"{_num(delta / sd, 3)} sd" if sd > 0.0 else f"2 × {_num(delta)}"
    return f"{_num(delta / sd, 3)} sd" if sd > 0.0 else _num(delta)


def _int_at_least(name: str, value: object, least: int) -> int:
    checked = check_positive_int(_OWNER, name, value)
    if checked < least:
        fail_value(_OWNER, name, f"an int >= {least}", value)
    return checked


def _real_above(name: str, value: object, bound: float) -> float:
    checked = check_real(_OWNER, name, value)
    if checked <= bound:
        fail_value(_OWNER, name, f"a real number > {bound:g}", value)
    return checked


def _finite_list(name: str, values: object) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        fail_type(_OWNER, name, "a sequence of finite real numbers", values)
    return [check_real(_OWNER, f"{name}[{i}]", v) for i, v in enumerate(values)]


def _num(x: float, digits: int = 4) -> str:
    """``x`` in general format with ``digits`` significant digits (``-0`` shown as ``0``)."""
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def _cycle(series: MetricSeries, start: int, period: int | None) -> str:
    """'daily', '6-hour' for a period on regular timestamps before ``start``; else '24-point'.

    A period found within 3% of an hour, a day or a week is named after it
    (a daily cycle at 5 minutes estimated at 285 points is still 'daily', not
    '1425-minute').
    """
    if period is None:
        return ""
    us = series.epoch_us
    lo = max(0, start - period)
    step = (us[start] - us[lo]) // (start - lo) if start > lo else 0
    if step > 0 and all(us[k] - us[k - 1] == step for k in range(lo + 1, start + 1)):
        span = step * period
        for unit_us, unit, once in _UNITS:
            if span % unit_us == 0:
                count = span // unit_us
                if unit_us < _UNITS[1][0] and _near_unit(span):
                    break  # 1425 minutes or 166 hours: nearly a day or a week
                return once if count == 1 else f"{count}-{unit}"
        near = _near_unit(span)
        if near:
            return near
    return f"{period}-point"


def _near_unit(span_us: int) -> str:
    """'weekly', 'daily' or 'hourly' when ``span_us`` is within 3% of one of them, else ''."""
    for unit_us, _unit, once in _UNITS[:3]:
        if abs(span_us - unit_us) <= 0.03 * unit_us:
            return once
    return ""


_UNITS = (
    (604_800_000_000, "week", "weekly"),
    (86_400_000_000, "day", "daily"),
    (3_600_000_000, "hour", "hourly"),
    (60_000_000, "minute", "1-minute"),
    (1_000_000, "second", "1-second"),
)


def _when(start: datetime, end: datetime) -> str:
    """'at 14:05–14:10 UTC on 2024-05-01', or 'from 2024-05-01 23:50 to 2024-05-02 00:10 UTC'."""
    a, b = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    fmt = "%H:%M:%S" if a.second or b.second or a.microsecond or b.microsecond else "%H:%M"
    if a.date() == b.date():
        if a == b:
            return f"at {a:{fmt}} UTC on {a:%Y-%m-%d}"
        return f"at {a:{fmt}}–{b:{fmt}} UTC on {a:%Y-%m-%d}"
    return f"from {a:%Y-%m-%d} {a:{fmt}} to {b:%Y-%m-%d} {b:{fmt}} UTC"
