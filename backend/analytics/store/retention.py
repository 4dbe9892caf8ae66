"""The retention and rollup policy of the tiered metric store.

A store keeps two tiers per series:

* **hot**: raw points at their original resolution, for recent data;
* **cold**: older data rolled up into fixed buckets of ``rollup_interval``,
  each keeping the ``mean``, ``min``, ``max`` and ``count`` of its points.

The policy is applied by an explicit call, ``store.apply_retention(now)``;
nothing happens in the background. The call computes the *horizon*::

    horizon = floor((now - hot_retention) / rollup_interval) * rollup_interval

(buckets are aligned to the Unix epoch, so the horizon is always a bucket
boundary). Every hot point with a timestamp before the horizon is rolled up
into the cold bucket that contains it and removed from the hot tier, in one
transaction. Because the horizon is a bucket boundary, a bucket is rolled up
exactly once, from all of its points. The horizon never moves backwards.

After that, writes of points older than the horizon are rejected with
``ValueError`` (their bucket is already summarised; accepting them would either
double count or silently drop them).

Reads span both tiers: a cold bucket reads back as **one point at the bucket's
start time whose value is the bucket mean**; it is inside a query range
``[start, end)`` when its start time is.

>>> from datetime import timedelta
>>> policy = RetentionPolicy(hot_retention=timedelta(days=2), rollup_interval=timedelta(hours=1))
>>> hour = 3_600_000_000
>>> policy.horizon_us(10 * 24 * hour + hour // 2) == 8 * 24 * hour
True
>>> bucket_start_us(-1, hour)
-3600000000
>>> robust_mean([1e308, 1e308])
1e+308
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .._validate import check_positive_timedelta

__all__ = ["RetentionPolicy", "RetentionReport", "RollupBucket", "bucket_start_us", "robust_mean"]

_ONE_US = timedelta(microseconds=1)
_MAX_SPAN = datetime.max - datetime.min


def bucket_start_us(ts_us: int, interval_us: int) -> int:
    """Start of the epoch-aligned bucket of width ``interval_us`` that holds ``ts_us``.

    Floors towards minus infinity, so timestamps before 1970 land in the
    right bucket too.
    """
    return ts_us - ts_us % interval_us


def robust_mean(values: Sequence[float]) -> float:
    """Arithmetic mean of finite ``values`` (non-empty), correctly rounded and overflow-safe.

    Uses :func:`math.fsum` (Shewchuk's exact summation); when the exact sum
    overflows a float (values near 1e308), the mean is computed from the values
    divided by the count instead, which cannot overflow.
    """
    n = len(values)
    if n == 0:
        raise ValueError("robust_mean: values must be non-empty, got an empty sequence")
    try:
        mean = math.fsum(values) / n
    except OverflowError:
        mean = math.fsum(v / n for v in values)
    # Rounding can push the mean a hair outside [min, max]; the bucket invariant holds exactly.
    return min(max(mean, min(values)), max(values))


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long points stay raw, and how coarse they become afterwards.

    ``hot_retention``: points younger than this (relative to the ``now`` given
    to ``apply_retention``) always stay raw. ``rollup_interval``: width of a cold
    bucket (epoch-aligned). Both are ``timedelta``s from one microsecond up to
    the span of years 1..9999 (``datetime.max - datetime.min``, 3,652,059 days
    minus a microsecond): a longer retention could never roll anything up.
    Defaults: 7 days raw, then hourly buckets.
    """

    hot_retention: timedelta = timedelta(days=7)
    rollup_interval: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        owner = "RetentionPolicy"
        for name in ("hot_retention", "rollup_interval"):
            value = check_positive_timedelta(owner, name, getattr(self, name))
            if value < _ONE_US:
                raise ValueError(f"{owner}: {name} must be at least 1 microsecond, got {value!r}")
            if value > _MAX_SPAN:
                raise ValueError(
                    f"{owner}: {name} must be at most {_MAX_SPAN} (the span of years 1..9999), got {value!r}"
                )

    @property
    def hot_retention_us(self) -> int:
        """``hot_retention`` in microseconds."""
        return self.hot_retention // _ONE_US

    @property
    def rollup_interval_us(self) -> int:
        """``rollup_interval`` in microseconds."""
        return self.rollup_interval // _ONE_US

    def horizon_us(self, now_us: int) -> int:
        """The bucket boundary before which points are rolled up, for ``now_us`` (epoch µs)."""
        return bucket_start_us(now_us - self.hot_retention_us, self.rollup_interval_us)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one ``apply_retention`` call did.

    ``horizon``: the horizon after the call (``None`` if nothing was ever
    rolled up). ``points_rolled_up``: raw points moved out of the hot tier.
    ``buckets_written``: cold buckets created. ``series_touched``: series that
    had at least one point rolled up.
    """

    horizon: datetime | None
    points_rolled_up: int
    buckets_written: int
    series_touched: int


@dataclass(frozen=True, slots=True)
class RollupBucket:
    """One cold-tier bucket: the points of ``[start, start + rollup_interval)`` summarised.

    ``mean``, ``min``, ``max`` are in the metric's units; ``count`` >= 1 is the
    number of raw points the bucket replaced.
    """

    start: datetime
    mean: float
    min: float
    max: float
    count: int
