"""What the grid-based streaming scorers (``novelty``, ``contextual``, shapes) share (private).

Each learns a grid of ``levels`` bins from its first values, then scores each
value by what its channels have (not) seen on that grid. This module holds
their common parts: the public surface (``update``, ``update_many``,
``points_seen``, ``warmed_up``), the grid's placement, the logarithmic
squeeze of positions far outside it, the warm-up collection, and the
constants the three share.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence

from .._validate import check_real, fail_value
from ..scoring import PointScorer

__all__ = [
    "DAY_US",
    "QUIET_POINTS",
    "RATE_SCALE",
    "SPAN",
    "Z_CAP",
    "GridScorer",
    "QuietStart",
    "check_evidence_threshold",
    "check_value",
    "squeeze",
]

DAY_US = 86_400_000_000  # one day in microseconds
QUIET_POINTS = 1440  # the quiet start's declared warm-up, in points (a day at 1-minute steps)
SPAN = 0.75  # linear grid out to SPAN * levels bins from the centre, logarithmic beyond
Z_CAP = 1e300  # positions beyond this (overflowed divisions) are held here before the log
RATE_SCALE = 0.05  # the rate of new levels (contexts, shapes) at which their evidence is halved
_TINY = 2.2250738585072014e-308  # smallest normal double: bin width of a warm-up flat at 0
_REL_WIDTH = 1e-9  # bin width, relative to the level, of a warm-up flat at a non-zero level


def squeeze(z: float, cc: float) -> float:
    """A position beyond ``+-cc`` bins pulled onto the logarithmic part of the grid.

    ``z -> sign(z) * cc * (1 + ln(|z| / cc))``: bins far outside the learnt
    range grow in proportion to their distance, and any finite value (even an
    overflowed ``inf`` division, held at ``Z_CAP``) maps to a bounded position.
    Callers apply it only where ``|z| > cc``.
    """
    if z > 0.0:
        return cc * (1.0 + math.log((z if z < Z_CAP else Z_CAP) / cc))
    return -cc * (1.0 + math.log((-z if -z < Z_CAP else Z_CAP) / cc))


def check_value(owner: str, x: object, index: int) -> None:
    """Raise the uniform error for a value that is not a finite real number (an int too large too)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{owner}.values[{index}]: expected a finite real number, got {x!r}")
    try:
        ok = math.isfinite(x)
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        raise ValueError(f"{owner}.values[{index}]: expected a finite real number, got {x!r}")


def check_evidence_threshold(owner: str, value: object) -> float:
    """Validate an engine's ``evidence_threshold``: a real number in (0, 1]."""
    threshold = check_real(owner, "evidence_threshold", value)
    if not 0.0 < threshold <= 1.0:
        fail_value(owner, "evidence_threshold", "a real number in (0, 1]", value)
    return threshold


class GridScorer(PointScorer):
    """Base of the Novelty, Contextual and Shape scorers: the public surface and the grid.

    Grid scorers ignore timestamps: ``update(x)`` and ``update_many(xs)`` take
    values alone (a timestamp, when given, is accepted and not read).
    """

    __slots__ = ()

    _n: int
    _levels: int

    @property
    def points_seen(self) -> int:
        """How many values the scorer has taken."""
        return self._n

    @property
    def warmed_up(self) -> bool:
        """True once ``warmup_points`` values have been taken and values are scored."""
        return self._n >= self.warmup_points

    def update(self, x: float, t: int = 0) -> float:
        """Take one value; return its score in [0, 1)."""
        return self._run((x,))[0]

    def update_many(self, values: Iterable[float], stamps: Sequence[int] | None = None) -> list[float]:
        """Take ``values`` in order; return their scores (the same as :meth:`update` on each)."""
        return self._run(values)

    @abstractmethod
    def _run(self, values: Iterable[float]) -> list[float]:
        """Scores of ``values`` in order, state carried over."""

    def _collect(
        self, warm: list[float], it: Iterator[float], out: list[float], owner: str, until: int
    ) -> int:
        """Take values from ``it`` into ``warm`` (each scores 0) until ``self._n`` reaches ``until``.

        Returns how many values were taken (the index of the next value, for
        error messages); ``self._n`` counts them all.
        """
        taken = 0
        n = self._n
        for x in it:
            check_value(owner, x, taken)
            taken += 1
            warm.append(float(x))
            out.append(0.0)
            n += 1
            if n == until:
                break
        self._n = n
        return taken

    def _place_grid(self, warm: list[float]) -> tuple[float, float]:
        """``(centre, bin width)`` of a grid on the warm-up range with ``levels`` bins across it."""
        lo, hi = min(warm), max(warm)
        mid = lo / 2.0 + hi / 2.0
        step = hi / self._levels - lo / self._levels
        if not step > 0.0:  # a flat start: bins relative to the level, or the smallest normal width
            step = abs(mid) * _REL_WIDTH
            if not step > 0.0:
                step = _TINY
        return mid, step


class QuietStart(PointScorer):
    """``inner``'s scores, held at 0 for the first day of time.

    A novelty detector meets every level of a daily cycle for the first time
    on its first day; until a whole cycle has been seen, "new" means nothing.
    The inner scorer still learns from those points. The quiet start ends at
    the first point a day (``warmup_us``) after the first one, at any step:
    1,440 points at 1-minute steps, 288 at 5 minutes, 86,400 at 1 second.
    (Until 0.2.0 it also ended at the 1441st point, so at steps under a
    minute it ended within hours, and the rest of the first day's cycle
    alarmed as new: about 100 false-alarm episodes on the first day of a
    daily sine at 1-second steps.)
    ``warmup_points`` declares ``max(inner.warmup_points, QUIET_POINTS)``,
    the warm-up in points at 1-minute steps.
    """

    __slots__ = ("_over", "_until", "inner", "warmup_points")

    def __init__(self, inner: PointScorer) -> None:
        self.inner = inner
        self.warmup_points = max(inner.warmup_points, QUIET_POINTS)
        self._until: int | None = None
        self._over = False

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a pickled quiet start (one from before 0.2.0 also counted its points, ``_n``: unused)."""
        for name, value in state[1].items():
            if name != "_n":
                object.__setattr__(self, name, value)

    @property
    def warmup_us(self) -> int:  # type: ignore[override]  # (a class attribute on PointScorer)
        """A day, or the inner scorer's warm-up in time if longer."""
        return max(self.inner.warmup_us, DAY_US)

    def update(self, x: float, t: int) -> float:
        """The score of ``x`` at ``t``: 0 while the start is quiet."""
        return self.update_many((x,), (t,))[0]

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """The scores of ``values``: 0 while the start is quiet."""
        scores = self.inner.update_many(values, stamps)
        if self._over or not scores:
            return scores
        if self._until is None:
            self._until = stamps[0] + DAY_US
        until = self._until
        quiet_to = 0  # scores before this index are held at 0
        for i, t in enumerate(stamps):
            if t >= until:
                self._over = True
                break
            quiet_to = i + 1
        return [0.0] * quiet_to + scores[quiet_to:]
