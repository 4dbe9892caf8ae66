"""The built-in ``contextual`` engine: learnt contexts over five channels, graded novelty, alarm suppression.

Method
------
The detector keeps, per channel, the set of *contexts* it has seen, and asks
of every point how many of its contexts are new, how rare new contexts are in
that channel, and how far beyond the learnt range a new level lies.

1. **Warm-up and grid.** The first ``warmup_points`` points (default 250)
   score 0. Their range ``[lo, hi]`` fixes a grid of bins of width
   ``(hi - lo) / levels`` centred on the range (a flat start gets bins of
   ``1e-9`` of its level, or the smallest normal float at 0). A value's
   position is ``z = (x - centre) / width`` bins; beyond ``c = 0.75 * levels``
   bins from the centre the grid widens logarithmically,
   ``z -> c * (1 + ln(z / c))``, so that any finite value (1e-300 or 1e308)
   maps to a bounded position and a heavy tail does not open a new bin with
   every slightly higher peak. A level is the position rounded to the
   nearest whole bin, so the warm-up's extremes (``+-levels / 2``) lie
   mid-bin, with half a bin of margin on either side. Positions are kept in
   exact fixed-point integers (1/64 bin), so moving sums never drift.
2. **Learning the warm-up.** Once the grid is fixed, the warm-up points are
   run through the channels in learning mode: their contexts are known
   before the first point is scored (the probationary learning of CAD OSE
   and ARTime, done with a fixed length because a stream has no known end).
3. **Channels (contexts).** For each point: the level (bin) of the value;
   the level of the moving average over the last 16, 64 and 256 points; and
   the *transition* (previous level, level), which CAD OSE would call a
   context of two facts. A channel's context is new when its set has never
   held it; it is then learnt.
4. **Evidence.** A new context in channel ``c`` weighs
   ``1 / (1 + r_c / 0.05)``, with ``r_c = k_c / (n + 1000)`` the channel's
   rate of new contexts so far (``k_c`` of ``n`` points, a prior of one per
   1000): a channel that keeps finding new contexts (noise, drift, a heavy
   tail) is trusted less when it does it again, while a channel that has been
   quiet for long speaks loudly. A new level ``d`` bins beyond the channel's
   learnt range weighs ``1 + 0.5 * min(d, 4)`` times more. The raw score
   ``e`` is the summed evidence divided by the five channels.
5. **Alarm suppression.** A point with evidence ``e > 0`` scores
   ``e / (1 + e)``; after a point scores, the next ``rest_points`` points
   (default 150, CAD OSE's "probationary period / 5") score 0 unless their
   evidence exceeds it (an escalation, which starts a new rest period). One
   anomaly raises one alarm, whatever threshold the caller applies, and the
   earliest evidence is the one reported.

The raw point score is in [0, 1). The series' first day of time scores 0,
at any step (``min_history_span``; every context of a daily cycle is new on
its first day). The engine re-scales the score so that
``evidence_threshold`` lands on the alarm line 0.5
(:func:`~backend.analytics.scoring.raw_to_unit`, strictly increasing); a
window's score is the largest point score inside it and the window is
anomalous (label not NORMAL) exactly when that score is at or above 0.5. The
default ``evidence_threshold`` 0.2268 is the threshold the Numenta Anomaly
Benchmark's corpus-wide optimisation picks (standard profile) for the default
settings on the design files (see BENCHMARKS.md).

References: M. Smirnov, "CAD: Contextual Anomaly Detector" (CAD OSE, 2016,
NAB ``nab/detectors/context_ose``); M. Hampton, "ARTimeNAB" (2021);
S. Ahmad, A. Lavin, S. Purdy, Z. Agha, "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 262 (2017).

Cost
----
O(1) work and memory per point, amortised: a 256-value ring, five
set look-ups, and sets bounded by the logarithmic grid. The warm-up is
learnt once (O(``warmup_points``)). The core, :class:`ContextualScorer`,
takes plain floats; ``ContextualEngine().stream(...)`` takes
:class:`MetricSeries` chunks and returns the same results as
:meth:`ContextualEngine.detect` on the whole series, whatever the chunking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar

from .._validate import check_non_negative_int, check_positive_int, fail_value
from ..scoring import PointScoringEngine, RescaledScorer
from ._grid import (
    RATE_SCALE,
    SPAN,
    Z_CAP,
    GridScorer,
    QuietStart,
    check_evidence_threshold,
    check_value,
    squeeze,
)

__all__ = ["DEFAULT_THRESHOLD", "ContextualEngine", "ContextualScorer"]

#: The default ``evidence_threshold``: NAB's standard-profile optimum for the defaults on the design files.
DEFAULT_THRESHOLD = 0.2268

_FIX = 64  # fixed-point resolution of a position: 1/64 of a bin (shift 6)
_SHIFT = 6
_RING = 256  # the longest scale, and the ring of recent positions (a power of two)
_MASK = _RING - 1
_CHANNELS = 5  # level at scales 1, 16, 64, 256, and the transition between consecutive levels
_RATE_PRIOR = 1000.0  # prior: one new context per channel per 1000 points
_GRADE = 0.5  # extra weight per bin that a new level lies beyond a channel's learnt range
_GRADE_CAP = 4  # ... counted up to this many bins
# Per channel (level at scales 1, 16, 64, 256; transition): the point at which it goes live, and how
# many points its evidence takes to reach full weight (a channel that has just gone live knows little).
_LIVE_FROM = (0, 15, 63, 255, 1)
_RAMP = (1, 16, 64, 256, 1)


def _check_settings(
    owner: str, warmup_points: object, levels: object, rest_points: object
) -> tuple[int, int, int]:
    """Validate the scorer's settings; return ``(warmup_points, levels, rest_points)``."""
    warm = check_positive_int(owner, "warmup_points", warmup_points)
    if warm < 2:
        fail_value(owner, "warmup_points", "an int >= 2", warmup_points)
    lev = check_positive_int(owner, "levels", levels)
    if lev > 1_000_000:
        fail_value(owner, "levels", "an int in [1, 1000000]", levels)
    return warm, lev, check_non_negative_int(owner, "rest_points", rest_points)


class ContextualScorer(GridScorer):
    """Contextual novelty over five channels with alarm suppression; feed values, get point scores.

    ``update(x)`` returns the score of ``x`` in [0, 1); ``update_many(xs)``
    returns the scores of ``xs`` and equals ``[update(x) for x in xs]``.
    Values must be finite real numbers (``ValueError``/``TypeError``
    otherwise, naming the index). The first ``warmup_points`` values score 0.

    >>> scorer = ContextualScorer()
    >>> max(scorer.update_many([10.0 + (i % 5) * 0.3 for i in range(600)])) < 0.01
    True
    >>> scorer.update(100.0) > 0.3
    True
    """

    __slots__ = (
        "_cc",
        "_counts",
        "_hi",
        "_last",
        "_levels",
        "_lo",
        "_mid",
        "_n",
        "_off",
        "_qprev",
        "_rest",
        "_ring",
        "_seen",
        "_span",
        "_started",
        "_step",
        "_sums",
        "_vlast",
        "_warm",
        "warmup_points",
    )

    def __init__(self, *, warmup_points: int = 250, levels: int = 10, rest_points: int = 150) -> None:
        self.warmup_points, self._levels, self._rest = _check_settings(
            "ContextualScorer", warmup_points, levels, rest_points
        )
        self._cc = SPAN * self._levels
        # Largest |position| after the logarithmic squeeze; the offset keeps fixed-point positions positive,
        # and its extra half bin centres the bins on whole positions: the warm-up's extremes (+-levels/2)
        # lie mid-bin, half a bin from the nearest unseen level on either side.
        zmax = self._cc * (1.0 + math.log(Z_CAP / self._cc))
        self._off = float(math.ceil(zmax) + 2) + 0.5
        self._span = 2 * (int(self._off) + 3)  # more than any level key: packs a transition in one int
        self._n = 0
        self._warm: list[float] | None = []
        self._mid = 0.0
        self._step = 1.0
        self._ring = [0] * _RING
        self._sums = [0, 0, 0]
        self._seen: list[set[int]] = [set() for _ in range(_CHANNELS)]
        self._counts = [0] * _CHANNELS
        self._started = [False] * _CHANNELS  # has the channel learnt its first context?
        self._lo = [0] * 4
        self._hi = [0] * 4
        self._qprev = -1
        self._last = -(10**18)
        self._vlast = 0.0

    def __repr__(self) -> str:
        return (
            f"ContextualScorer(warmup_points={self.warmup_points}, levels={self._levels}, "
            f"rest_points={self._rest})"
        )

    # -- internals -----------------------------------------------------------------

    def _run(self, values: Iterable[float]) -> list[float]:
        out: list[float] = []
        index = 0
        it = iter(values)
        warm = self._warm
        if warm is not None:
            # The warm-up values score 0; once they are all in, they fix the grid and are learnt.
            index = self._collect(warm, it, out, "ContextualScorer", self.warmup_points)
            if self._n < self.warmup_points:
                return out
            n = self._n
            self._mid, self._step = self._place_grid(warm)
            self._warm = None
            self._n = 0  # the channels count their own points from here
            self._step_all(warm, None, 0, learn=True)
            self._n = n
        self._step_all(it, out, index, learn=False)
        return out

    def _step_all(
        self,
        values: Iterable[float],
        out: list[float] | None,
        index: int,
        *,
        learn: bool,
    ) -> None:
        """Run values through the channels; when ``learn``, only learn (no scores, no alarms)."""
        append = out.append if out is not None else None
        n = self._n
        # Points taken by the channels: the warm-up values are learnt first, so j = n from there on.
        mid, step, cc, off = self._mid, self._step, self._cc, self._off
        ring, sums, seen, counts = self._ring, self._sums, self._seen, self._counts
        los, his = self._lo, self._hi
        span, qprev = self._span, self._qprev
        last, vlast, rest = self._last, self._vlast, self._rest
        s16, s64, s256 = sums
        seen1, seen16, seen64, seen256, seen_t = seen
        visited_before = self._started
        isfinite = math.isfinite
        for x in values:
            if type(x) is not float or not isfinite(x):
                check_value("ContextualScorer", x, index)
            index += 1
            z = (x - mid) / step
            if z > cc or z < -cc:
                z = squeeze(z, cc)
            zi = int((z + off) * _FIX)
            s16 += zi - ring[(n - 16) & _MASK]
            s64 += zi - ring[(n - 64) & _MASK]
            s256 += zi - ring[n & _MASK]
            ring[n & _MASK] = zi
            q1 = zi >> _SHIFT
            qt = qprev * span + q1
            if n >= _RING:
                # Steady state: every channel is live.
                q16 = s16 >> (_SHIFT + 4)
                q64 = s64 >> (_SHIFT + 6)
                q256 = s256 >> (_SHIFT + 8)
                if q1 in seen1 and q16 in seen16 and q64 in seen64 and q256 in seen256 and qt in seen_t:
                    qprev = q1
                    n += 1
                    if append is not None:
                        append(0.0)
                    continue
                keys = (q1, q16, q64, q256, qt)
            else:
                # Filling the ring: a channel is live once its scale is full (sums of exactly s points).
                keys = (
                    q1,
                    s16 >> (_SHIFT + 4) if n >= 15 else -1,
                    s64 >> (_SHIFT + 6) if n >= 63 else -1,
                    s256 >> (_SHIFT + 8) if n >= 255 else -1,
                    qt if n >= 1 else -1,
                )
            qprev = q1
            evidence = 0.0
            rate_den = (n + _RATE_PRIOR) * RATE_SCALE
            for c in range(_CHANNELS):
                q = keys[c]
                if q < 0:
                    continue
                visited = seen[c]
                if q in visited:
                    continue
                visited.add(q)
                if not visited_before[c]:
                    # A channel's first context is no news: nothing was learnt to compare it with.
                    visited_before[c] = True
                    if c < 4:
                        los[c] = his[c] = q
                    continue
                counts[c] += 1
                w = 1.0 / (1.0 + counts[c] / rate_den)
                age = n - _LIVE_FROM[c]
                if age < _RAMP[c]:
                    w *= age / _RAMP[c]
                if c < 4:
                    lo, hi = los[c], his[c]
                    d = 0
                    if q > hi:
                        d = q - hi
                        his[c] = q
                    elif q < lo:
                        d = lo - q
                        los[c] = q
                    if d:
                        w *= 1.0 + _GRADE * (d if d < _GRADE_CAP else _GRADE_CAP)
                evidence += w
            n += 1
            if append is None:
                continue
            raw = evidence / _CHANNELS
            if raw > 0.0 and (n - 1 - last > rest or raw > vlast):
                append(raw / (1.0 + raw))
                last = n - 1
                vlast = raw
            else:
                append(0.0)
        self._n = n
        self._sums = [s16, s64, s256]
        self._qprev = qprev
        self._last, self._vlast = last, vlast


class ContextualEngine(PointScoringEngine):
    """Contextual novelty over five channels with alarm suppression; causal, streaming, deterministic.

    Keyword-only settings (all validated; unknown keywords raise ``TypeError``):

    - ``window_size_points`` (default 1), ``stride_points`` (default 1): the
      windows; a window's score is the largest point score inside it.
    - ``warmup_points`` (default 250, >= 2): these points score 0; they fix
      the grid and are learnt.
    - ``levels`` (default 10, at most 1,000,000): bins across the range of
      the warm-up points.
    - ``rest_points`` (default 150, >= 0): points after an alarm during which
      only a higher score is reported.
    - ``evidence_threshold`` (default 0.2268, in (0, 1]): the raw evidence
      that lands on the alarm line 0.5 (a window is anomalous exactly when its
      score is at or above 0.5).
    - ``classify`` (default True): label and explain anomalous windows with the
      :class:`ExplanationClassifier` (else SPIKE/TREND from the window's shape).
    - ``classifier_history_points`` (default None: the classifier's default,
      12288): points before a window the classifier reads; a live stream
      buffers that many, so lower it to save memory per stream.

    >>> from datetime import datetime, timedelta, timezone
    >>> from backend.analytics import MetricSeries
    >>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> vals = [10.0 + (i % 7) * 0.5 for i in range(600)]
    >>> vals[500] = 60.0
    >>> s = MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(hours=i) for i in range(600)], vals)
    >>> [r.window_start - t0 for r in ContextualEngine().detect(s) if r.is_anomalous]
    [datetime.timedelta(days=20, seconds=72000)]
    """

    name: ClassVar[str] = "contextual"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 1,
        stride_points: int = 1,
        warmup_points: int = 250,
        levels: int = 10,
        rest_points: int = 150,
        evidence_threshold: float = DEFAULT_THRESHOLD,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "ContextualEngine"
        self.warmup_points, self.levels, self.rest_points = _check_settings(
            owner, warmup_points, levels, rest_points
        )
        self.evidence_threshold = check_evidence_threshold(owner, evidence_threshold)
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            classify=classify,
            classifier_history_points=classifier_history_points,
        )

    def scorer(self) -> QuietStart:
        """A fresh scorer: :class:`ContextualScorer` re-scaled to the 0.5 alarm line, quiet on day 0."""
        raw = ContextualScorer(
            warmup_points=self.warmup_points, levels=self.levels, rest_points=self.rest_points
        )
        return QuietStart(RescaledScorer(raw, self.evidence_threshold))
