"""The built-in ``novelty`` engine: multi-scale level novelty with alarm suppression, streaming.

Method
------
The detector asks one question per point: *has this series ever been at this
level, at this time scale?* The first ``warmup_points`` points score 0: the
first half fixes a grid, the second half learns the levels.

1. **Normalise.** The range ``[lo, hi]`` of the first ``warmup_points // 2``
   points fixes a grid of bins of width ``(hi - lo) / levels`` centred on the
   range (a flat start gets bins of ``1e-9`` of its level, or the smallest
   normal float at 0). A value's position is ``z = (x - centre) / width``
   bins; beyond ``c = 0.75 * levels`` bins from the centre the grid widens
   logarithmically, ``z -> c * (1 + ln(z / c))``, so bins far outside the
   learnt range grow in proportion to their distance (a heavy-tailed series
   does not open a new bin with every slightly higher peak) and any finite
   value, 1e-300 or 1e308, maps to a bounded position.
2. **Multi-scale levels.** For every scale ``s`` in ``scales`` (default 1, 4,
   16 and 64 points) the moving average of ``z`` over the last ``s`` points
   is quantised to a bin, in exact fixed-point integer arithmetic (no
   rounding drift, however long the stream), on the grid and on a second
   grid shifted by half a bin (so that whether a value is new does not hinge
   on where one grid's bin boundaries happen to fall). Scale 1 sees spikes;
   the longer scales see level shifts, changed daily shapes and changed
   spike density.
3. **Local deviation.** ``|z - m| / a`` with ``m`` and ``a`` exponentially
   weighted (about 32 points) local level and mean absolute deviation, on a
   log grid with two levels per doubling: the largest deviation level seen
   so far is the "visited range" of this channel.
4. **Novelty.** A level never visited before in a channel (each grid of
   each scale, and the deviation channel) is novel; its distance ``d`` (in
   bins) to the nearest visited level grades it. Beyond the visited range
   every new level counts (a record, however small). Inside it, a level
   next to a visited one is a *gap fill* and does not count: heavy-tailed
   and noisy series keep filling one-bin gaps (on the NAB design files
   gap fills raised over a quarter of the false alarms, and 5 of 54 first
   detections, each of which later alarms found too); an interior level
   counts from 2 bins away. A point's distance is the largest over the
   channels, 0 when every channel is at a visited level.
5. **Rate normalisation.** Series that keep finding new levels (noisy,
   drifting, heavy-tailed) are less surprising when they do it again: with
   ``k`` novel points and gap fills among the ``m`` points taken since the
   grid was fixed, the raw score ``d / (d + 1)`` is divided by
   ``1 + rho / 0.05`` where ``rho = (k + 1) / (m + 1000)``.
6. **Alarm suppression.** After a point scores ``v > 0``, the next
   ``rest_points`` points score 0 unless they exceed ``v`` (an escalation);
   an escalation starts a new rest period. One anomaly raises one alarm,
   whatever threshold the caller applies.

The raw point score is in [0, 1); the first ``warmup_points`` points score 0,
and so does the series' first day of time, at any step (``min_history_span``;
every level of a daily cycle is new on its first day).
The engine re-scales it so that ``evidence_threshold`` lands on the alarm
line 0.5 (:func:`~backend.analytics.scoring.raw_to_unit`, strictly
increasing); a window's score is the largest point score inside it and the
window is anomalous (label not NORMAL) exactly when that score is at or
above 0.5. The default ``evidence_threshold`` 0.37 is the threshold that the
Numenta Anomaly Benchmark's corpus-wide optimisation picks for ``combined``
(whose strongest channel this is) on the design files; for ``novelty`` alone
it picks a lower one (0.28), which buys earlier detections with more false
alarms (see BENCHMARKS.md).

This is a causal, deterministic, stdlib-only design in the family of the
detectors that lead the Numenta Anomaly Benchmark: quantised normalised
levels as in CAD OSE, multiple time scales and a rest period after an alarm
as in CAD OSE and ARTime, and the rate normalisation in the spirit of HTM's
anomaly likelihood.

References: M. Smirnov, "CAD: Contextual Anomaly Detector" (CAD OSE, 2016);
M. Hampton, "ARTimeNAB" (2021); S. Ahmad, A. Lavin, S. Purdy, Z. Agha,
"Unsupervised real-time anomaly detection for streaming data",
Neurocomputing 262 (2017).

Cost
----
O(len(scales)) work and O(1) memory per point after the warm-up, amortised
(the bins that can be visited are bounded by the logarithmic grid, and the
search for the nearest visited bin is capped at 64 bins). The core,
:class:`NoveltyScorer`, takes plain floats; :class:`NoveltyStream` takes
:class:`MetricSeries` chunks and returns the same results as
:meth:`NoveltyEngine.detect` on the whole series, whatever the chunking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar

from .._validate import brief, check_non_negative_int, check_positive_int, fail_type, fail_value
from ..scoring import PointScoringEngine, RescaledScorer
from ._grid import RATE_SCALE, SPAN, GridScorer, QuietStart, check_evidence_threshold, check_value, squeeze

__all__ = ["NoveltyEngine", "NoveltyScorer"]

_FIX = 64  # fixed-point resolution of z: 1/64 of a bin
_RATE_PRIOR_POINTS = 1000.0  # prior: one novel point per 1000 points
_MAX_SEARCH = 64  # longest search for the nearest visited bin inside the visited range
_DEV_ALPHA = 1.0 / 32.0  # smoothing of the local level and deviation (about 32 points)
_DEV_FLOOR = 1.0 / _FIX  # deviations below 1/64 bin are not told apart
_DEV_BINS_PER_OCTAVE = 2  # deviation levels: two per doubling
_DEV_LEARN = 32  # the deviation channel learns for this many values before it can be novel


def _check_scales(owner: str, scales: object) -> tuple[int, ...]:
    if not isinstance(scales, (tuple, list)):
        fail_type(owner, "scales", "a tuple of positive ints", scales)
    if not scales:
        fail_value(owner, "scales", "a non-empty tuple of positive ints", scales)
    out: list[int] = []
    for i, s in enumerate(scales):
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"{owner}.scales[{i}]: expected a positive int, got {brief(s)}")
        if s <= 0:
            raise ValueError(f"{owner}.scales[{i}]: expected a positive int, got {brief(s)}")
        if out and s <= out[-1]:
            raise ValueError(
                f"{owner}.scales[{i}]: expected strictly ascending scales, got {s!r} after {out[-1]!r}"
            )
        out.append(s)
    return tuple(out)


def _check_settings(
    owner: str, warmup_points: object, levels: object, scales: object, rest_points: object
) -> tuple[int, int, tuple[int, ...], int]:
    warm = check_positive_int(owner, "warmup_points", warmup_points)
    lev = check_positive_int(owner, "levels", levels)
    if lev > 1_000_000:  # as contextual's: a grid finer than this is no grid (and 10**400 is no float)
        fail_value(owner, "levels", "an int in [1, 1000000]", levels)
    scl = _check_scales(owner, scales)
    if warm < 2 or warm < scl[-1]:
        fail_value(owner, "warmup_points", f"an int >= 2 and >= the largest scale ({scl[-1]})", warmup_points)
    return warm, lev, scl, check_non_negative_int(owner, "rest_points", rest_points)


class NoveltyScorer(GridScorer):
    """The streaming core of ``novelty``: feed values one by one or in batches, get point scores.

    ``update(x)`` returns the score of ``x`` in [0, 1); ``update_many(xs)``
    returns the scores of ``xs`` and equals ``[update(x) for x in xs]``.
    Values must be finite real numbers (``ValueError``/``TypeError``
    otherwise, naming the index). Settings as in :class:`NoveltyEngine`.

    >>> scorer = NoveltyScorer(warmup_points=150)
    >>> scores = scorer.update_many([10.0 + (i % 5) for i in range(300)])
    >>> max(scores)
    0.0
    >>> scorer.update(100.0) > 0.4
    True
    """

    __slots__ = (
        "_bounds",
        "_cc",
        "_den",
        "_dev_max",
        "_events",
        "_grid",
        "_last",
        "_levels",
        "_mad",
        "_mid",
        "_mu",
        "_n",
        "_rest",
        "_ring",
        "_scales",
        "_seen",
        "_step",
        "_sums",
        "_vlast",
        "_warm",
        "last_distance",
        "warmup_points",
    )

    def __init__(
        self,
        *,
        warmup_points: int = 150,
        levels: int = 12,
        scales: Sequence[int] = (1, 4, 16, 64),
        rest_points: int = 100,
    ) -> None:
        self.warmup_points, self._levels, self._scales, self._rest = _check_settings(
            "NoveltyScorer", warmup_points, levels, scales, rest_points
        )
        self._grid = self.warmup_points // 2
        self._cc = SPAN * self._levels
        self._n = 0
        self._warm: list[float] | None = []
        self._mid = 0.0
        self._step = 1.0
        self._ring = [0] * self._scales[-1]
        self._sums = [0] * len(self._scales)
        self._den = [_FIX * s for s in self._scales]
        # Two grids per scale, the second shifted by half a bin: visited bins and their (lowest, highest).
        self._seen: list[set[int]] = [set() for _ in range(2 * len(self._scales))]
        self._bounds: list[tuple[int, int]] = [(0, 0)] * (2 * len(self._scales))
        self._mu = 0.0
        self._mad = 0.0
        self._dev_max = -1
        self._events = 0
        self._last = -(10**18)
        self._vlast = 0.0
        #: Novelty distance in bins of the last value taken (0 when not novel), largest over the channels.
        self.last_distance = 0

    def __repr__(self) -> str:
        return (
            f"NoveltyScorer(warmup_points={self.warmup_points}, levels={self._levels}, "
            f"scales={self._scales!r}, rest_points={self._rest})"
        )

    # -- internals -----------------------------------------------------------------

    def _run(self, values: Iterable[float]) -> list[float]:
        out: list[float] = []
        append = out.append
        index = 0
        it = iter(values)
        warm = self._warm
        if warm is not None:
            # Phase 1: the first warmup_points // 2 values only fix the grid.
            index = self._collect(warm, it, out, "NoveltyScorer", self._grid)
            if self._n < self._grid:
                return out
            self._mid, self._step = self._place_grid(warm)
            self._warm = None
        n = self._n
        # Phases 2 (learning, scores 0) and 3 (scoring). Locals for speed; state written back at the end.
        grid, warmup = self._grid, self.warmup_points
        mid, step, cc = self._mid, self._step, self._cc
        ring, sums, den, seen = self._ring, self._sums, self._den, self._seen
        bounds, scales = self._bounds, self._scales
        m = len(ring)
        channels = range(len(scales))
        mu, mad, dev_max = self._mu, self._mad, self._dev_max
        events, last, vlast, rest = self._events, self._last, self._vlast, self._rest
        log2, floor, isfinite = math.log2, math.floor, math.isfinite
        best = self.last_distance
        for x in it:
            if type(x) is not float or not isfinite(x):
                check_value("NoveltyScorer", x, index)
            index += 1
            z = (x - mid) / step
            if z > cc or z < -cc:
                z = squeeze(z, cc)
            zi = floor(z * _FIX)
            k = n - grid  # values since the grid was fixed
            best = 0
            fill = False
            for j in channels:
                s = scales[j]
                if k >= s:
                    total = sums[j] + zi - ring[(n - s) % m]
                    dj = den[j]
                else:
                    total = sums[j] + zi
                    dj = _FIX * (k + 1)
                sums[j] = total
                q = total // dj
                q2 = (total + (dj >> 1)) // dj  # the grid shifted by half a bin
                sj = seen[2 * j]
                sj2 = seen[2 * j + 1]
                if q not in sj or q2 not in sj2:
                    d1 = _distance(sj, q, bounds, 2 * j)
                    d2 = _distance(sj2, q2, bounds, 2 * j + 1)
                    if d1 < 0 or d2 < 0:
                        fill = True
                    best = max(best, d1, d2)
            ring[n % m] = zi
            # Deviation channel: the distance from the local level in local deviations, on a log grid.
            if k == 0:
                mu = z
            dz = abs(z - mu)
            level = floor(_DEV_BINS_PER_OCTAVE * log2(1.0 + dz / (mad + _DEV_FLOOR)))
            if k >= _DEV_LEARN and level > dev_max:
                if dev_max >= 0:
                    best = max(best, level - dev_max)
                dev_max = level
            mad += _DEV_ALPHA * (dz - mad)
            mu += _DEV_ALPHA * (z - mu)
            if n < warmup:
                if best or fill:
                    events += 1
                append(0.0)
            elif best:
                rho = (events + 1.0) / (k + _RATE_PRIOR_POINTS)
                events += 1
                raw = best / (best + 1.0) / (1.0 + rho / RATE_SCALE)
                if n - last <= rest and raw <= vlast:
                    append(0.0)
                else:
                    append(raw)
                    last = n
                    vlast = raw
            else:
                if fill:
                    events += 1  # not news, but evidence that the series still explores its levels
                append(0.0)
            n += 1
        self._n = n
        self._mu, self._mad, self._dev_max = mu, mad, dev_max
        self._events, self._last, self._vlast = events, last, vlast
        self.last_distance = best
        return out


def _distance(visited: set[int], q: int, bounds: list[tuple[int, int]], i: int) -> int:
    """Novelty distance in bins of ``q``: 0 if visited, -1 for a gap fill; records ``q`` as visited.

    Beyond the visited range the distance is the number of bins past its edge:
    any new record counts. Inside it, a bin next to a visited bin is a gap
    fill (-1: not novel, but the series is still exploring its levels), and
    any other unvisited bin counts its distance to the nearest visited bin
    (2 or more, capped at 64). ``bounds[i]`` holds the lowest and highest
    visited bin; the first bin ever is at distance 0.
    """
    if q in visited:
        return 0
    if not visited:
        d = 0
        bounds[i] = (q, q)
    else:
        lo, hi = bounds[i]
        if q > hi:
            d = q - hi
            bounds[i] = (lo, q)
        elif q < lo:
            d = lo - q
            bounds[i] = (q, hi)
        elif (q + 1) in visited or (q - 1) in visited:
            d = -1  # inside the visited range, next to a visited level: filling a gap, not new
        else:
            d = 2
            while d < _MAX_SEARCH and (q + d) not in visited and (q - d) not in visited:
                d += 1
    visited.add(q)
    return d


class NoveltyEngine(PointScoringEngine):
    """Multi-scale level novelty with alarm suppression; causal, streaming, deterministic.

    Keyword-only settings (all validated; unknown keywords raise ``TypeError``):

    - ``window_size_points`` (default 1), ``stride_points`` (default 1): the
      windows; a window's score is the largest point score inside it.
    - ``warmup_points`` (default 150, >= 2 and >= the largest scale): the
      first half fixes the grid, the second half learns the levels; these
      points score 0.
    - ``levels`` (default 12): bins across the range of the first
      ``warmup_points // 2`` points.
    - ``scales`` (default ``(1, 4, 16, 64)``): strictly ascending moving-average
      lengths, in points.
    - ``rest_points`` (default 100, >= 0): points after an alarm during which
      only a higher score is reported.
    - ``evidence_threshold`` (default 0.37, in (0, 1]): the raw novelty
      evidence that lands on the alarm line 0.5 (the scores are re-scaled so;
      a window is anomalous exactly when its score is at or above 0.5).
    - ``classify`` (default True): label and explain anomalous windows with the
      :class:`ExplanationClassifier` (else SPIKE/TREND from the window's shape).
    - ``classifier_history_points`` (default None: the classifier's default,
      12288): points before a window the classifier reads; a live stream
      buffers that many, so lower it to save memory per stream.

    >>> from datetime import datetime, timedelta, timezone
    >>> from backend.analytics import MetricSeries
    >>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> vals = [10.0 + (i % 7) * 0.5 for i in range(400)]
    >>> vals[300] = 60.0
    >>> s = MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(hours=i) for i in range(400)], vals)
    >>> [r.window_start - t0 for r in NoveltyEngine().detect(s) if r.is_anomalous]
    [datetime.timedelta(days=12, seconds=43200)]
    """

    name: ClassVar[str] = "novelty"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 1,
        stride_points: int = 1,
        warmup_points: int = 150,
        levels: int = 12,
        scales: Sequence[int] = (1, 4, 16, 64),
        rest_points: int = 100,
        evidence_threshold: float = 0.37,
        classify: bool = True,
        classifier_history_points: int | None = None,
    ) -> None:
        owner = "NoveltyEngine"
        self.warmup_points, self.levels, self.scales, self.rest_points = _check_settings(
            owner, warmup_points, levels, scales, rest_points
        )
        self.evidence_threshold = check_evidence_threshold(owner, evidence_threshold)
        super().__init__(
            window_size_points=window_size_points,
            stride_points=stride_points,
            classify=classify,
            classifier_history_points=classifier_history_points,
        )

    def scorer(self) -> QuietStart:
        """A fresh scorer: :class:`NoveltyScorer` re-scaled to the 0.5 alarm line, quiet on day 0."""
        raw = NoveltyScorer(
            warmup_points=self.warmup_points,
            levels=self.levels,
            scales=self.scales,
            rest_points=self.rest_points,
        )
        return QuietStart(RescaledScorer(raw, self.evidence_threshold))
