"""Period detection and seasonal baselines for the explanation classifier (private).

Contents:

- :func:`detect_period`: the dominant period of a history, by the sample
  autocorrelation function (ACF), or ``None`` when the history is not periodic.
- :func:`baseline`: the expected values of the points that follow a history
  (seasonal profile when a period is given, local level otherwise) and the
  standard deviation of a new point around that expectation.

Everything works on plain lists of floats with C-speed inner loops
(``sum(map(operator.mul, a, b))``), so one call on 2048 points takes one to
three milliseconds in CPython (see ``benchmarks/bench_explain.py``); the cost
grows about linearly with the history, not with its square.

Method of :func:`detect_period`:

1. The ACF at lag ``L`` is ``mean(x[t] * x[t+L]) / mean(x[t]**2)`` of the
   linearly detrended history, whose excursions far beyond its bulk (past
   ramps, level shifts, bursts) are first pulled in to a wide fence so they
   cannot hide the cycle (Box & Jenkins, *Time Series Analysis*, ch. 2;
   the per-lag ``1/(n-L)`` normalisation keeps long lags from being
   penalised). Lags up to 32 are evaluated directly on the last 512 points;
   longer lags first on block means of 4 points (a 4x cheaper, smoothed ACF;
   block lag ``L`` on the last ``max(128, 8 L)`` blocks, eight cycles), then at
   full resolution around the strongest block peaks, the two shortest nearly
   as strong ones and the one nearest half the strongest lag (a block peak at
   the last lag is refined up to ``max_period``, with neighbours); lags up to
   256 on the last 1024 points, longer ones on the whole history. So a fixed
   number of lags is evaluated, each over at most the history: the search is
   linear in the history (for a fixed ``max_period``), never quadratic.
2. Candidates are local ACF maxima of at least ``min_strength`` that rise at
   least that much above the lowest ACF at a shorter lag (a slowly decaying
   ACF from drift or autocorrelated noise is not a cycle).
3. Each of the strongest candidate, the three shortest nearly as strong ones
   and the one nearest half the strongest lag is settled to the nearby lag
   where cycles differ least (vertex of a parabola through
   ``mean((x[t] - x[t-L])**2)``), because the ACF peak of a smooth cycle is
   flat and noisy. Up to 64 points the parabola goes through the 7 lags
   around the candidate; beyond, through 7 lags spread over +-4% of it, twice
   (a daily cycle at 5 minutes, 288 points, has a bowl tens of lags wide).
4. Among them, the shortest whose mean seasonal profile fits within sampling
   noise as well as the best one is the period: a multiple of the period fits
   as well as the period itself, a daily cycle inside a weekly one does not.
   A period above 64 points is then polished to the lag within 4 whose mean
   profile over the last cycles fits best (all pairs of cycles, not only
   neighbours, so an error of ``d`` points costs up to ``(k - 1) * d``).

A period is only reported with at least two full periods of history.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import add, mul, sub

__all__ = ["Baseline", "baseline", "cycles_used", "detect_period", "robust_sd"]

_DIRECT_MAX_LAG = 32
_DIRECT_POINTS = 512
_MID_POINTS = 1024  # lags up to _MID_MAX_LAG are refined and settled on the last 1024 points
_MID_MAX_LAG = 256  # (at least 4 cycles: enough, at half the cost of a 2048-point history)
_EDGE_SLACK = 0.05
_BLOCK_TAIL = 128  # blocks (512 points) at least behind a block-lag ACF
_BLOCK = 4  # (the block mean below is written out for 4 points)
_WIDE_FROM = 64  # longer candidate periods are settled by _settle_wide
_PROFILE_POINTS = 256  # a seasonal profile averages at least 8 cycles or this many points


def cycles_used(n: int, period: int) -> int:
    """How many of the last cycles of an ``n``-point history a profile of ``period`` averages."""
    return min(n // period, max(8, _PROFILE_POINTS // period))


_MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample -> its sd


def _detrended(values: Sequence[float]) -> list[float]:
    """``values`` minus their least-squares line (centred, so the mean is zero)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 3:
        return [v - mean for v in values]
    tc = (n - 1) / 2.0
    sxx = n * (n * n - 1) / 12.0
    sxy = math.fsum(map(mul, range(n), values)) - tc * mean * n
    slope = sxy / sxx
    # The centred times i - tc as floats counted up by 1.0 from -tc: exact (multiples
    # of 1/2 far below 2**53), so the same terms as from int times, only faster.
    centred = accumulate(repeat(1.0, n - 1), initial=-tc)
    return [v - mean - slope * u for v, u in zip(values, centred, strict=True)]


def _fenced(x: list[float]) -> list[float]:
    """``x`` with values beyond a wide fence around its bulk pulled in to the fence.

    Past anomalies in a history (a ramp or a level shift of many sd, a burst)
    can dominate its variance and hide the cycle from the ACF. The fence is
    the 5%-95% range of ``x`` (from every 4th value) widened by that range
    on both sides, so a cycle and its noise are never touched, only
    excursions well beyond what the cycle reaches. (``x`` itself when none is.)
    """
    sample = sorted(x[:: 4 if len(x) >= 256 else 1])
    m = len(sample)
    q05, q95 = sample[m // 20], sample[m - 1 - m // 20]
    width = q95 - q05
    lo, hi = q05 - width, q95 + width
    if width <= 0.0 or (min(x) >= lo and max(x) <= hi):
        return x
    return [lo if v < lo else hi if v > hi else v for v in x]


def _prefix_squares(x: list[float]) -> list[float]:
    """``[0, x[0]**2, x[0]**2 + x[1]**2, ...]`` (``len(x) + 1`` sums)."""
    return list(accumulate(map(mul, x, x), initial=0.0))


def _acf(x: list[float], lag: int, c0: float) -> float:
    n = len(x)
    return float(sum(map(mul, x, x[lag:]))) / ((n - lag) * c0)


def detect_period(
    values: Sequence[float], *, max_period: int = 336, min_strength: float = 0.3
) -> tuple[int, float] | None:
    """The dominant period of ``values`` in points and its ACF, or ``None``.

    Periods from 2 to ``min(max_period, len(values) // 2)`` points are
    considered, so a period is only reported with at least two full periods of
    history. ``min_strength`` in (0, 1) is the smallest ACF at the period (the
    share of the variance that repeats) accepted as periodic.
    """
    n = len(values)
    max_lag = min(max_period, n // 2)
    if max_lag < 2:
        return None
    x = _detrended(values)
    c0 = sum(map(mul, x, x)) / n
    scale = max(map(abs, values))
    if c0 <= (scale * 1e-12) ** 2 or c0 == 0.0:
        return None  # constant (to rounding) history: nothing repeats
    fenced = _fenced(x)
    if fenced is not x:  # (an untouched history keeps its c0)
        x = fenced
        c0 = sum(map(mul, x, x)) / n
    # Lags up to _MID_MAX_LAG are evaluated on the last _MID_POINTS points
    # (at least 4 cycles), longer ones on the whole history: the cost per lag
    # is bounded, whatever the history length.
    whole = _Tier(x, c0)
    mid = _Tier(x[-_MID_POINTS:]) if n > _MID_POINTS else whole

    def tier(lag: int) -> _Tier:
        return mid if lag <= _MID_MAX_LAG else whole

    r: dict[int, float] = {}
    coarse: dict[int, float] = {}  # block ACF at full-resolution lags, for the dip test
    # Short lags from the last 512 points only (16 or more cycles): half the cost.
    xs = x[-_DIRECT_POINTS:]
    cs0 = sum(map(mul, xs, xs)) / len(xs)
    for lag in range(1, min(max_lag, _DIRECT_MAX_LAG) + 2):
        if lag < n:
            r[lag] = _acf(xs, lag, cs0)
    if max_lag > _DIRECT_MAX_LAG:
        nb = n // _BLOCK
        off = n - nb * _BLOCK  # align blocks to the end of the history
        quads = [iter(x[off:])] * _BLOCK
        y = [(a + b + c + d) * 0.25 for a, b, c, d in zip(*quads, strict=False)]
        ybar = math.fsum(y) / nb
        y = [v - ybar for v in y]
        cy0 = sum(map(mul, y, y)) / nb
        if cy0 > 0.0:
            lo = _DIRECT_MAX_LAG // _BLOCK
            hi = min(max_lag // _BLOCK + 1, nb - 1)
            # Each block lag on the last 8 lags' worth of blocks (at least 128):
            # eight cycles for every lag, and a cost bounded by max_period.
            # (Block lags lo - 1 to hi: the block peaks stop at hi, and hi + 1 would
            # stand for full lags past max_lag, where no peak is sought.)
            sqy = _prefix_squares(y)
            ry = {}
            for lag in range(lo - 1, hi + 1):
                if 0 < lag < nb:
                    m = min(nb, max(_BLOCK_TAIL, 8 * lag))
                    cm = (sqy[nb] - sqy[nb - m]) / m
                    ry[lag] = _acf(y[nb - m :] if m < nb else y, lag, cm) if cm > 0.0 else 0.0
            coarse = {lag * _BLOCK: v for lag, v in ry.items()}
            block_peaks = []
            for lag in range(lo, hi + 1):
                here = ry[lag]
                if here < min_strength * 0.8 or here < ry.get(lag - 1, -2.0):
                    continue
                if lag == hi or here >= ry.get(lag + 1, -2.0):
                    block_peaks.append((lag, here))
            if block_peaks:
                # Refine only the strongest block peak and the two shortest nearly
                # as strong ones (the rest are multiples of these).
                strongest = max(block_peaks, key=lambda p: p[1])
                near = [lag for lag, v in block_peaks if v >= 0.8 * strongest[1]][:2]
                # And the peak nearest half the strongest lag: two weeks can
                # peak above one week, with daily peaks as strong in between.
                half = min(block_peaks, key=lambda p: abs(2 * p[0] - strongest[0]))[0]
                for lag in {strongest[0], half, *near}:
                    # (A block peak at the last block lag stands for a peak at
                    # max_lag: refine up to it, with neighbours on both sides.)
                    centre = min(lag * _BLOCK, max_lag)
                    for full in range(centre - _BLOCK - 1, centre + _BLOCK + 2):
                        if _DIRECT_MAX_LAG < full <= max_lag + 1 and full < n and full not in r:
                            r[full] = tier(full).acf(full)
    peaks: list[tuple[int, float]] = []
    running_min = r[1]
    for lag in sorted(r.keys() | coarse.keys()):
        here = r.get(lag, coarse.get(lag, 0.0))
        running_min = min(running_min, here)
        if lag not in r or lag < 2 or lag > max_lag or here < min_strength:
            continue
        left, right = r.get(lag - 1), r.get(lag + 1)
        if left is None or here < left:
            continue
        # At the longest lag allowed the ACF may still be rising by noise alone
        # (flat peak of a smooth cycle): tolerate a small rise there.
        if right is None or here < right - (_EDGE_SLACK if lag == max_lag else 0.0):
            continue
        # The ACF must have dipped between lag 0 and here: a slowly decaying ACF
        # (drift, strongly autocorrelated noise) is not a cycle.
        if here - running_min >= min_strength:
            peaks.append((lag, here))
    if not peaks:
        return None
    # The ACF peak of a smooth cycle is flat and noisy. Settle each peak to the
    # lag where cycles differ least (vertex of a parabola through the mean
    # squared difference of points one lag apart), then choose between the
    # fundamental and its multiples by how well a mean profile fits.
    peaks.sort(key=lambda p: -p[1])
    # The flat ACF peak of a long cycle has several noisy local maxima a few
    # lags apart: they are one candidate (the strongest), settled below.
    merged: list[tuple[int, float]] = []
    for lag, strength in peaks:
        if all(abs(lag - kept) > kept // 24 for kept, _ in merged):
            merged.append((lag, strength))
    peaks = merged
    # The strongest peak and the three shortest of those nearly as strong (the
    # fundamental is among them, even when a multiple happens to peak higher).
    top = peaks[0][1]
    near = sorted(lag for lag, strength in peaks if strength >= 0.8 * top)[:3]
    # Also the peak nearest half the strongest lag (a week, when two weeks peak
    # highest and the three shortest strong peaks are days).
    half = min(peaks, key=lambda p: abs(2 * p[0] - peaks[0][0]))[0]
    refined: list[tuple[float, int]] = []
    fits: dict[tuple[int, int], float] = {}  # (_polish re-reads the fit of its own candidate)
    for lag in sorted({peaks[0][0], half, *near}):
        t = tier(lag)
        cand = _settle_wide(t, lag, max_lag) if lag > _WIDE_FROM else _settle(t, lag, max_lag)
        refined.append((_fit(x, cand, cycles_used(n, cand), fits), cand))
    best_var, best_lag = min(refined)
    # A multiple of the period fits as well as the period itself, up to sampling
    # noise: take the shortest candidate within that noise (the relative sd of
    # a variance estimate with d degrees of freedom is sqrt(2/d); 4 of them
    # leave room for autocorrelated noise).
    dof = (cycles_used(n, best_lag) - 1) * best_lag
    tolerance = 1.0 + 4.0 * math.sqrt(2.0 / dof)
    for var, cand in sorted(refined, key=lambda vc: vc[1]):
        if var <= tolerance * best_var:
            period = _polish(x, cand, max_lag, fits) if cand > _WIDE_FROM else cand
            return period, r[period] if period in r else tier(period).acf(period)
    return None  # pragma: no cover - the best candidate always qualifies


def _polish(x: list[float], lag: int, max_lag: int, fits: dict[tuple[int, int], float]) -> int:
    """The lag within 4 of a long ``lag`` whose mean profile over the last cycles fits best.

    One lag's mean squared difference (``_settle_wide``) compares points one
    cycle apart; the profile fit compares every pair of the last ``k`` cycles,
    so a period off by ``d`` points misaligns cycles by up to ``(k - 1) * d``
    and the minimum is sharper. All lags are judged on the same number of
    cycles (the number that the longest lag looked at allows). ``fits`` holds
    the profile fits already computed (see :func:`_fit`).
    """
    n = len(x)
    k = cycles_used(n, min(lag + 4, max_lag))
    if k < 3:
        return lag

    def at(c: int) -> float:
        return _fit(x, c, k, fits) if 2 <= c <= max_lag and k * c <= n else math.inf

    best = min(range(lag - 2, lag + 3), key=at)
    while best != lag and abs(best - lag) < 4 and at(best + (best - lag) // abs(best - lag)) < at(best):
        best += (best - lag) // abs(best - lag)
    return best


class _Tier:
    """A stretch of the detrended history with its lagged products cached.

    ``acf(lag)`` and ``msd(lag)`` (``mean((x[t] - x[t - lag])**2)``) share the
    one dot product ``sum(x[t] * x[t + lag])``, computed once per lag. The
    mean square ``c0`` (of ``acf``) is computed on first use unless given.
    """

    __slots__ = ("_c0", "_dots", "_sq", "n", "x")

    def __init__(self, x: list[float], c0: float | None = None) -> None:
        self.x = x
        self.n = len(x)
        self._c0 = c0
        self._dots: dict[int, float] = {}
        self._sq: list[float] | None = None

    def dot(self, lag: int) -> float:
        got = self._dots.get(lag)
        if got is None:
            got = self._dots[lag] = float(sum(map(mul, self.x, self.x[lag:])))
        return got

    def acf(self, lag: int) -> float:
        if self._c0 is None:
            self._c0 = float(sum(map(mul, self.x, self.x))) / self.n
        return self.dot(lag) / ((self.n - lag) * self._c0)

    def msd(self, lag: int) -> float:
        if self._sq is None:
            self._sq = _prefix_squares(self.x)
        sq, n = self._sq, self.n
        return (sq[n] - sq[lag] + sq[n - lag] - 2.0 * self.dot(lag)) / (n - lag)


def _vertex(lags: list[int], d: list[float]) -> float | None:
    """Vertex of the least-squares parabola through ``(lags, d)``; ``None`` unless it opens upward."""
    m = len(lags)
    centre = math.fsum(lags) / m
    u = [c - centre for c in lags]
    s2 = math.fsum(v * v for v in u)
    s4 = math.fsum(v**4 for v in u)
    sd = math.fsum(d)
    sud = math.fsum(map(mul, u, d))
    su2d = math.fsum(v * v * w for v, w in zip(u, d, strict=True))
    det = m * s4 - s2 * s2
    if det <= 0.0 or s2 <= 0.0:
        return None
    curv = (m * su2d - s2 * sd) / det
    if curv <= 0.0:
        return None
    return centre - (sud / s2) / (2.0 * curv)


def _settle_wide(t: _Tier, lag: int, max_lag: int) -> int:
    """The period near a long ``lag``: vertex of a parabola through the bowl of ``_msd``, 7 lags wide.

    At long periods the bowl of ``mean((x[t] - x[t - c])**2)`` around the period
    is wide and flat (a smooth daily cycle at 5 minutes changes little from one
    lag to the next), so the noisy pointwise minimum of a few neighbouring lags
    misses the period by several points, and a profile averaged over ``k``
    cycles of a wrong period is smeared by ``k`` times that error. Seven lags
    spaced ``max(1, round(lag / 72))`` apart, ±4% of the lag, average that
    noise out; the fit is repeated once around its own vertex (a bowl sampled
    off-centre fits a biased parabola when it is not exactly quadratic).
    """
    n = t.n
    step = max(1, round(lag / 72))
    centre = lag
    for _ in range(2):
        grid = range(centre - 3 * step, centre + 3 * step + 1, step)
        lags = [c for c in grid if 2 <= c <= max_lag and c < n - 1]
        if len(lags) < 5:
            return centre
        d = [t.msd(c) for c in lags]
        v = _vertex(lags, d)
        if v is None or not lags[0] <= v <= lags[-1]:
            return lags[min(range(len(lags)), key=d.__getitem__)]
        if round(v) == centre:
            break
        centre = round(v)
    return centre


def _settle(t: _Tier, lag: int, max_lag: int) -> int:
    """The lag near ``lag`` (within 3) at which ``mean((x[t] - x[t - c])**2)`` is smallest.

    (``x`` is the stretch ``t`` of the history.) Near the period that mean is a
    smooth bowl plus noise, so the vertex of a least-squares parabola through
    7 lags beats the noisy pointwise minimum; for sharp shapes (a V rather than
    a bowl) the pointwise minimum is kept.
    """
    lags = [c for c in range(lag - 3, lag + 4) if 2 <= c <= max_lag and c < t.n - 1]
    d = [t.msd(c) for c in lags]
    best = lags[min(range(len(lags)), key=d.__getitem__)]
    if len(lags) < 5:
        return best
    # Least-squares parabola d ~ a + b*u + c*u**2 on u = lag - mean(lags).
    m = len(lags)
    u = [c - math.fsum(lags) / m for c in lags]
    s2 = math.fsum(v * v for v in u)
    s4 = math.fsum(v**4 for v in u)
    sd = math.fsum(d)
    sud = math.fsum(map(mul, u, d))
    su2d = math.fsum(v * v * w for v, w in zip(u, d, strict=True))
    det = m * s4 - s2 * s2
    if det <= 0.0:
        return best
    curv = (m * su2d - s2 * sd) / det
    slope = sud / s2
    if curv <= 0.0:
        return best
    vertex = round(lags[0] - u[0] - slope / (2.0 * curv))
    if vertex not in lags or abs(vertex - best) > 1:
        return best
    # Only a flat bottom (neighbour nearly as good) is a bowl; a V keeps its minimum.
    return vertex if d[lags.index(vertex)] <= 1.5 * min(d) else best


def _fit(x: list[float], period: int, cycles: int, fits: dict[tuple[int, int], float]) -> float:
    """``_profile_variance(x, period, cycles)``, kept in ``fits`` (one dict per history ``x``)."""
    got = fits.get((period, cycles))
    if got is None:
        got = fits[period, cycles] = _profile_variance(x, period, cycles)
    return got


def _profile_variance(x: list[float], period: int, cycles: int = 0) -> float:
    """Unbiased residual variance of ``x``'s last ``cycles`` cycles around their mean profile.

    ``cycles`` 0 (the default) means ``cycles_used(len(x), period)``.
    """
    n = len(x)
    k = cycles or cycles_used(n, period)
    if k < 2:
        return math.inf
    tail = x[n - k * period :]
    sums = tail[:period]
    for j in range(1, k):  # phase sums, one cycle at a time (C-level loops)
        sums = list(map(add, sums, tail[j * period : (j + 1) * period]))
    ss = float(sum(map(mul, tail, tail))) - float(sum(map(mul, sums, sums))) / k
    return max(ss, 0.0) / (k * period - period)


def _middle_deviation(s: list[float], med: float, i: int) -> float:
    """``sorted(abs(v - med) for v in s)[i]`` for sorted, finite ``s``, without sorting.

    The deviations of the values below ``med`` grow from ``med`` downwards (run
    ``A``), those of the rest from ``med`` upwards (run ``B``). The ``i + 1``
    smallest are the first ``a`` of ``A`` and the first ``i + 1 - a`` of ``B``
    for the least ``a`` whose next deviation in ``A`` is no smaller than the
    last one taken from ``B`` (found by bisection); the largest taken is the answer.
    """
    j = bisect_left(s, med)  # A: abs(s[j - 1 - a] - med) for a < j; B: abs(s[j + b] - med)
    want = i + 1
    lo, hi = max(0, want - (len(s) - j)), min(want, j)
    while lo < hi:
        a = (lo + hi) // 2
        if abs(s[j + want - a - 1] - med) > abs(s[j - 1 - a] - med):  # B[want - a - 1] > A[a]
            lo = a + 1
        else:
            hi = a
    b = want - lo
    if b == 0:
        return abs(s[j - lo] - med)
    if lo == 0:
        return abs(s[j + b - 1] - med)
    return max(abs(s[j - lo] - med), abs(s[j + b - 1] - med))


def robust_sd(values: Sequence[float]) -> float:
    """Standard deviation of ``values`` that ignores a few outliers (0 for < 2 values).

    A first estimate from the median absolute deviation (MAD * 1.4826) sets a
    fence at 4 of those sd around the median; the result is the ordinary sd of
    the values inside the fence (one-step trimmed estimate: as robust as the
    MAD against a few outliers, and about twice as efficient). When the MAD is
    0 (more than half the values equal) it is the plain sd of all values.
    """
    n = len(values)
    if n < 2:
        return 0.0
    s = sorted(values)
    med = (s[(n - 1) // 2] + s[n // 2]) / 2.0
    if math.isfinite(sum(s, 0.0)) and math.isfinite(med):
        # No nan or inf: s is in order, so the middle deviations come by bisection.
        # (A float sum: a huge total of ints overflows to inf instead of raising.)
        mad = (_middle_deviation(s, med, (n - 1) // 2) + _middle_deviation(s, med, n // 2)) / 2.0
    else:
        dev = sorted(map(abs, map(sub, s, repeat(med))))
        mad = (dev[(n - 1) // 2] + dev[n // 2]) / 2.0
    if mad > 0.0:
        # The values with abs(v - med) <= fence: a run of the sorted values (v - med
        # never decreases as v grows), found by bisection.
        fence = 4.0 * mad * _MAD_TO_SD

        def off(v: float) -> float:
            return v - med

        kept = s[bisect_left(s, -fence, key=off) : bisect_right(s, fence, key=off)]
    else:
        # More than half the values equal (quantised or mostly idle metrics): the
        # MAD says nothing, so fall back to the plain sd of all values.
        kept = s
    m = len(kept)
    if m < 2:
        return 0.0
    # (fsum is exact before its one rounding: the order of the values does not matter.)
    mean = math.fsum(kept) / m
    return math.sqrt(math.fsum(map(pow, map(sub, kept, repeat(mean)), repeat(2))) / (m - 1))


class Baseline:
    """What the next points were expected to be, and how much they vary.

    ``expected(i)`` is the expectation of the ``i``-th point after the history
    (``i`` from 0). ``noise`` is the sd of the history around its expectation
    and ``sd`` the sd of a new point around ``expected`` (``noise`` plus the
    error of the estimated expectation). ``period`` is the seasonal period in
    points (``None`` when not seasonal) and ``cycles`` how many periods the
    profile averages (0 when not seasonal). ``low``/``high`` bound the expected
    values over one period (both the level when not seasonal); ``level`` is
    the mean expected value.
    """

    __slots__ = ("cycles", "high", "level", "low", "noise", "period", "profile", "sd")

    def __init__(
        self, profile: list[float], sd: float, noise: float, period: int | None, cycles: int
    ) -> None:
        self.profile = profile
        self.sd = sd
        self.noise = noise
        self.period = period
        self.cycles = cycles
        self.level = math.fsum(profile) / len(profile)
        self.low = min(profile)
        self.high = max(profile)

    def expected(self, i: int) -> float:
        """Expected value of the ``i``-th point after the history."""
        return self.profile[i % len(self.profile)]


def baseline(history: Sequence[float], period: int | None) -> Baseline:
    """The baseline of the points that follow ``history`` (at least 2 values).

    With a ``period`` (and at least two periods of history), the expectation
    is the mean of the same phase over the last
    ``k = cycles_used(len(history), period)`` cycles, shifted to the mean
    level of the last cycle (so it follows slow drift), and kept within the
    range those cycles took (a shift after a small last run must not expect an
    idle metric below 0). ``noise`` is the robust
    sd of those cycles around the profile, inflated by ``sqrt(k / (k - 1))``
    because the profile was fitted to them; ``sd`` adds the profile's own error
    (``noise * sqrt(1 + 1 / k)``). Without a period, the expectation is the
    median of the last 32 points and ``noise == sd`` is the robust sd of the
    last 256 points.
    """
    n = len(history)
    if period is not None and n >= 2 * period:
        k = cycles_used(n, period)
        tail = history[n - k * period :]
        cycles = [tail[j * period : (j + 1) * period] for j in range(k)]
        prof = [math.fsum(phase) / k for phase in zip(*cycles, strict=True)]
        shift = math.fsum(history[n - period :]) / period - math.fsum(prof) / period
        # Shifted to the last cycle's level, and kept within what the history ever took (a shift
        # must not expect an idle metric below 0, or a CPU above 100).
        low, high = min(tail), max(tail)
        prof = [min(max(p + shift, low), high) for p in prof]
        resid = list(map(sub, tail, prof * k))  # (tail is k whole cycles)
        noise = robust_sd(resid) * math.sqrt(k / (k - 1))
        return Baseline(prof, noise * math.sqrt(1.0 + 1.0 / k), noise, period, k)
    recent = sorted(history[-32:])
    m = len(recent)
    level = (recent[(m - 1) // 2] + recent[m // 2]) / 2.0
    sd = robust_sd(history[-256:])
    return Baseline([level], sd, sd, None, 0)
