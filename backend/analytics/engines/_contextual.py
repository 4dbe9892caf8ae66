"""The streaming core of the ``contextual`` engine: plain floats in, point scores out.

:class:`ContextualScorer` holds O(1) state (a 256-value ring, five sets of
learnt contexts bounded by the logarithmic grid, a few counters) and does a
fixed amount of work per value: one division, a logarithm only for values
far outside the learnt range, integer arithmetic and five set look-ups. The
method is described in :mod:`backend.analytics.engines.contextual`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .._validate import check_positive_int, fail_type, fail_value
from ._grid import GridScorer, check_value

__all__ = ["ContextualScorer"]

_FIX = 64  # fixed-point resolution of a position: 1/64 of a bin (shift 6)
_SHIFT = 6
_SPAN = 0.75  # linear grid out to _SPAN * levels bins from the centre, logarithmic beyond
_Z_CAP = 1e300  # positions beyond this (overflowed divisions) are held here before the log
_RING = 256  # the longest scale, and the ring of recent positions (a power of two)
_MASK = _RING - 1
_CHANNELS = 5  # level at scales 1, 16, 64, 256, and the transition between consecutive levels
_RATE_PRIOR = 1000.0  # prior: one new context per channel per 1000 points
_RATE_SCALE = 0.05  # a channel's new-context rate at which its evidence is halved
_GRADE = 0.5  # extra weight per bin that a new level lies beyond a channel's learnt range
_GRADE_CAP = 4  # ... counted up to this many bins
# Per channel (level at scales 1, 16, 64, 256; transition): the point at which it goes live, and how
# many points its evidence takes to reach full weight (a channel that has just gone live knows little).
_LIVE_FROM = (0, 15, 63, 255, 1)
_RAMP = (1, 16, 64, 256, 1)


def check_settings(
    owner: str, warmup_points: object, levels: object, rest_points: object
) -> tuple[int, int, int]:
    """Validate the scorer's settings; return ``(warmup_points, levels, rest_points)``."""
    warm = check_positive_int(owner, "warmup_points", warmup_points)
    if warm < 2:
        fail_value(owner, "warmup_points", "an int >= 2", warmup_points)
    lev = check_positive_int(owner, "levels", levels)
    if lev > 1_000_000:
        fail_value(owner, "levels", "an int in [1, 1000000]", levels)
    if isinstance(rest_points, bool) or not isinstance(rest_points, int):
        fail_type(owner, "rest_points", "a non-negative int", rest_points)
    if rest_points < 0:
        fail_value(owner, "rest_points", "a non-negative int", rest_points)
    return warm, lev, rest_points


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
        "_warmup",
        "last_distance",
    )

    def __init__(self, *, warmup_points: int = 250, levels: int = 10, rest_points: int = 150) -> None:
        self._warmup, self._levels, self._rest = check_settings(
            "ContextualScorer", warmup_points, levels, rest_points
        )
        self._cc = _SPAN * self._levels
        # Largest |position| after the logarithmic squeeze; the offset keeps fixed-point positions positive,
        # and its extra half bin centres the bins on whole positions: the warm-up's extremes (+-levels/2)
        # lie mid-bin, half a bin from the nearest unseen level on either side.
        zmax = self._cc * (1.0 + math.log(_Z_CAP / self._cc))
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
        #: Largest distance in bins beyond a channel's learnt range of the last value taken (0 if none).
        self.last_distance = 0

    def __repr__(self) -> str:
        return (
            f"ContextualScorer(warmup_points={self._warmup}, levels={self._levels}, rest_points={self._rest})"
        )

    # -- internals -----------------------------------------------------------------

    def _run(self, values: Iterable[float], distances: list[int] | None) -> list[float]:
        out: list[float] = []
        index = 0
        it = iter(values)
        warm = self._warm
        if warm is not None:
            # The warm-up values score 0; once they are all in, they fix the grid and are learnt.
            n = self._n
            for x in it:
                check_value("ContextualScorer", x, index)
                index += 1
                warm.append(float(x))
                out.append(0.0)
                if distances is not None:
                    distances.append(0)
                n += 1
                if n == self._warmup:
                    break
            self._n = n
            if n < self._warmup:
                return out
            self._mid, self._step = self._place_grid(warm)
            self._warm = None
            self._n = 0  # the channels count their own points from here
            self._step_all(warm, None, None, 0, learn=True)
            self._n = n
        self._step_all(it, out, distances, index, learn=False)
        return out

    def _step_all(
        self,
        values: Iterable[float],
        out: list[float] | None,
        distances: list[int] | None,
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
        log, isfinite = math.log, math.isfinite
        best = 0
        for x in values:
            if type(x) is not float or not isfinite(x):
                check_value("ContextualScorer", x, index)
            index += 1
            z = (x - mid) / step
            if z > cc:
                z = cc * (1.0 + log((z if z < _Z_CAP else _Z_CAP) / cc))
            elif z < -cc:
                z = -cc * (1.0 + log((-z if -z < _Z_CAP else _Z_CAP) / cc))
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
                        if distances is not None:
                            distances.append(0)
                    best = 0
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
            best = 0
            rate_den = (n + _RATE_PRIOR) * _RATE_SCALE
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
                        best = max(best, d)
                evidence += w
            n += 1
            if append is None:
                continue
            if distances is not None:
                distances.append(best)
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
        if not learn and index:
            self.last_distance = best
