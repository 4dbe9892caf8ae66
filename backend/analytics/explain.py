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

1. Model (:mod:`backend.analytics._seasonal` and below). Three ways to
   expect the next points, the best that fits:

   - a daily cycle read from the timestamps (regular steps that divide a
     day, two days of history; timestamps that wander up to a quarter of a
     step about such a grid are read at their grid times: :func:`_on_grid`):
     each point is expected at the median of the
     same time of day on the latest earlier days of the same kind (weekdays,
     or Saturdays and Sundays, UTC; up to 5 of them within 8 days; any kind
     when fewer than 2). It counts when it leaves at most ``1 - min_strength``
     of the variance of the last day's values;
   - a period found by autocorrelation in the last 2048 points (2 ..
     ``max_period`` points, two periods of history): the mean profile of the
     last cycles, shifted to the level of the last cycle. It replaces the
     daily cycle when it predicts better (a cycle that is not daily);
   - otherwise the median of the last 32 points.

   ``sd`` is the (outlier-trimmed) spread of a point around its expectation.
   For the daily cycle it is measured out of sample on the last day, net of
   the lag that a window's expectation adds (a first weekend day that runs
   below the weekdays it is judged against does not inflate it), without
   the residuals of exactly 0 of points that held still (a metric at 0 all
   night says nothing there of its noise by day), and by
   local hour of the day: times each hour's loudness (the residuals'
   roughness there and at its two neighbours, against the day's), shrunk
   to 1 as far as the hours differ no more than sampling makes them,
   within 1/4 to 4 (a request rate,
   quiet at night and loud at noon, then reads a spike of a given size in
   its local noise as about equally far out at either hour). The model
   is found at a checkpoint at most ``recheck_points`` points before the
   window (on a grid of steps since the epoch) and kept for the windows that
   follow, so a live stream or ``detect`` finds it once per checkpoint; a
   history young enough that a cycle may have appeared since the checkpoint
   is modelled at the window's start.
2. Every window point gets ``z = (value - expected) / sd`` (its hour's sd): a spike or a
   shift on a cycle is judged on its distance from the cycle, wherever it
   lands in the range the cycle has seen.
3. TREND: the last 3 points are all on the same side, each at least
   ``trend_z / 2`` and on average at least ``trend_z`` sd away (a ramp or a
   level shift that persists to the end). When the history is seasonal and
   the window also went clearly the other way (at least
   ``max(3, n // 50)`` points 2.5 sd the other way, or one ``spike_z`` sd),
   the shape changed rather than the level: SEASONAL.
4. SPIKE: points at least ``spike_z`` sd away. In a history without a cycle
   that is all it takes. In a seasonal history the excursion (the far points
   and their neighbours still 3 sd off on the same side) must span at most 3
   points with the rest of the window consistent (the mean squared distance
   of its z from their mean below ``seasonal_score``: a window that runs a
   little off its cycle around a spike, as a quieter night does, is a
   spike); a wider one is a changed shape: SEASONAL.
5. SEASONAL: a seasonal history and a mean ``z**2`` over the window of at least
   ``seasonal_score`` (a window that follows the cycle scores about 1).
6. NORMAL otherwise. A history counts as seasonal only with at least
   ``min_cycles`` (default 3) periods in it before the window, so a history
   shorter than that is never SEASONAL.

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
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from operator import sub
from typing import Any

from ._kinds import AnomalyType
from ._seasonal import Baseline, baseline, detect_period, robust_sd
from ._validate import check_ordered, check_positive_int, check_real, check_utc_offset, fail_type, fail_value
from .types import AnomalyResult, MetricSeries
from .windows import TimeWindow

__all__ = ["AnomalyType", "ExplanationClassifier"]

_OWNER = "ExplanationClassifier"
_TAIL = 3  # points at the end of a window that must agree for a TREND
_AGAINST_Z = 2.5  # a changed shape that ends on one side also went this far the other way
ABOVE, BELOW = 1, 2  # the sides a window can end held off its expectation (_held; bits of an episode's)
_SPIKE_SPAN = 3  # on a cycle, a spike's excursion (points >= _EDGE_Z sd off) spans at most this many points
_EDGE_Z = 3.0
_MIN_SD = 1e-12  # floor of the spread, relative to the largest |value| involved
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ACF_POINTS = 2048  # period detection by autocorrelation reads at most this many points
_RECHECK = 64  # a series' model is found again at most every this many points
_EVAL_POINTS = 384  # points of the last day a calendar cycle is checked on
_LAG_POINTS = 32  # the residuals before a window whose median is the series' lag on its cycle (_lag)
_SHIFT_MIN = 0.125  # the share of a day a span needs before a shift of its cycle is read from it (_shift)
_LAG_SHARE = 0.9  # the share of those residuals that must lie on the lag's side for it to count
_SAME_PHASE = 5  # earlier days whose median is a point's expectation
_TYPE_DAYS = 8  # how many days back a day of the same kind is looked for
_DAY_US = 86_400_000_000
_NEAR = 0.03  # a history of 3 periods may hold 2.97 of an estimated period (a point or two long)
_WEEK_US = 7 * _DAY_US
_MONDAY_US = 4 * _DAY_US  # 1970-01-05T00:00Z was a Monday
_WEEKEND_US = 5 * _DAY_US  # Saturday 00:00 UTC, from Monday
_ONE_US = timedelta(microseconds=1)
_HOUR_US = 3_600_000_000
_HOUR_POOL = 12  # residuals an hour's spread needs (with its two neighbours'), else no spread by hour
_HOUR_BOUND = 4.0  # an hour's spread is between 1/4 and 4 times the day's
_LOG_SD_VAR = 1.1  # n * the variance of log(robust_sd) of n roughnesses (_hour_spread) of normal values


class _Model:
    """What the history before a checkpoint says about the points after it (in units of ``scale``).

    ``route`` is ``"calendar"`` (the same time of day on previous days,
    found from the timestamps), ``"profile"`` (a period found by
    autocorrelation, with its mean profile ``base``) or ``"flat"`` (no
    cycle: the recent median). ``sd`` is the spread of a new point around its
    expectation, ``period`` the cycle in points (``None`` when flat).
    """

    __slots__ = ("base", "fit", "hours", "period", "route", "scale", "sd")

    def __init__(
        self,
        route: str,
        scale: float,
        sd: float,
        period: int | None,
        base: Baseline | None,
        hours: tuple[float, ...] | None = None,
        fit: float | None = None,
    ) -> None:
        self.route = route
        self.scale = scale
        self.sd = sd
        self.fit = sd if fit is None else fit  # the spread around the cycle alone (no lag): how well it fits
        self.period = period
        self.base = base
        self.hours = hours  # (calendar only) the spread at each local hour of the day, as a multiple of sd

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """A model unpickled from a stream's checkpoint; one from before the spread by hour (no
        ``hours``, no ``fit``) has none and fits as well as its spread says."""
        for name, value in state[1].items():
            setattr(self, name, value)
        if "hours" not in state[1]:
            self.hours = None
        if "fit" not in state[1]:
            self.fit = self.sd


class _Memo:
    """A series' models by checkpoint (one per live stream or ``detect`` call; see ``_labels``).

    Models are a function of the series up to their checkpoint only, so a
    memo gives the same verdicts as none: it only saves the work. At most
    ``_MEMO_SIZE`` checkpoints are kept (the latest ones).
    """

    __slots__ = ("models",)

    def __init__(self) -> None:
        # (by the checkpoint's last timestamp, and how the timestamps were read (_ON_GRID, _FILLED): a
        # point exactly on the grid has the same timestamp either way, not the same model)
        self.models: dict[tuple[int, int] | int, _Model | None] = {}


_MEMO_SIZE = 4
# How a judgement read its timestamps: put on their grid (_on_grid), missed points filled (_filled).
_ON_GRID, _FILLED = 1, 2


class _Judgement:
    """The numbers behind one verdict, in the metric's units (shared by classify and explain)."""

    __slots__ = (
        "expected",
        "has_base",
        "kind",
        "loud",
        "period",
        "sd",
        "seasonal",
        "shift",
        "step",
        "window",
        "z",
    )

    def __init__(
        self,
        kind: AnomalyType,
        window: list[float],
        *,
        has_base: bool = False,
        period: int | None = None,
        expected: list[float] | None = None,
        sd: float = 0.0,
        z: list[float] | None = None,
        loud: list[float] | None = None,
        seasonal: bool = False,
    ) -> None:
        self.kind = kind
        self.window = window
        self.has_base = has_base
        self.period = period
        self.expected = expected if expected is not None else []
        self.sd = sd
        self.z = z if z is not None else []
        self.loud = loud  # each point's spread as a multiple of sd (the spread by hour), if any
        self.seasonal = seasonal  # the history holds min_cycles periods of a cycle (SEASONAL possible)
        self.shift: int | None = None  # microseconds the series runs late (< 0: early) on its cycle (_shift)
        self.step: int | None = None  # the steps (µs) the daily cycle was read on (the calendar route)

    def spread(self, i: int) -> float:
        """The spread of window point ``i`` around its expectation, in the metric's units."""
        return self.sd if self.loud is None else self.sd * self.loud[i]


class ExplanationClassifier:
    """Label a window SPIKE, TREND, SEASONAL or NORMAL against the history before it.

    All settings are keyword-only and validated (``TypeError`` for a wrong
    type, ``ValueError`` for a bad value; the message names the argument):

    - ``history_points`` (int >= 8, default 12288): at most this many points
      before the window are read. 12288 holds 8.5 days at 1 minute (so the
      same weekday or weekend day a week earlier is in it), 6 weeks at 5
      minutes; period detection by autocorrelation reads the last 2048 of
      them. Engines that label their windows buffer this many points per
      live stream.
    - ``max_period`` (int >= 2, default 336): the longest period looked for
      by autocorrelation, in points (a day at 5 minutes, 288, and a week at
      30 minutes, 336, or hourly, 168, are inside the range). Daily cycles
      are also found from the timestamps, at any step that divides a day.
    - ``spike_z`` (real > 0, default 4.5): how many sd from its expectation a
      point must be to count as far.
    - ``trend_z`` (real > 0, default 3.5): how many sd, on average, the last 3
      points must be away, on one side, for a TREND.
    - ``seasonal_score`` (real > 1, default 3.0): the mean squared z of a window
      of a seasonal series above which its shape counts as changed (around a
      spike: the rest of the window's, around its mean).
    - ``min_strength`` (real in (0, 1), default 0.4): the share of the
      history's variance the cycle must explain to call a history periodic
      (the autocorrelation at the period; for a daily cycle from timestamps,
      one minus the residual variance over the raw variance).
    - ``min_cycles`` (int >= 2, default 3): the periods of history needed before
      a departure from the cycle can be judged SEASONAL.
    - ``range_sd`` (real >= 0, default 2.0): kept for compatibility; the
      verdict no longer depends on the historical range (a spike or a shift
      on a cycle is SPIKE or TREND wherever it lands).
    - ``utc_offset_minutes`` (int in [-840, 840], default 0): the local time
      in which days of the week are read (weekdays against weekdays, Saturdays
      and Sundays against weekend days), as an offset from UTC.
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
        "utc_offset_minutes",
    )

    def __init__(
        self,
        *,
        history_points: int = 12288,
        max_period: int = 336,
        spike_z: float = 4.5,
        trend_z: float = 3.5,
        seasonal_score: float = 3.0,
        min_strength: float = 0.4,
        min_cycles: int = 3,
        range_sd: float = 2.0,
        utc_offset_minutes: int = 0,
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
        self.utc_offset_minutes = check_utc_offset(_OWNER, utc_offset_minutes)
        self.range_sd = check_real(_OWNER, "range_sd", range_sd)
        if self.range_sd < 0.0:
            fail_value(_OWNER, "range_sd", "a real number >= 0", range_sd)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ExplanationClassifier({settings})"

    @property
    def recheck_points(self) -> int:
        """How often (in points) the cycle, profile and spread of a series are found again.

        ``min(64, history_points // 4)``. The model a window is judged with is
        the one found at the last checkpoint at or before its first point
        (checkpoints fall on multiples of this many steps since the epoch), on
        at most ``history_points - recheck_points`` points before the
        checkpoint: so a window never reads more than ``history_points`` points
        before it, and consecutive windows share one model.
        """
        return min(_RECHECK, self.history_points // 4)

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

    def classify_values(self, history: Iterable[float], window: Iterable[float]) -> AnomalyType:
        """The kind of the values ``window`` that follow the values ``history``.

        The same judgement as :meth:`classify` on a series without timestamps
        (so no daily cycle is read from them), on raw numbers: only the last
        ``history_points`` values of ``history`` are used. Values must be
        finite real numbers, in any ordered iterable (a list, a numpy array, a
        pandas Series), and ``window`` must not be empty.
        """
        hist = _finite_list("history", history)
        win = _finite_list("window", window)
        if not win:
            fail_value(_OWNER, "window", "a non-empty sequence of finite real numbers", window)
        hist = hist[-self.history_points :]
        return self._judge(hist + win, None, len(hist), len(hist) + len(win), None).kind

    def _judge_span(
        self, series: MetricSeries, start: int, end: int, memo: _Memo | None = None, anchor: int | None = None
    ) -> _Judgement:
        return self._judge(series.values._data, series.timestamps._data, start, end, memo, anchor)

    def _checkpoint(self, us: Sequence[int] | None, start: int) -> int:
        """The checkpoint of a window starting at ``start`` (see :attr:`recheck_points`)."""
        r = self.recheck_points
        if us is None or start < 2:
            return start
        step = us[start] - us[start - 1]
        if step <= 0:
            return start
        if start < 4 * r:
            return start
        return start - min(r - 1, (us[start] % (r * step)) // step)

    def _young_any(self, c: int) -> bool:
        """Whether a period could appear by autocorrelation after checkpoint ``c``, whatever its model.

        A period needs two of them in the history: one up to ``max_period``
        can appear while ``c < 2 * max_period``.
        """
        return c < 2 * min(self.max_period, (self.history_points - self.recheck_points) // 2)

    def _young(self, us: Sequence[int] | None, c: int, start: int, route: str) -> bool:
        """Whether a cycle could be visible from ``start`` and not from the checkpoint ``c``.

        By autocorrelation while :meth:`_young_any`; a daily cycle from the
        timestamps appears when the history passes two days.
        """
        if self._young_any(c):
            return True
        if us is None or route == "calendar":
            return False
        step = us[start] - us[start - 1]
        if step <= 0 or _DAY_US % step:
            return False
        need = 2 * (_DAY_US // step) + 8
        span = self.history_points - self.recheck_points
        return min(c, span) < need <= min(start, span)

    def _model(
        self, vals: Sequence[float], us: Sequence[int] | None, c: int, memo: _Memo | None, flags: int = 0
    ) -> _Model | None:
        if memo is not None:
            key = (us[c - 1], flags) if us is not None and c > 0 else c
            if key in memo.models:
                return memo.models[key]
        model = self._find_model(vals, us, c)
        if memo is not None:
            if len(memo.models) >= _MEMO_SIZE:
                del memo.models[next(iter(memo.models))]
            memo.models[key] = model
        return model

    def _find_model(self, vals: Sequence[float], us: Sequence[int] | None, c: int) -> _Model | None:
        """The model of the points after ``c`` from at most ``history_points - recheck_points`` before it."""
        lo = max(0, c - (self.history_points - self.recheck_points))
        if c - lo < 2:
            return None
        scale = max(map(abs, vals[lo:c]))
        if scale == 0.0:
            return _Model("flat", 0.0, 0.0, None, None)
        cal = self._calendar_model(vals, us, lo, c, scale) if us is not None else None
        h = [v / scale for v in vals[max(lo, c - _ACF_POINTS) : c]]
        found = detect_period(h, max_period=self.max_period, min_strength=self.min_strength)
        base = baseline(h, found[0] if found else None)
        # The daily cycle from the timestamps, unless a period found by
        # autocorrelation predicts the points better (a cycle that is not daily).
        if cal is not None and (base.period is None or cal.fit <= base.sd):
            return cal
        if base.period is not None:
            return _Model("profile", scale, base.sd, base.period, base)
        return _Model("flat", scale, base.sd, None, None)

    def _calendar_model(
        self, vals: Sequence[float], us: Sequence[int], lo: int, c: int, scale: float
    ) -> _Model | None:
        """A daily cycle read from the timestamps, if the history has one (else ``None``).

        Needs regular steps that divide a day and two days of history. Each
        point of the last day is predicted from the same time of day on
        previous days (:func:`_same_phase`); the cycle counts when those
        predictions leave at most ``1 - min_strength`` of the variance (that
        spread is the model's ``fit``). Its ``sd`` is the spread of the same
        residuals net of the lag (:func:`_net_of_lag`), less those of exactly
        0 at points equal to the two before them, by hour of the day
        (:func:`_hour_spread`).
        """
        step = us[c - 1] - us[c - 2]
        if step <= 0 or _DAY_US % step:
            return None
        period = _DAY_US // step
        if period < 4 or c - lo < 2 * period + 8 or us[c - 1] - us[lo] != (c - 1 - lo) * step:
            return None
        first = max(lo + 2 * period, c - period)
        stride = max(1, (c - first) // _EVAL_POINTS)
        raw: list[float] = []
        resid: list[float] = []
        hours: list[int] = []  # the local hour of the day of each residual (off, below, shifts by whole days)
        still: list[bool] = []  # whether its point held still (equal to the two points before it)
        # The points c - 1, c - 1 - stride, ... down to first (taken in increasing order), each
        # against the same time of previous days (_same_phase). Within a run of points on one
        # local day with as many days before them, every point reads the same earlier days: such
        # a run is done a column (one earlier day) at a time.
        off = self.utc_offset_minutes * 60_000_000 - _MONDAY_US
        j = c - 1 - (c - 1 - first) // stride * stride
        while j < c:
            t = us[j] + off
            day = t // _DAY_US
            days = (j - lo) // period
            end = min(c, j - (t - (day + 1) * _DAY_US) // step)  # (the next local day's first point)
            if days < _TYPE_DAYS:
                end = min(end, lo + (days + 1) * period)
            b = j - (j - end) // stride * stride  # (the first point of the grid at or after end)
            picks = _PICKS[day % 7 >= 5][(day - 1) % 7][min(_TYPE_DAYS, days)]
            if picks:
                # (column m: the same time m + 1 days back; its sorted rows give each point's median)
                cols = [vals[j - (m + 1) * period : b - (m + 1) * period : stride] for m in picks]
                rows = map(sorted, zip(*([v / scale for v in col] for col in cols), strict=True))
                here = [v / scale for v in vals[j:b:stride]]
                raw += here
                resid += map(sub, here, map(_middle, rows))
                hours += [(us[q] + off) % _DAY_US // _HOUR_US for q in range(j, b, stride)]
                still += [vals[q] == vals[q - 1] == vals[q - 2] for q in range(j, b, stride)]
            j = b
        if len(resid) < 8:
            return None
        sd = robust_sd(resid)
        # The plain variance of the values: a robust one would ignore a narrow
        # daily peak (a nightly batch job) as if it were outliers.
        mean = math.fsum(raw) / len(raw)
        spread2 = math.fsum((v - mean) ** 2 for v in raw) / len(raw)
        if sd * sd > (1.0 - self.min_strength) * spread2:
            return None
        net = _net_of_lag(resid, -(-_LAG_POINTS // stride))
        # Points that held still where their days held still too (a metric at exactly 0 all night)
        # say nothing of the noise the series has when it moves: their residuals of exactly 0 would
        # shrink its spread to a fraction (as blocks that do not move teach zscore no scale).
        idle = [held and r == 0.0 for held, r in zip(still, resid, strict=True)]
        if any(idle) and len(resid) - sum(idle) >= 8:
            net = [r for r, held in zip(net, idle, strict=True) if not held]
            resid = [r for r, held in zip(resid, idle, strict=True) if not held]
            hours = [h for h, held in zip(hours, idle, strict=True) if not held]
            spread = robust_sd(net)
        else:
            spread = robust_sd(net) if net is not resid else sd
        return _Model("calendar", scale, spread, period, None, _hour_spread(resid, hours, spread), fit=sd)

    def _judge(
        self,
        vals: Sequence[float],
        us: Sequence[int] | None,
        start: int,
        end: int,
        memo: _Memo | None,
        anchor: int | None = None,
    ) -> _Judgement:
        """The verdict on ``vals[start:end]`` from the history before it.

        ``anchor`` (at most ``start``), when given, ends that history instead:
        a window inside an episode of anomalous windows is judged against the
        history before the episode began (``anchor``, its first window), not
        against the episode's own earlier points.
        """
        win = list(vals[start:end])
        h = start if anchor is None else anchor  # the history is vals[lo:h]
        lo = max(0, h - self.history_points)
        if h - lo < 2 or not win:
            return _Judgement(AnomalyType.NORMAL, win)
        flags = 0  # (how the timestamps were read: the memo keeps models apart by it)
        if us is not None:
            vals, us, at, flags = _timeline(vals, us, lo, start, end)
            if at is not None:  # (missed points filled: the same window, on one grid)
                start, end, h = at[start - lo], at[end - 1 - lo] + 1, max(0, at[h - lo])
                lo = max(0, h - self.history_points)
                if h - lo < 2:
                    return _Judgement(AnomalyType.NORMAL, win)
        c = self._checkpoint(us, h)
        # A young history (a cycle may have become visible between the checkpoint and the window) is
        # modelled at the window; where that holds whatever the checkpoint's model, it is not found.
        model = None if c < h and self._young_any(c) else self._model(vals, us, c, memo, flags)
        if model is None or (c < h and self._young(us, c, h, model.route)):
            c = h
            model = self._model(vals, us, c, memo, flags)
        if model is None or (model.scale == 0.0 and max(map(abs, win)) == 0.0):
            level = vals[start - 1] if model is None else 0.0
            z0 = [0.0] * len(win)
            return _Judgement(AnomalyType.NORMAL, win, has_base=True, expected=[level] * len(win), z=z0)
        period = model.period
        step: int | None = None  # (the steps the daily cycle is read on, where it is)
        expect: list[float] | None = None  # in units of `scale` below
        loud: list[float] | None = None  # each window point's hour's spread, as a multiple of sd
        if (
            model.route == "calendar"
            and us is not None
            and period is not None
            and _regular(us, max(lo, start - (_TYPE_DAYS + 1) * period), end, _DAY_US // period)
        ):
            # (Same time of day = same index modulo the period, on regular steps only.)
            off = self.utc_offset_minutes
            looked = [_same_phase(vals, us, j, period, lo, h, 1.0, off) for j in range(start, end)]
            if all(e is not None for e in looked):
                lag = _lag(vals, us, period, lo, h, off)
                raw_e = [e + lag for e in looked if e is not None]
                scale = max(model.scale, *map(abs, win), *map(abs, raw_e))
                expect = [e / scale for e in raw_e]
                if model.hours is not None:
                    local = off * 60_000_000
                    loud = [model.hours[(t + local) % _DAY_US // _HOUR_US] for t in us[start:end]]
                step = _DAY_US // period
        if expect is None and model.route == "profile" and model.base is not None:
            scale = max(model.scale, *map(abs, win))
            ratio = model.scale / scale
            expect = [model.base.expected(start - c + i) * ratio for i in range(len(win))]
        if expect is None:
            period = None
            level = _middle(sorted(vals[max(lo, h - 32) : h]))
            scale = max(model.scale, abs(level), *map(abs, win))
            expect = [level / scale] * len(win)
        ratio = model.scale / scale
        sd = max(model.sd * ratio, _MIN_SD)
        if loud is None:
            z = [(v / scale - e) / sd for v, e in zip(win, expect, strict=True)]
        else:
            z = [(v / scale - e) / (sd * m) for v, e, m in zip(win, expect, loud, strict=True)]
        # (An estimated period can be a point or two long: 3 periods of history
        # are 2.99 of a period estimated 1% long.)
        cycles = (h - lo) / period if period is not None else 0.0
        seasonal = cycles >= self.min_cycles * (1.0 - _NEAR)
        kind = self._decide(z, period is not None, seasonal)
        spread = model.sd * ratio * scale if model.sd * ratio > _MIN_SD else 0.0  # below that: rounding only
        judged = _Judgement(
            kind,
            win,
            has_base=True,
            period=period,
            expected=[e * scale for e in expect],
            sd=spread,
            z=z,
            loud=loud,
            seasonal=seasonal,
        )
        if step is None and flags & _FILLED and us is not None:
            step = us[start] - us[start - 1]  # (the view is one step apart: the cycle is named from it)
        judged.step = step if period is not None else None
        return judged

    def _held(self, z: Sequence[float]) -> int:
        """:data:`ABOVE` or :data:`BELOW` when the window ends held off its expectation as a TREND does
        (its last ``_TAIL`` points all on one side, each at least ``trend_z / 2`` and on average at
        least ``trend_z`` sd away; at least 2 points), else 0."""
        if len(z) < 2:
            return 0
        tail = z[-_TAIL:]
        mean = math.fsum(tail) / len(tail)
        sign = 1.0 if mean >= 0.0 else -1.0
        if abs(mean) >= self.trend_z and all(t * sign >= 0.5 * self.trend_z for t in tail):
            return ABOVE if sign > 0.0 else BELOW
        return 0

    def _shift(
        self, series: MetricSeries, first: int, end: int, sd: float, memo: _Memo | None = None
    ) -> int | None:
        """How many microseconds late (negative: early) ``series[first:end]`` runs on its cycle, when a
        shifted cycle explains it; else ``None``.

        The cycle is the expectation the window was judged against, from the
        history before ``first`` (the same time of day on earlier days of the
        same kind plus the lag there, or the seasonal profile). Shifts from
        minus to plus half a period, on a grid of at most 96 steps a period,
        are tried on the span's points on that grid (its last period at
        most), on timestamps a whole number of equal steps apart from end to
        end (the check :func:`_regular` makes); the best is kept only when the span
        holds at least ``_SHIFT_MIN`` of a period, the shift is at least a
        24th of one (an hour of a day), and its median absolute residual is at
        most ``sd`` (noise alone gives 0.67 sd) and at most half the unshifted
        one's: a level shift, a damped swing or a flattened peak is no
        shifted cycle and leaves more.
        """
        lo = max(0, first - self.history_points)
        if first - lo < 2 or end - first < 2 or sd <= 0.0:
            return None
        vals, us, at, flags = _timeline(series.values._data, series.timestamps._data, lo, first, end)
        if at is not None:  # (as _judge reads them)
            first, end = at[first - lo], at[end - 1 - lo] + 1
            lo = max(0, first - self.history_points)
            if first - lo < 2:
                return None
        if (us[end - 1] - us[lo]) % (end - 1 - lo):
            return None
        step = (us[end - 1] - us[lo]) // (end - 1 - lo)  # (a whole number of steps end to end: _regular)
        c = self._checkpoint(us, first)
        model = self._model(vals, us, c, memo, flags)
        if model is None or model.period is None or end - first < _SHIFT_MIN * model.period:
            return None
        p = model.period
        grid = max(1, p // 96)
        half = p // 2 // grid * grid
        js = range(max(first, end - p), end, grid)
        expect: dict[int, float] = {}
        xs = range(js[0] - half, js[-1] + half + 1, grid)
        if model.route == "calendar" and p * step == _DAY_US:

            class _Ahead:  # the timestamps, carried on past the series' end (for the days of the week)
                def __getitem__(self, j: int) -> int:
                    return us[j] if j < len(us) else us[-1] + (j - len(us) + 1) * step

            off = self.utc_offset_minutes
            lag = _lag(vals, us, p, lo, first, off)
            ahead: Any = _Ahead()
            for x in xs:
                e = _same_phase(vals, ahead, x, p, lo, first, 1.0, off) if x >= 0 else None
                if e is not None:
                    expect[x] = e + lag
        elif model.route == "profile" and model.base is not None:
            base = model.base
            expect = {x: base.expected(x - c) * model.scale for x in xs}
        else:
            return None
        misfit: dict[int, float] = {}
        for d in range(-half, half + 1, grid):
            dev = sorted(abs(vals[j] - expect[j - d]) for j in js if j - d in expect)
            if len(dev) * 2 >= len(js):
                misfit[d] = _middle(dev)
        if not misfit:
            return None
        best = min(misfit, key=lambda d: (misfit[d], abs(d)))
        if abs(best) * 24 < p or misfit[best] > sd or misfit[best] * 2 > misfit.get(0, math.inf):
            return None
        return best * step

    def _decide(self, z: list[float], periodic: bool, seasonal: bool) -> AnomalyType:
        """The verdict from the window's distances to its expectation (in sd)."""
        held = self._held(z)
        if held:
            # A changed shape also departs the other way; a shift or a ramp does not.
            if seasonal and _both_ways(z, 1.0 if held == ABOVE else -1.0, _AGAINST_Z, self.spike_z):
                return AnomalyType.SEASONAL
            return AnomalyType.TREND
        big = [i for i, v in enumerate(z) if abs(v) >= self.spike_z]
        if big:
            first, last = big[0], big[-1]
            if not seasonal:
                return AnomalyType.SPIKE
            sign = 1.0 if z[first] > 0.0 else -1.0
            if all(z[i] * sign > 0.0 for i in big):
                # The excursion: the far points and their neighbours still clearly off, on that side.
                a, b = first, last
                while a > 0 and z[a - 1] * sign >= _EDGE_Z:
                    a -= 1
                while b < len(z) - 1 and z[b + 1] * sign >= _EDGE_Z:
                    b += 1
                rest = z[: max(0, a - 1)] + z[b + 2 :]
                mid = math.fsum(rest) / len(rest) if rest else 0.0  # (a level the rest shares is no shape)
                if b - a < _SPIKE_SPAN and (
                    not rest or math.fsum((v - mid) ** 2 for v in rest) / len(rest) < self.seasonal_score
                ):
                    return AnomalyType.SPIKE
            return AnomalyType.SEASONAL
        if seasonal and math.fsum(v * v for v in z) / len(z) >= self.seasonal_score:
            return AnomalyType.SEASONAL
        return AnomalyType.NORMAL

    # -- expectation --------------------------------------------------------------

    def expected_band(
        self, series: MetricSeries, start_index: int, end_index: int, *, width_sd: float = 3.0
    ) -> tuple[list[float], list[float]] | None:
        """What the history before ``start_index`` expects of ``series[start_index:end_index]``.

        ``(lower, upper)``, one value per point: the point's expectation
        (the same expectation a window there is judged against: the daily
        cycle, the period's profile or the recent median) less and plus
        ``width_sd`` times its spread (the spread of its hour of the day where
        the cycle has one). It reads at most ``history_points`` points before
        ``start_index`` and nothing from ``start_index`` on, so a band drawn
        around an anomaly is not pulled towards it. ``None`` with fewer than 2
        points of history (nothing to expect from). An edge past the float
        range (a metric near 1.8e308) is ``inf`` or ``-inf``.
        """
        if not isinstance(series, MetricSeries):
            fail_type(_OWNER, "series", "a MetricSeries", series)
        n = len(series)
        for name, value in (("start_index", start_index), ("end_index", end_index)):
            if isinstance(value, bool) or not isinstance(value, int):
                fail_type(_OWNER, name, "an int", value)
        if not 0 <= start_index < end_index <= n:
            raise ValueError(
                f"{_OWNER}: need 0 <= start_index < end_index <= len(series) = {n}, "
                f"got start_index={start_index}, end_index={end_index}"
            )
        width = check_real(_OWNER, "width_sd", width_sd)
        if width < 0.0:
            fail_value(_OWNER, "width_sd", "a finite real number >= 0", width_sd)
        # The history alone: the window's points stand as 0, so that not even the unit the
        # expectations are computed in (the largest |value| involved) depends on them.
        lo = max(0, start_index - self.history_points)
        vals = [*series.values._data[lo:start_index], *[0.0] * (end_index - start_index)]
        j = self._judge(vals, series.epoch_us[lo:end_index], start_index - lo, end_index - lo, None)
        if not j.has_base:
            return None
        lower: list[float] = []
        upper: list[float] = []
        for i, e in enumerate(j.expected):
            half = width * j.spread(i)
            lower.append(e - half)
            upper.append(e + half)
        return lower, upper

    # -- explanation --------------------------------------------------------------

    def explain(self, series: MetricSeries, result: AnomalyResult) -> str:
        """One plain sentence about ``result`` on ``series`` for a person on call.

        Says what moved and where (metric, node, cluster, tenant), what happened
        (``result.anomaly_label``), how far (in the metric's units and in sd of
        the baseline), when (the window's first and last point, UTC) and
        compared with what (the baseline level, or the value the seasonal cycle
        expected). The window is found by bisecting ``result.window_start`` and
        ``result.window_end`` in the series' timestamps and judged against the
        same bounded history as :meth:`classify`. A result whose ids differ
        from the series' is a ``ValueError`` naming both. Never raises for a
        valid series and its result, e.g.:

        "cpu_util on node n-17 (cluster c-2, tenant acme) spiked to 97.3, 8.1 sd
        above its baseline of 41.2, at 14:05–14:10 UTC on 2024-05-01."
        """
        if not isinstance(series, MetricSeries):
            fail_type(_OWNER, "series", "a MetricSeries", series)
        if not isinstance(result, AnomalyResult):
            fail_type(_OWNER, "result", "an AnomalyResult", result)
        ids = (result.tenant_id, result.cluster_id, result.node_id, result.metric_name)
        if ids != series.ids:
            raise ValueError(
                f"{_OWNER}: result must be a result of series {series.ids} (tenant_id, cluster_id, node_id, "
                f"metric_name), got a result of {ids}"
            )
        us = series.epoch_us
        start = bisect_left(us, (result.window_start - _EPOCH) // _ONE_US)
        end = bisect_right(us, (result.window_end - _EPOCH) // _ONE_US)
        if end <= start:
            when = _when(result.window_start, result.window_end, _seconds_apart(series))
            return (
                f"{_where(series)}: {result.anomaly_label.value} {when}, "
                "but the series has no points in that window."
            )
        return self._sentence(series, result, start, self._judge_span(series, start, end))

    def _sentence(self, series: MetricSeries, result: AnomalyResult, start: int, j: _Judgement) -> str:
        """The sentence of :meth:`explain` for the window at ``start``, judged as ``j``."""
        where = _where(series)
        kind = result.anomaly_label
        seconds = _seconds_apart(series, start, start + len(j.window))
        when = _when(result.window_start, result.window_end, seconds)
        lo, hi = min(j.window), max(j.window)
        apart = _digits_apart(lo, hi)  # (8.20001e9 to 8.20009e9 is not "between 8.2e9 and 8.2e9")
        seen = f"at {_num(lo)}" if lo == hi else f"between {_num(lo, apart)} and {_num(hi, apart)}"
        if not j.has_base:
            label = "nothing unusual" if kind is AnomalyType.NORMAL else f"a possible {kind.value}"
            return f"{where} was {seen} {when} ({label}); no baseline yet to compare with."
        cycle = _cycle(series, start, j.period, j.step)
        d = [v - e for v, e in zip(j.window, j.expected, strict=True)]
        i = max(range(len(d)), key=lambda k: abs(d[k]))
        if kind is AnomalyType.TREND:
            # Where the change stands: the latest point at least half as far out, the same way,
            # as the farthest (not the window's last point, which may be the recovery).
            i = max(k for k in range(len(d)) if d[k] * d[i] >= 0.5 * d[i] * d[i])
        value, expect = j.window[i], j.expected[i]
        up = value >= expect
        # As many digits as it takes to tell the value from the expectation (8.0004e9 against 8e9).
        digits = _digits_apart(value, expect)
        if j.period is not None:
            against = f"the {_num(expect, digits)} its {cycle} cycle expected there"
        else:
            against = f"its baseline of {_num(expect, digits)}"
        sd = j.spread(i)
        dist = _distance(value, expect, sd)
        if sd == 0.0 and value != expect:
            against += " (its history had no spread)"
        far = "exactly at" if value == expect else f"{dist} {'above' if up else 'below'}"
        close = "exactly at" if value == expect else f"within {dist} of"
        if (
            kind is not AnomalyType.NORMAL
            and j.kind is AnomalyType.NORMAL
            and (value == expect or abs(value - expect) < sd)
        ):
            # The engine's score flags the window, but its farthest point is within one spread of its
            # expectation (a window after an incident, still in its alarm; a shape only the engine's
            # model finds unusual): say what is true, not "spiked to" a value at its baseline.
            return (
                f"{where} was {seen} {when}, {close} {against}: flagged as part of a {kind.value} by the "
                "engine's score, not by its distance from there."
            )
        if kind is AnomalyType.SPIKE:
            verb = "spiked to" if up else "dropped to"
            return f"{where} {verb} {_num(value, digits)}, {far} {against}, {when}."
        if kind is AnomalyType.TREND:
            verb = "rose to" if up else "fell to"
            # "Stayed there" unless the window's last two points are back within a quarter of the way.
            tail = d[i + 1 :][-2:]
            if len(tail) == 2 and all(x * d[i] < 0.25 * d[i] * d[i] for x in tail):
                back = _num(j.window[-1], _digits_apart(j.window[-1], expect))
                return (
                    f"{where} {verb} {_num(value, digits)}, {far} {against}, {when}, "
                    f"and was back at {back} by its end."
                )
            return f"{where} {verb} {_num(value, digits)} and stayed there, {far} {against}, {when}."
        if kind is AnomalyType.SEASONAL:
            if j.period is None:
                at = _num(value, digits)
                return f"{where} departed from its usual pattern at {at}, {far} {against}, {when}."
            note = "; its history had no spread" if sd == 0.0 and value != expect else ""
            if j.shift is not None:
                ahead = "late" if j.shift > 0 else "early"
                cycle = f"{cycle} cycle, running {_duration(abs(j.shift))} {ahead}"
            else:
                cycle += " cycle"
            return (
                f"{where} broke its usual {cycle}: {_num(value, digits)} where "
                f"{_num(expect, digits)} was "
                f"expected ({far}{note}), while staying {seen}, {when}."
            )
        return f"{where} was normal {when}: {seen}, {close} {against}."


def _net_of_lag(resid: list[float], m: int) -> list[float]:
    """``resid`` less the lag :func:`_lag` would add before each (from the ``m`` residuals before it,
    at least 8; ``resid`` itself when no lag is ever found): the residuals a window's points have
    around their expectation, which the lag is part of."""
    m = max(m, 8)
    out: list[float] | None = None
    pos = neg = 0
    need = _LAG_SHARE * m
    for i, r in enumerate(resid):
        if i >= m:
            if pos >= need or neg >= need:
                if out is None:
                    out = resid[:i]
                out.append(r - _middle(sorted(resid[i - m : i])))
            elif out is not None:
                out.append(r)
            old = resid[i - m]
            pos -= old > 0.0
            neg -= old < 0.0
        elif out is not None:
            out.append(r)
        pos += r > 0.0
        neg += r < 0.0
    return resid if out is None else out


def _hour_spread(resid: Sequence[float], hours: Sequence[int], sd: float) -> tuple[float, ...] | None:
    """How loud the residuals (in time order) are at each local hour of the day, as a multiple of
    the day's spread ``sd`` (``None``: too few residuals for some hour, or no spread).

    An hour's loudness is read from the residuals' roughness, ``r[i] - (r[i-1] + r[i+1]) / 2``, at
    that hour and its two neighbours (robust sd): a slow departure (a first weekend day against
    weekdays, largest at its peak) cancels out of it. Its log against the mean log of the 24 hours
    is shrunk by the James-Stein weight ``max(0, 1 - within / between)`` (within: the variance that
    the hours' sampling alone gives such a log; between: its variance over the hours), so that
    noise as loud at every hour gets multipliers of 1, not 24 sampling errors. Bounded to [1/4, 4].
    The size stays the day's (``sd``): roughness misses noise that is correlated from one point
    to the next, and the spread of the residuals does not.
    """
    if sd <= 0.0:
        return None
    by_hour: list[list[float]] = [[] for _ in range(24)]
    for i in range(1, len(resid) - 1):
        by_hour[hours[i]].append(resid[i] - (resid[i - 1] + resid[i + 1]) * 0.5)
    logs: list[float] = []
    within = 0.0
    for h in range(24):
        pool = by_hour[h - 1] + by_hour[h] + by_hour[(h + 1) % 24]
        if len(pool) < _HOUR_POOL:
            return None
        spread = robust_sd(pool)  # (in units of the roughness, sqrt(1.5) sd: only the ratios count)
        if spread <= 0.0:
            return None
        logs.append(math.log(spread))
        within += _LOG_SD_VAR / len(pool)
    within /= 24
    mean = math.fsum(logs) / 24
    between = math.fsum((x - mean) ** 2 for x in logs) / 23
    w = max(0.0, 1.0 - within / between) if between > 0.0 else 0.0
    lo, hi = 1.0 / _HOUR_BOUND, _HOUR_BOUND
    return tuple(min(hi, max(lo, math.exp(w * (x - mean)))) for x in logs)


# The steps of a whole number of seconds that divide a day (1 s, 2 s, ..., 12 h, 1 day), in microseconds.
_DAY_STEPS_US = tuple(d * 1_000_000 for d in range(1, 86_401) if 86_400 % d == 0)


def _on_grid(us: Sequence[int], lo: int, end: int) -> Sequence[int]:
    """``us`` with ``us[lo:end]`` put on the grid of their step, if they jitter about one; else ``us``.

    Timestamps taken by an agent or a scraper wander a little about the
    minute they stand for (12:00:00.084, 12:01:00.291, 12:01:59.873): the
    steps are equal only on average, and every check here that reads a
    cycle's phase from the timestamps (same time of day on earlier days, the
    hour of the day, a whole number of steps) needs them equal. Points that
    are equal steps apart are left as they are, and so are points exactly on
    one grid with gaps between them. Otherwise the step is the whole number
    of seconds that divides a day nearest the span's median step (under a
    second: the median to the millisecond), and each point goes to the
    nearest multiple of it since the epoch, a function of the point alone (so
    that every window that reads a point reads it at the same time), provided
    that keeps them in order, whole steps apart (missed points leave gaps, as
    they do on exact timestamps), and each point's distance from its grid
    time varies by at most half a step across the span (jitter up to a
    quarter of a step either way). A series whose points fall about half a
    step off the epoch's grid (1-minute points near :30 s) is left as it is.
    The result is a list that holds the grid times on ``[lo, end)`` and the
    given timestamps before ``lo`` (nothing after ``end``).
    """
    n = end - lo
    if n < 3:
        return us
    first, last = us[lo], us[end - 1]
    given = us[lo + 1] - first
    regular = given > 0 and last - first == (n - 1) * given
    if regular and list(us[lo:end]) == list(range(first, last + 1, given)):
        return us
    span = us[lo:end]
    if given > 0 and not any([(u - first) % given for u in span]):
        return us  # (on one grid, with gaps: as it is)
    steps = sorted(b - a for a, b in pairwise(span))
    typical = steps[len(steps) // 2]
    if typical >= 1_000_000:  # (the whole-second step that divides a day nearest the median)
        k = bisect_left(_DAY_STEPS_US, typical)
        step = min(_DAY_STEPS_US[max(0, k - 1) : k + 1], key=lambda d: abs(d - typical))
    else:
        step = round(typical / 1_000) * 1_000
    if step <= 0:
        return us
    half = step // 2
    on = [(u + half) // step * step for u in span]
    if any(b <= a for a, b in pairwise(on)):
        return us
    off = [u - g for u, g in zip(span, on, strict=True)]
    spread = max(off) - min(off)
    if spread == 0 or spread > step // 2:
        return us
    return [*us[:lo], *on]


# Gaps of missed points up to this long (a day) are filled in the history a window is judged against.
_FILL_US = 86_400_000_000


def _filled(
    vals: Sequence[float], us: Sequence[int], lo: int, start: int, end: int
) -> tuple[list[float], list[int], list[int]] | None:
    """The history ``[lo, start)`` and the window ``[start, end)`` on one grid: ``(vals, us, at)``.

    A scraper that misses a point leaves a gap of whole steps, and every
    reading of a daily cycle here (the same time of day on earlier days, by
    index) needs the points one step apart: without this, one missed point
    in the history kept the cycle unread for as long as the history holds it.
    The step is the smallest between the window's points and the 16 before
    them. From the window back, each gap of whole steps up to ``_FILL_US``
    (a day) is filled with points on the straight line between its ends (a
    function of the gap's two ends alone, which every window whose history
    holds the gap reads: so a model found for one window is the one found
    for the next, as the memo needs); the history starts after the latest gap
    that is longer or not whole steps (a node down for two days: the cycle is
    read again from two days after it, as for a new series). ``at[i]`` is
    where point ``lo + i`` (up to ``end``) is in the result (-1: before the
    history's start). ``None`` (read as before) when there is nothing to
    fill, when the window itself is not one step apart, when the step does
    not divide a day, or when less than two days (and 8 steps) are left from
    the history's start: no daily cycle could be read, and the whole history
    serves the other readings better.
    """
    if start - lo < 3 or end <= start:
        return None
    tail = us[max(lo, start - 16) : end]
    step = min(b - a for a, b in pairwise(tail)) if len(tail) > 1 else 0
    if step <= 0 or _DAY_US % step:
        return None  # (no daily cycle to read on these steps: nothing gained)
    if us[end - 1] - us[lo] == (end - 1 - lo) * step:
        return None  # (one step apart from the ends, as every check here reads it: nothing missed)
    # The points that do not follow the one before by one step (a gap, or steps of another size).
    odd = [i for i in range(lo + 1, end) if us[i] - us[i - 1] != step]
    if not odd or odd[-1] >= start:
        return None  # (nothing to fill, or the window itself is not one step apart)
    first = lo
    for i in reversed(odd):
        gap = us[i] - us[i - 1]
        if gap % step or gap > _FILL_US + step:
            first = i
            break
    if us[start] - us[first] < 2 * _DAY_US + 8 * step:
        return None  # (too short for a daily cycle from the latest break: the history as it is)
    out_v: list[float] = []
    out_u: list[int] = []
    at = [-1] * (first - lo)
    prev = first
    for i in odd:
        if i <= first:
            continue
        at.extend(range(len(out_v), len(out_v) + i - prev))
        out_v.extend(vals[prev:i])
        out_u.extend(us[prev:i])
        missed = (us[i] - us[i - 1]) // step - 1
        a, b = vals[i - 1], vals[i]
        for m in range(1, missed + 1):
            f = m / (missed + 1)
            out_v.append(a * (1.0 - f) + b * f)  # (no overflow between two finite values)
            out_u.append(us[i - 1] + m * step)
        prev = i
    at.extend(range(len(out_v), len(out_v) + end - prev))
    out_v.extend(vals[prev:end])
    out_u.extend(us[prev:end])
    return out_v, out_u, at


def _timeline(
    vals: Sequence[float], us: Sequence[int], lo: int, start: int, end: int
) -> tuple[Sequence[float], Sequence[int], list[int] | None, int]:
    """The points of ``[lo, end)`` as a cycle is read from them: ``(vals, us, at, flags)``.

    Timestamps put on their grid (:func:`_on_grid`, flag ``_ON_GRID``), then
    the history's missed points filled (:func:`_filled`, flag ``_FILLED``;
    ``at`` maps the given indices from ``lo`` to the new ones, ``None`` where
    nothing was filled and the indices stand).
    """
    grid = _on_grid(us, lo, end)
    flags = _ON_GRID if grid is not us else 0
    view = _filled(vals, grid, lo, start, end)
    if view is None:
        return vals, grid, None, flags
    filled_v, filled_u, at = view
    return filled_v, filled_u, at, flags | _FILLED


def _regular(us: Sequence[int], lo: int, end: int, step: int) -> bool:
    """Whether the timestamps in ``[lo, end)`` are ``step`` apart (from their ends: they increase)."""
    return us[end - 1] - us[lo] == (end - 1 - lo) * step


def _where(series: MetricSeries) -> str:
    return (
        f"{series.metric_name} on node {series.node_id} "
        f"(cluster {series.cluster_id}, tenant {series.tenant_id})"
    )


def _both_ways(z: list[float], sign: float, far: float, spike_z: float) -> bool:
    """Whether a window ending ``sign``-wards of its expectation also went clearly the other way.

    Clearly: at least ``max(3, len(z) // 50)`` points ``far`` sd the other
    way (noise puts 0.6% of points 2.5 sd to one side), or one ``spike_z``
    sd away.
    """
    against = [v * sign for v in z if v * sign <= -far]
    return len(against) >= max(3, len(z) // 50) or (bool(against) and min(against) <= -spike_z)


def _same_phase(
    vals: Sequence[float],
    us: Sequence[int],
    j: int,
    period: int,
    lo: int,
    before: int,
    scale: float,
    utc_offset_minutes: int = 0,
) -> float | None:
    """The expected value of point ``j`` from the same time of day on previous days, over ``scale``.

    The median of the ``_SAME_PHASE`` (5) latest earlier days of the same kind
    (weekday, or Saturday/Sunday, in UTC plus ``utc_offset_minutes``) at index
    ``j - k * period`` (``k >= 1``), read only in ``[lo, before)`` and at most
    ``_TYPE_DAYS`` days back (the mean of the middle two of an even number).
    With fewer than 2 days of the same kind, the latest 5 days of any kind;
    ``None`` with fewer than 2 days. The steps are regular (``period`` points
    are a day), so the day of the week of index ``j - k * period`` is ``k``
    days before ``j``'s.
    """
    day = (us[j] + utc_offset_minutes * 60_000_000 - _MONDAY_US) // _DAY_US
    # The first day looked at is k days before j's: the latest one before `before`.
    k = 1 if j - period < before else (j - before) // period + 1
    i = j - k * period
    if i < lo:
        return None
    picks = _PICKS[day % 7 >= 5][(day - k) % 7][min(_TYPE_DAYS, (i - lo) // period + 1)]
    if not picks:
        return None
    got = [vals[i - m * period] / scale for m in picks]
    got.sort()
    return _middle(got)


def _picks(weekend: bool, first: int, days: int) -> tuple[int, ...]:
    """Which of ``days`` earlier days (0 the latest, on weekday ``first``, Monday 0) a point's
    expectation reads (:func:`_same_phase`): the latest ``_SAME_PHASE`` of the point's kind
    (``weekend`` or not), else the latest ``_SAME_PHASE`` of any kind; none with fewer than 2."""
    same = [m for m in range(days) if ((first - m) % 7 >= 5) is weekend][:_SAME_PHASE]
    got = same if len(same) >= 2 else list(range(min(days, _SAME_PHASE)))
    return tuple(got) if len(got) >= 2 else ()


# _PICKS[weekend][first][days]: _picks for every case (days up to _TYPE_DAYS).
_PICKS = tuple(
    tuple(tuple(_picks(weekend, first, days) for days in range(_TYPE_DAYS + 1)) for first in range(7))
    for weekend in (False, True)
)


def _middle(ordered: Sequence[float]) -> float:
    """The median of the sorted, non-empty ``ordered`` (halves summed: no overflow near the float limit)."""
    m = len(ordered)
    return ordered[(m - 1) // 2] / 2.0 + ordered[m // 2] / 2.0


def _lag(
    vals: Sequence[float], us: Sequence[int], period: int, lo: int, h: int, utc_offset_minutes: int
) -> float:
    """How far the series ran from its same-time-of-day expectation just before ``h``: the median of
    the last ``_LAG_POINTS`` residuals (each point against the days before it; 0 with fewer than 8).

    A metric that grows or drifts runs ahead of (or behind) the median of its previous days by about
    as many days' worth as that median reaches back; without this, every point of a window on such
    a metric looked raised, and a spike there read as a shift or a broken cycle.
    """
    resid = []
    for j in range(max(lo, h - _LAG_POINTS), h):
        e = _same_phase(vals, us, j, period, lo, j, 1.0, utc_offset_minutes)
        if e is not None:
            resid.append(vals[j] - e)
    if len(resid) < 8:
        return 0.0
    resid.sort()
    lag = _middle(resid)
    # Only a lag that most of those points share (noise alone puts about half on each side).
    same = sum(1 for r in resid if (r > 0.0) == (lag > 0.0) and r != 0.0)
    return lag if same >= _LAG_SHARE * len(resid) else 0.0


def _duration(span_us: int) -> str:
    """'about 5.5 hours' (to the half hour from 2 hours), 'about 1 hour 45 minutes' (to the quarter hour)."""
    hours = span_us / _HOUR_US
    quarters = max(1, round(hours * 4.0))
    if quarters >= 8:
        return f"about {_num(round(hours * 2.0) / 2.0)} hours"
    h, m = divmod(quarters * 15, 60)
    return "about " + " ".join(([f"{h} hour"] if h else []) + ([f"{m} minutes"] if m else []))


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
    """``values`` (any ordered iterable: a list, a numpy array, a pandas Series, a generator) as floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        fail_type(_OWNER, name, "a sequence of finite real numbers", values)
    check_ordered(_OWNER, name, values, "a sequence of finite real numbers")
    return [check_real(_OWNER, f"{name}[{i}]", v) for i, v in enumerate(values)]


def _digits_apart(a: float, b: float) -> int:
    """The significant digits (4 at least) at which ``a`` and ``b`` print differently, if they differ."""
    for digits in (4, 6, 8, 10, 12, 17):
        if a == b or _num(a, digits) != _num(b, digits):
            return digits
    return 17


def _num(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits (``-0`` shown as ``0``).

    General format, except that a number below ten million is written out
    (26000 and 14950, not 2.6e+04 and 1.495e+04: request counts and bytes read
    as numbers).
    """
    text = f"{x:.{digits}g}"
    if "e+" in text and abs(x) < 1e7:
        # 'g' went to an exponent because the number has more integer digits than ``digits``: round
        # to that many significant digits and write it out (exact below ten million).
        exponent = int(text.split("e+")[1])
        text = f"{round(x, digits - 1 - exponent):.0f}"
    return "0" if text == "-0" else text


def _cycle(series: MetricSeries, start: int, period: int | None, step: int | None = None) -> str:
    """'daily', '6-hour' for a period on regular timestamps before ``start``; else '24-point'.

    A period found within 10% of an hour, a day or a week is named after it
    (a daily cycle at 5 minutes estimated at 278 points is still 'daily', not
    '1390-minute').
    """
    if period is None:
        return ""
    if step is not None:  # (the steps the judgement read the daily cycle on: gaps filled)
        regular = True
    else:
        lo = max(0, start - period)
        us = _on_grid(series.epoch_us, lo, start + 1)
        step = (us[start] - us[lo]) // (start - lo) if start > lo else 0
        regular = step > 0 and list(us[lo : start + 1]) == list(range(us[lo], us[start] + 1, step))
    if regular:
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
    """'weekly', 'daily' or 'hourly' when ``span_us`` is within 10% of one of them, else ''.

    A period estimated from the data's autocorrelation is a few percent off the
    cycle it found (a daily cycle at 5-minute steps read as 278 points, 23.2
    hours): naming it "1390-minute" or "22-hour" would state a fact the metric
    does not have.
    """
    for unit_us, _unit, once in _UNITS[:3]:
        if abs(span_us - unit_us) <= 0.1 * unit_us:
            return once
    return ""


_UNITS = (
    (604_800_000_000, "week", "weekly"),
    (86_400_000_000, "day", "daily"),
    (3_600_000_000, "hour", "hourly"),
    (60_000_000, "minute", "1-minute"),
    (1_000_000, "second", "1-second"),
)


def _seconds_apart(series: MetricSeries, start: int = 0, end: int | None = None) -> bool:
    """Whether the points of ``[start, end)`` and the one before it are at least a second apart on average."""
    us = series.timestamps._data
    lo, hi = max(0, start - 1), len(us) if end is None else end
    return hi - lo > 1 and us[hi - 1] - us[lo] >= (hi - 1 - lo) * 1_000_000


def _to_second(t: datetime) -> datetime:
    """``t`` to the nearest second (down, within half a second of the last datetime)."""
    try:
        return (t + _HALF_SECOND).replace(microsecond=0)
    except OverflowError:
        return t.replace(microsecond=0)


_HALF_SECOND = timedelta(microseconds=500_000)


def _when(start: datetime, end: datetime, seconds: bool = False) -> str:
    """'at 14:05–14:10 UTC on 2024-05-01', or 'from 2024-05-01 23:50 to 2024-05-02 00:10 UTC'.

    Seconds are shown when either time has them, and fractions of a second (as many decimals
    as needed, up to 6) when either has them: 12:04:10.5–12:04:10.9, not 12:04:10–12:04:10.
    With ``seconds`` (a series whose points are a second or more apart) the times are told to the
    nearest second: the milliseconds by which an agent's timestamps wander about the minute say
    nothing of when something happened ("at 05:00–05:09", not "at 04:59:59.873–05:09:00.2867").
    """
    a, b = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    if seconds:
        a, b = _to_second(a), _to_second(b)
    fine = bool(a.microsecond or b.microsecond)
    fmt = "%H:%M:%S" if fine or a.second or b.second else "%H:%M"

    def clock(t: datetime) -> str:
        return f"{t:{fmt}}" + (f".{t.microsecond:06d}".rstrip("0").rstrip(".") if fine else "")

    if a.date() == b.date():
        if a == b:
            return f"at {clock(a)} UTC on {a.date().isoformat()}"
        return f"at {clock(a)}–{clock(b)} UTC on {a.date().isoformat()}"
    return f"from {a.date().isoformat()} {clock(a)} to {b.date().isoformat()} {clock(b)} UTC"
