"""The built-in ``zscore`` engine: each window against a trailing baseline, streaming.

Method
------
Windows of ``window_size_points`` points advance by ``stride_points`` (as
:class:`~backend.analytics.windows.SlidingWindowExtractor` cuts them). The
baseline of the window that starts at index ``s`` is the ``baseline_points``
points immediately before it, ``[s - baseline_points, s)`` (fewer at the start
of a series; a window whose baseline has fewer than ``min_baseline_points``
points gets no result). With baseline mean ``mu`` and standard deviation
``sd``, the window's deviation is the largest distance of any of its points
from ``mu``, in baseline standard deviations::

    z = max(|x - mu| for x in window) / max(sd, 1e-12 * |mu|)

and its score is the monotone map ``score = z / (z + threshold)`` into
[0, 1): 0 for a window exactly at the baseline mean, 0.5 at ``z ==
threshold``, tending to 1 as ``z`` grows (exactly 1.0 when ``sd`` and ``mu``
are both 0 and the window moved). A window is anomalous, and its label not
NORMAL, exactly when ``z >= threshold``, that is ``score >= 0.5``. The floor
``1e-12 * |mu|`` keeps the score of a constant-then-jump series finite.

``magnitude = d / (d + max(|mu|, sd))`` with ``d`` the largest deviation in
the metric's units: 0.5 means the window moved by as much as the baseline
level (or its spread, for a level near zero).

Labels of anomalous windows come from the
:class:`~backend.analytics.explain.ExplanationClassifier` (``classify=True``,
the default); when it judges the window NORMAL, or with ``classify=False``,
the label is TREND if the deviation keeps its sign and lasts to the window's
last point, else SPIKE.

Cost and numerics
-----------------
Streaming, O(1) amortised work per point: the baseline is held as running
sums ``S1 = sum(x - K)`` and ``S2 = sum((x - K)**2)`` that gain and lose
points as windows advance, shifted by ``K``, which is re-centred on the
baseline mean (with an exact ``math.fsum`` recomputation) after every
``baseline_points`` updates. The shift keeps the variance accurate for
values around 1e9 with a standard deviation of 1e-2 (catastrophic
cancellation would otherwise wipe it out); the periodic recomputation bounds
the drift of rounding errors. Where the fast path cannot be trusted (magnitudes beyond about
1e±140, where squares overflow or underflow), that window is recomputed
exactly from power-of-two-scaled values.

Window maxima and minima are read with C-level ``max``/``min`` over the
window when windows advance by at least a quarter of their length (at most 4
reads per point), and from monotonic deques (O(1) amortised per point) for
denser overlaps.

The engine is causal: a window's result depends only on points up to its
end. :class:`ZScoreStream` takes points as they arrive and yields the same
results as :meth:`ZScoreEngine.detect` on the whole series.

References: B. P. Welford (1962), "Note on a method for calculating corrected
sums of squares and products"; T. F. Chan, G. H. Golub, R. J. LeVeque (1983),
"Algorithms for computing the sample variance" (shifted sums).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from itertools import repeat
from operator import mul, sub
from typing import ClassVar

from .._kinds import AnomalyType
from .._validate import check_bool, check_positive_int, check_real, fail_type, fail_value
from ..engine import AnomalyDetectionEngine
from ..explain import ExplanationClassifier
from ..types import AnomalyResult, MetricSeries, epoch_us_to_datetime
from ._stream import BufferedStream, make_classifier

__all__ = ["ZScoreEngine", "ZScoreStream"]

_REL_FLOOR = 1e-12
_ABS_FLOOR = 2.2250738585072014e-308  # smallest normal double
_SAFE_LO, _SAFE_HI = 1e-140, 1e140
# Periods whose same-phase median is the seasonal reference.
_SEASONS = 3
# Up to this many window-lengths per stride, window extremes are read by slicing.
_SLICE_RATIO = 4


class ZScoreEngine(AnomalyDetectionEngine):
    """Windows scored by their largest deviation from a trailing baseline, in standard deviations.

    Keyword-only settings (all validated; unknown keywords raise ``TypeError``):

    - ``window_size_points`` (default 5), ``stride_points`` (default 5): the windows.
    - ``baseline_points`` (default 2000): length of the trailing baseline.

    The defaults were chosen on the design two thirds of the NAB corpus only
    (see BENCHMARKS.md): short non-overlapping windows against a long
    baseline, so one incident raises few alarms and a slow daily cycle is part
    of the baseline's spread rather than an anomaly.
    - ``min_baseline_points`` (default 30, at most ``baseline_points``): windows
      with less history get no result.
    - ``threshold`` (default 4.0, > 0): ``z`` at which a window is anomalous
      (score 0.5).
    - ``classify`` (default True): label and explain anomalous windows with
      the :class:`ExplanationClassifier`.
    - ``classifier_history_points`` (default None: the classifier's own
      default, 2048): how many points before a window the classifier reads to
      label it; a live stream buffers that many points, so lower it to save
      memory per stream (at the cost of long seasonal periods).
    - ``seasonal_period_points`` (default None): when set to ``P``, the
      z-score is computed on the seasonal difference ``x[t] - m[t]``, ``m[t]``
      being the median of the same phase in the last three periods
      (``x[t - P]``, ``x[t - 2P]``, ``x[t - 3P]``), so a daily cycle is no
      anomaly but a shifted, missing or reshaped peak is, and an anomaly
      leaves no echo a period later. Windows and baselines start after three
      periods. Labels and sentences still describe the raw series.

    >>> from datetime import datetime, timedelta, timezone
    >>> from backend.analytics import MetricSeries
    >>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> vals = [10.0 + (i % 3) * 0.1 for i in range(60)]
    >>> vals[55] = 50.0
    >>> s = MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(minutes=i) for i in range(60)], vals)
    >>> engine = ZScoreEngine(window_size_points=5, stride_points=5, min_baseline_points=20)
    >>> [(r.window_start.minute, r.anomaly_label.value) for r in engine.detect(s) if r.is_anomalous]
    [(55, 'spike')]
    """

    name: ClassVar[str] = "zscore"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 5,
        stride_points: int = 5,
        baseline_points: int = 2000,
        min_baseline_points: int = 30,
        threshold: float = 4.0,
        classify: bool = True,
        seasonal_period_points: int | None = None,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "ZScoreEngine"
        self.window_size_points = check_positive_int(owner, "window_size_points", window_size_points)
        self.stride_points = check_positive_int(owner, "stride_points", stride_points)
        self.baseline_points = check_positive_int(owner, "baseline_points", baseline_points)
        self.min_baseline_points = check_positive_int(owner, "min_baseline_points", min_baseline_points)
        if self.min_baseline_points > self.baseline_points:
            fail_value(
                owner,
                "min_baseline_points",
                f"<= baseline_points ({self.baseline_points})",
                min_baseline_points,
            )
        if self.min_baseline_points < 2:
            fail_value(owner, "min_baseline_points", "at least 2 (a variance needs two points)", 1)
        self.threshold = check_real(owner, "threshold", threshold)
        if self.threshold <= 0.0:
            fail_value(owner, "threshold", "a positive number", threshold)
        self.classify = check_bool(owner, "classify", classify)
        self._classifier = make_classifier(owner, classify, classifier_history_points)
        if seasonal_period_points is not None:
            check_positive_int(owner, "seasonal_period_points", seasonal_period_points)
        self.seasonal_period_points = seasonal_period_points

    def __repr__(self) -> str:
        return (
            f"ZScoreEngine(window_size_points={self.window_size_points}, "
            f"stride_points={self.stride_points}, baseline_points={self.baseline_points}, "
            f"min_baseline_points={self.min_baseline_points}, threshold={self.threshold}, "
            f"classify={self.classify}, seasonal_period_points={self.seasonal_period_points})"
        )

    #: Score at or above which a window is anomalous (``z >= threshold``); see the module docs.
    score_threshold: ClassVar[float] = 0.5

    @property
    def history_points(self) -> int:
        """Points before a window's start that its result may depend on."""
        hist = self.baseline_points + _SEASONS * (self.seasonal_period_points or 0)
        if self._classifier is not None:
            hist = max(hist, self._classifier.history_points)
        return hist

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score every window of ``time_series`` that has enough baseline; see the module docs."""
        if not isinstance(time_series, MetricSeries):
            fail_type("ZScoreEngine.detect", "time_series", "a MetricSeries", time_series)
        stream = ZScoreStream(self, *time_series.ids)
        return stream._feed(time_series, whole=True)

    def stream(self, tenant_id: str, cluster_id: str, node_id: str, metric_name: str) -> ZScoreStream:
        """An incremental detector for one live series with these ids."""
        return ZScoreStream(self, tenant_id, cluster_id, node_id, metric_name)

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One sentence about ``result`` (from the classifier; a short fallback without it)."""
        classifier = self._classifier or ExplanationClassifier()
        return classifier.explain(time_series, result)


class ZScoreStream(BufferedStream):
    """Incremental ``zscore`` detection for one series: feed points, get completed windows.

    ``update(chunk)`` takes a :class:`MetricSeries` chunk with the stream's ids
    whose first timestamp is later than every point seen so far, and returns
    the results of the windows that the chunk completes; ``push(timestamp,
    value)`` takes one point. The concatenation of all returned lists equals
    ``engine.detect`` on the concatenated series, whatever the chunking.
    Memory is bounded by the engine's ``history_points + window_size_points``.
    """

    _owner: ClassVar[str] = "ZScoreStream"

    def __init__(
        self, engine: ZScoreEngine, tenant_id: str, cluster_id: str, node_id: str, metric_name: str
    ) -> None:
        super().__init__(tenant_id, cluster_id, node_id, metric_name)
        self._engine = engine
        self._w = engine.window_size_points
        self._stride = engine.stride_points
        self._b = engine.baseline_points
        self._keep = engine.history_points
        self._maxq: deque[int] = deque()
        self._minq: deque[int] = deque()
        # The values the z-score reads: the raw values, or their seasonal differences.
        self._p = engine.seasonal_period_points or 0
        self._p_start = _SEASONS * self._p  # first point with a seasonal reference
        self._diff: list[float] = []
        self._zvals: list[float] = self._diff if self._p else self._vals
        # Running baseline over absolute indices [self._b_lo, self._b_hi), shifted by self._k.
        self._b_lo = 0
        self._b_hi = 0
        self._k = 0.0
        self._s1 = 0.0
        self._s2 = 0.0
        self._ops = 0

    def _window_points(self) -> int:
        return self._w

    # -- internals -----------------------------------------------------------------

    def _feed(self, chunk: MetricSeries, *, whole: bool) -> list[AnomalyResult]:
        new_vals = chunk.values.tolist()
        if not new_vals:
            return []
        self._us.extend(chunk.timestamps._data)
        self._vals.extend(new_vals)
        w, stride = self._w, self._stride
        base = self._base
        n0, n1 = self._n, self._n + len(new_vals)
        if self._p:
            self._extend_differences(n0, n1)
        vals = self._zvals
        next_end = self._next_start + w - 1
        out: list[AnomalyResult] = []
        if w <= _SLICE_RATIO * stride:
            # Windows advance by at least w / _SLICE_RATIO points: reading each window's
            # extremes with C-level max/min costs at most _SLICE_RATIO reads per point.
            while next_end < n1:
                lo = next_end + 1 - w - base
                seg = vals[lo : lo + w]
                result = self._window_done(next_end + 1 - w, max(seg), min(seg))
                if result is not None:
                    out.append(result)
                next_end += stride
        else:
            # Dense overlapping windows: monotonic deques give every window's extremes
            # in O(1) amortised work per point.
            maxq, minq = self._maxq, self._minq
            for i in range(n0, n1):
                x = vals[i - base]
                while maxq and vals[maxq[-1] - base] <= x:
                    maxq.pop()
                maxq.append(i)
                if maxq[0] <= i - w:
                    maxq.popleft()
                while minq and vals[minq[-1] - base] >= x:
                    minq.pop()
                minq.append(i)
                if minq[0] <= i - w:
                    minq.popleft()
                if i == next_end:
                    result = self._window_done(i + 1 - w, vals[maxq[0] - base], vals[minq[0] - base])
                    if result is not None:
                        out.append(result)
                    next_end += stride
        self._n = n1
        self._next_start = next_end - w + 1
        if not whole:
            self._trim()
        return out

    def _trim(self) -> None:
        """Drop buffered points no future window or baseline can need (amortised O(1))."""
        need_from = min(self._next_start - self._keep, self._b_lo - self._p_start)
        if self._p:
            self._drop_before(need_from, self._diff)
        else:
            self._drop_before(need_from)

    def _extend_differences(self, n0: int, n1: int) -> None:
        """Append the half seasonal difference for the new points ``n0 <= i < n1``.

        The reference is the median of the same phase in the last
        ``_SEASONS`` periods, ``median(x[i - P], x[i - 2P], x[i - 3P])``: one
        odd period (an anomaly a period ago) does not move it, so an anomaly
        leaves no echo one period later. Halving first keeps the difference of
        two values near +-1e308 finite; z-scores and magnitudes are ratios, so
        the factor 1/2 changes nothing else. Points before ``_SEASONS``
        periods get 0.0, never read (windows and baselines start later).
        """
        vals, base, p = self._vals, self._base, self._p
        start = _SEASONS * p
        diff = self._diff
        for i in range(n0, n1):
            if i < start:
                diff.append(0.0)
                continue
            a, b, c = vals[i - p - base], vals[i - 2 * p - base], vals[i - 3 * p - base]
            ref = max(min(a, b), min(max(a, b), c))
            diff.append(vals[i - base] * 0.5 - ref * 0.5)

    def _move_baseline(self, lo: int, hi: int) -> None:
        """Slide the running baseline to absolute indices ``[lo, hi)`` (both only move forward)."""
        vals, base, k = self._zvals, self._base, self._k
        s1, s2 = self._s1, self._s2
        if lo >= self._b_hi or self._ops >= self._b or not math.isfinite(s2):
            # Disjoint from the old range, time to re-centre, or poisoned by overflow:
            # recompute exactly (non-finite sums send windows to the exact scaled path).
            seg = vals[lo - base : hi - base]
            k = _safe_fsum(seg) / len(seg)
            if math.isfinite(k):
                s1 = _safe_fsum([v - k for v in seg])
                s2 = _safe_fsum([(v - k) * (v - k) for v in seg])
            else:
                k, s1, s2 = 0.0, math.nan, math.nan
            self._ops = 0
        else:
            # C-level loops: d = x - K for the points entering and leaving the baseline.
            added = list(map(sub, vals[self._b_hi - base : hi - base], repeat(k)))
            removed = list(map(sub, vals[self._b_lo - base : lo - base], repeat(k)))
            s1 += sum(added) - sum(removed)
            s2 += sum(map(mul, added, added)) - sum(map(mul, removed, removed))
            self._ops += len(added) + len(removed)
        self._b_lo, self._b_hi, self._k, self._s1, self._s2 = lo, hi, k, s1, s2

    def _window_done(self, start: int, hi_val: float, lo_val: float) -> AnomalyResult | None:
        engine = self._engine
        if start < self._p_start:
            return None  # no seasonal reference yet
        b_lo = max(self._p_start, start - self._b)
        count = start - b_lo
        if count < engine.min_baseline_points:
            return None
        self._move_baseline(b_lo, start)
        mu = self._k + self._s1 / count
        m1 = self._s1 / count
        var = self._s2 / count - m1 * m1
        sd = math.sqrt(var) if var > 0.0 else 0.0
        scale = max(abs(mu), sd)
        if (
            math.isfinite(mu)
            and math.isfinite(sd)
            and _SAFE_LO < scale < _SAFE_HI
            and math.isfinite(hi_val - lo_val)
        ):
            # Deviations in shifted coordinates: (x - K) is exact for x near K, so a
            # 1e9-level series keeps the precision of its small deviations.
            up = (hi_val - self._k) - m1
            down = m1 - (lo_val - self._k)
            dev = max(up, down, 0.0)
            side_up = up >= down
        else:
            seg = self._zvals[b_lo - self._base : start + self._w - self._base]
            mu_s, sd_s, dev, side_up = _exact_stats(seg, count)
            mu, sd, scale = mu_s, sd_s, max(abs(mu_s), sd_s)
        floor = max(sd, _REL_FLOOR * abs(mu), _ABS_FLOOR)
        if dev == 0.0:
            z = 0.0
        elif sd == 0.0 and mu == 0.0:
            z = math.inf
        else:
            z = dev / floor
        thr = engine.threshold
        score = 1.0 if math.isinf(z) else z / (z + thr)
        magnitude = 0.0 if dev == 0.0 else 1.0 / (1.0 + (scale / dev if scale else 0.0))
        anomalous = z >= thr
        base = self._base
        end = start + self._w
        t_start = epoch_us_to_datetime(self._us[start - base])
        t_end = epoch_us_to_datetime(self._us[end - 1 - base])
        label = AnomalyType.NORMAL
        if anomalous:
            window_vals = self._zvals[start - base : end - base]
            label = _fallback_label(window_vals, mu, sd, thr, side_up)
        if not 0.0 <= score <= 1.0 or not 0.0 <= magnitude <= 1.0:  # pragma: no cover - invariant
            raise ArithmeticError(f"zscore: internal invariant broken (score={score}, magnitude={magnitude})")
        result = AnomalyResult._trusted(self._ids, t_start, t_end, score, label, magnitude, None)
        classifier = engine._classifier
        if anomalous and classifier is not None:
            return self._label(classifier, start, result, label)
        return result


def _safe_fsum(values: list[float]) -> float:
    """``math.fsum``, or nan where the exact sum overflows a double (caller takes the exact path)."""
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):
        return math.nan


def _exact_stats(seg: list[float], count: int) -> tuple[float, float, float, bool]:
    """Baseline mean/sd and window deviation computed on power-of-two-scaled values (exact path)."""
    biggest = max(abs(v) for v in seg)
    if biggest == 0.0:
        return 0.0, 0.0, 0.0, True
    exp = math.frexp(biggest)[1]
    scaled = [math.ldexp(v, -exp) for v in seg]
    base, window = scaled[:count], scaled[count:]
    mu = math.fsum(base) / count
    var = math.fsum([(v - mu) * (v - mu) for v in base]) / count
    sd = math.sqrt(var)
    up, down = max(window) - mu, mu - min(window)
    dev = max(up, down, 0.0)
    # Report in the metric's units where representable; ratios are what matter.
    factor = math.ldexp(1.0, exp) if exp < 1000 else math.inf
    if math.isfinite(factor):
        mu_u, sd_u, dev_u = mu * factor, sd * factor, dev * factor
        if all(map(math.isfinite, (mu_u, sd_u, dev_u))):
            return mu_u, sd_u, dev_u, up >= down
    return mu, sd, dev, up >= down


def _fallback_label(window: Iterable[float], mu: float, sd: float, thr: float, side_up: bool) -> AnomalyType:
    """TREND if the deviation holds its sign over the window's last points, else SPIKE.

    "Far" means beyond half the threshold on the side of the largest
    deviation. A trailing run of far points of at least ``max(2, ceil(w / 4))``
    is a change that persists to the window's end (a ramp or level shift);
    anything shorter is an excursion (a spike).
    """
    values = list(window)
    limit = max(sd, _REL_FLOOR * abs(mu), _ABS_FLOOR) * thr / 2.0
    far = [v - mu > limit for v in values] if side_up else [mu - v > limit for v in values]
    run = 0
    for flag in reversed(far):
        if not flag:
            break
        run += 1
    if run >= max(2, -(-len(far) // 4)):
        return AnomalyType.TREND
    return AnomalyType.SPIKE
