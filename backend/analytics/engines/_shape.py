"""A streaming shape scorer: has the series ever traced this coarse shape? Plain floats in, point scores out.

Method
------
:class:`ShapeScorer` asks, each time a block of ``block_points`` values is
complete, whether the last ``blocks`` block means, quantised on a fixed grid,
form a sequence never seen before: a *shape* at a coarse time scale (with the
defaults 8 blocks of 32 points, the last 256 points), in the spirit of
ARTime's matching of windows of downsampled values against learnt categories.
It sees what level novelty cannot: every level in the window has been visited
before, but never in this order or for this long (a daily cycle that misses
its rise, a plateau that lasts too long).

1. **Warm-up and grid.** The first ``warmup_points`` values (default 250)
   score 0. Their range ``[lo, hi]`` fixes a grid of bins of width
   ``(hi - lo) / levels`` centred on the range (a flat start gets bins of
   ``1e-9`` of its level, or the smallest normal float at 0); beyond
   ``0.75 * levels`` bins from the centre the grid widens logarithmically, as
   in the ``contextual`` engine, so that any finite value maps to a bounded
   position. Shapes completed inside the warm-up are learnt, not scored.
2. **Shapes.** Blocks are counted from the first value. A block's level is
   its mean position floored to a whole bin, on the grid and on a second
   grid shifted by half a bin; a shape is the tuple of the last ``blocks``
   levels on one grid. A shape is *new* when it is new on both grids (a
   block mean that wobbles across one grid's bin edge does not make a new
   shape: the vigilance of an ART match, at half a bin); both are learnt.
3. **Evidence.** A new shape weighs ``1 / (1 + r / 0.05)`` with
   ``r = k / (m + 100)`` the rate of new shapes so far (``k`` new shapes
   among the ``m`` shapes scored, a prior of 100): a series whose shapes
   keep changing (noise, drift) is trusted less when it changes again. A
   shape memory needs history, so the weight ramps up linearly over the
   first ``ramp_blocks`` shapes scored (default 64: 2048 points with the
   default blocks). The value that completes the block scores that weight,
   in [0, 1); every other value scores 0.
4. **Alarm suppression.** After a value scores, the next ``rest_points``
   values (default 150) score 0 unless they score higher (an escalation,
   which starts a new rest period), as in the other point scorers.

Cost: O(1) work per value (one division and a few additions; once per block
two tuples of ``blocks`` ints and two look-ups) and O(1) memory: each grid
keeps the _SHAPES shapes it has seen most recently (1,024: 32,768 points of
shapes all new at the default 32-point blocks), forgetting the one seen least
recently for a new one, so a stream's state does not grow with the series.

References: M. Hampton, "ARTimeNAB" (2021); G. A. Carpenter, S. Grossberg,
"ART 2: self-organization of stable category recognition codes for analog
input patterns", Applied Optics 26 (1987); M. Smirnov, "CAD: Contextual
Anomaly Detector" (CAD OSE, 2016).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .._validate import check_non_negative_int, check_positive_int, fail_value
from ._grid import RATE_SCALE, SPAN, GridScorer, check_value, squeeze

__all__ = ["ShapeScorer"]

_RATE_PRIOR = 100.0  # prior: one new shape per 100 shapes scored
_SHAPES = 1024  # shapes kept per grid (the latest seen): the memory's bound


class ShapeScorer(GridScorer):
    """Novelty of coarse shapes (sequences of quantised block means); feed values, get point scores.

    ``update(x)`` returns the score of ``x`` in [0, 1); ``update_many(xs)``
    equals ``[update(x) for x in xs]``. Values must be finite real numbers
    (``ValueError``/``TypeError`` otherwise, naming the index). The first
    ``warmup_points`` values score 0. Settings (keyword-only, validated):
    ``warmup_points`` (>= 2, default 250), ``levels`` (bins across the
    warm-up's range, default 10), ``block_points`` (default 32), ``blocks``
    (default 8), ``ramp_blocks`` (>= 0, default 64), ``rest_points`` (>= 0,
    default 150).

    >>> scorer = ShapeScorer(block_points=4, ramp_blocks=0)
    >>> day = [0.0] * 12 + [10.0] * 12
    >>> max(scorer.update_many(day * 30))
    0.0
    >>> max(scorer.update_many([0.0] * 48)) > 0.5
    True
    """

    __slots__ = (
        "_acc",
        "_blocks",
        "_cc",
        "_count",
        "_last",
        "_levels",
        "_means",
        "_mid",
        "_n",
        "_pos",
        "_ramp",
        "_rest",
        "_scored",
        "_seen",
        "_seen2",
        "_size",
        "_step",
        "_vlast",
        "_warm",
        "warmup_points",
    )

    def __init__(
        self,
        *,
        warmup_points: int = 250,
        levels: int = 10,
        block_points: int = 32,
        blocks: int = 8,
        ramp_blocks: int = 64,
        rest_points: int = 150,
    ) -> None:
        owner = "ShapeScorer"
        self.warmup_points = check_positive_int(owner, "warmup_points", warmup_points)
        if self.warmup_points < 2:
            fail_value(owner, "warmup_points", "an int >= 2", warmup_points)
        self._levels = check_positive_int(owner, "levels", levels)
        if self._levels > 1_000_000:
            fail_value(owner, "levels", "an int in [1, 1000000]", levels)
        self._size = check_positive_int(owner, "block_points", block_points)
        self._blocks = check_positive_int(owner, "blocks", blocks)
        self._ramp = check_non_negative_int(owner, "ramp_blocks", ramp_blocks)
        self._rest = check_non_negative_int(owner, "rest_points", rest_points)
        self._cc = SPAN * self._levels
        self._n = 0
        self._warm: list[float] | None = []
        self._mid = 0.0
        self._step = 1.0
        self._acc = 0.0
        self._pos = 0
        self._means: list[float] = []  # the last ``blocks`` block means, oldest first
        # Shapes on the grid and on the grid shifted by half a bin, least recently seen first (at most
        # _SHAPES each: a dict as an ordered set).
        self._seen: dict[tuple[int, ...], None] = {}
        self._seen2: dict[tuple[int, ...], None] = {}
        self._count = 0  # new shapes among the shapes scored
        self._scored = 0  # shapes scored (completed after the warm-up)
        self._last = -(10**18)
        self._vlast = 0.0

    def __setstate__(self, state: tuple[dict[str, object] | None, dict[str, object]]) -> None:
        """Restore a pickled scorer; one pickled before the memory's bound (its shapes in sets) keeps them,
        in no particular order of recency, trimmed to _SHAPES."""
        for name, value in {**(state[0] or {}), **state[1]}.items():
            kept = dict.fromkeys(sorted(value)[-_SHAPES:]) if isinstance(value, set) else value
            object.__setattr__(self, name, kept)

    def __repr__(self) -> str:
        return (
            f"ShapeScorer(warmup_points={self.warmup_points}, levels={self._levels}, "
            f"block_points={self._size}, blocks={self._blocks}, ramp_blocks={self._ramp}, "
            f"rest_points={self._rest})"
        )

    # -- internals -----------------------------------------------------------------

    def _run(self, values: Iterable[float]) -> list[float]:
        out: list[float] = []
        it = iter(values)
        index = 0
        warm = self._warm
        if warm is not None:
            index = self._collect(warm, it, out, "ShapeScorer", self.warmup_points)
            if self._n < self.warmup_points:
                return out
            self._mid, self._step = self._place_grid(warm)
            self._warm = None
            self._n = 0  # the warm-up values are run again, learning only
            self._step_all(warm, None, 0)
        self._step_all(it, out, index)
        return out

    def _step_all(self, values: Iterable[float], out: list[float] | None, index: int) -> None:
        """Run values through the blocks; with ``out`` None (the warm-up) only learn shapes."""
        n, mid, step, cc = self._n, self._mid, self._step, self._cc
        acc, pos, size, k = self._acc, self._pos, self._size, self._blocks
        means, seen, seen2 = self._means, self._seen, self._seen2
        count, scored, ramp = self._count, self._scored, self._ramp
        last, vlast, rest = self._last, self._vlast, self._rest
        isfinite, floor = math.isfinite, math.floor
        append = out.append if out is not None else None
        for x in values:
            if type(x) is not float or not isfinite(x):
                check_value("ShapeScorer", x, index)
            index += 1
            z = (x - mid) / step
            if z > cc or z < -cc:
                z = squeeze(z, cc)
            acc += z
            pos += 1
            n += 1
            if pos < size:
                if append is not None:
                    append(0.0)
                continue
            # A block is complete: its mean joins the shape.
            means.append(acc / size)
            acc = 0.0
            pos = 0
            if len(means) > k:
                del means[0]
            elif len(means) < k:
                if append is not None:
                    append(0.0)
                continue
            key = tuple([floor(m) for m in means])
            key2 = tuple([floor(m + 0.5) for m in means])
            first = not seen  # the first shape is no news: nothing was learnt to compare it with
            new = key not in seen and key2 not in seen2
            _learn(seen, key)
            _learn(seen2, key2)
            if append is None:
                continue
            if first:
                append(0.0)
                continue
            scored += 1
            if not new:
                append(0.0)
                continue
            count += 1
            w = 1.0 / (1.0 + count / ((scored + _RATE_PRIOR) * RATE_SCALE))
            if scored < ramp:
                w *= scored / ramp
            i = n - 1
            if i - last > rest or w > vlast:
                append(w)
                last = i
                vlast = w
            else:
                append(0.0)
        self._n, self._acc, self._pos = n, acc, pos
        self._count, self._scored, self._last, self._vlast = count, scored, last, vlast


def _learn(seen: dict[tuple[int, ...], None], shape: tuple[int, ...]) -> None:
    """``shape`` is the latest seen: moved to the end; the least recently seen beyond _SHAPES forgotten."""
    if seen.pop(shape, 0) is None:
        seen[shape] = None
        return
    seen[shape] = None
    if len(seen) > _SHAPES:
        del seen[next(iter(seen))]
