"""What the grid-based streaming scorers (``novelty``, ``contextual``, shapes) share (private).

Each learns a grid of ``levels`` bins from its warm-up values, then score
each value by what their channels have (not) seen on that grid. This module
holds their common surface (``update``, ``update_many``, ``points_seen``,
``warmed_up``) and the grid's placement; each scorer implements ``_run``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["GridScorer", "check_value"]

_TINY = 2.2250738585072014e-308  # smallest normal double: bin width of a warm-up flat at 0
_REL_WIDTH = 1e-9  # bin width, relative to the level, of a warm-up flat at a non-zero level


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


class GridScorer:
    """Base of the Novelty, Contextual and Shape scorers: the public surface and the grid."""

    __slots__ = ()

    _n: int
    _warmup: int
    _levels: int

    @property
    def points_seen(self) -> int:
        """How many values the scorer has taken."""
        return self._n

    @property
    def warmed_up(self) -> bool:
        """True once ``warmup_points`` values have been taken and values are scored."""
        return self._n >= self._warmup

    def update(self, value: float) -> float:
        """Take one value; return its score in [0, 1)."""
        return self._run((value,), None)[0]

    def update_many(self, values: Iterable[float]) -> list[float]:
        """Take ``values`` in order; return their scores (the same as :meth:`update` on each)."""
        return self._run(values, None)

    def _run(self, values: Iterable[float], distances: list[int] | None) -> list[float]:
        raise NotImplementedError  # pragma: no cover - each scorer implements it

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
