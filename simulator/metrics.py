"""The metric catalogue: how each simulated metric behaves.

Each :class:`MetricProfile` describes one metric a node reports: its unit,
whether it is a gauge or a counter, its typical level, daily and weekly
seasonality, noise, drift and bounds. Per-series parameters (the exact level,
drift and so on) are drawn from the ranges below by a seeded RNG.

Shape of a gauge at nominal point ``i`` (time ``t``)::

    level(i) = base * (1 + daily * D(t) * (1 - weekly * weekend(t))) + drift * base * days(i)
    value(i) = level(i) + noise * base * z_i              (additive noise)
    value(i) = level(i) * exp(noise * z_i) * tail_i        (multiplicative, latency)

``D`` is a smooth business-day curve in [-1, 1] (trough near 03:00, peak
near 14:00 UTC, shifted per node by up to ±1 h); ``weekend`` is 1 on Saturday
and Sunday, damping the daily swing. ``tail_i`` is a Pareto factor (shape
``tail_alpha``, minimum 1) that gives latency its heavy right tail. Bounded
metrics (percentages) are limited to their physical range *by the model*
(a CPU cannot exceed 100 %), and integer metrics (queue depth) are rounded.
A counter accumulates a rate: ``total(i) = total(i-1) + rate(i) * step_seconds``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "CATALOGUE",
    "DEFAULT_METRICS",
    "MetricProfile",
    "daily_curve",
    "season_table",
]

DAY_S = 86_400
WEEK_S = 7 * DAY_S
# 1970-01-01 was a Thursday: the first Monday 00:00 UTC is 4 days after the epoch.
_MONDAY0_S = 4 * DAY_S


@dataclass(frozen=True, slots=True)
class MetricProfile:
    """How one metric behaves; see the module docstring for the formula.

    ``base``: range (lo, hi) of the per-series typical level, in ``unit``.
    ``daily``: daily swing as a fraction of the level. ``weekly``: how much the
    weekend damps the daily swing (0..1). ``noise``: noise sd as a fraction of
    the level (additive), or the log-sd (multiplicative). ``drift``: range of
    the per-series drift, fraction of the level per day. ``lower``/``upper``:
    physical bounds or None. ``incident``: how a node failure / cluster
    incident moves the metric, as a multiple of its level (negative = drops).
    """

    name: str
    unit: str
    kind: Literal["gauge", "counter"]
    base: tuple[float, float]
    daily: float
    weekly: float
    noise: float
    drift: tuple[float, float]
    lower: float | None = None
    upper: float | None = None
    multiplicative: bool = False
    tail_alpha: float | None = None
    integer: bool = False
    failure: float = 0.0
    incident: float = 0.0

    @property
    def seasonal(self) -> bool:
        """True when the daily cycle stands well clear of the noise (swing >= 4 noise sd).

        Seasonal disruptions are injected only into such metrics: reshaping a
        cycle that the noise hides would label an anomaly nobody could see.
        A noisy tenant's series are judged by :meth:`seasonal_with`.
        """
        return self.seasonal_with(1.0)

    def seasonal_with(self, noise_factor: float) -> bool:
        """:attr:`seasonal` for a series whose noise is ``noise_factor`` times the profile's.

        A noisy-neighbour tenant multiplies its series' noise
        (``FleetConfig.noisy_factor``, 3 by default): there a cycle of 5
        noise sd (``latency_p50``) shrinks to 1.7 and no longer stands clear.
        """
        return self.daily >= 4.0 * self.noise * noise_factor

    @property
    def spread(self) -> float:
        """Typical standard deviation as a fraction of the level (noise and daily swing together)."""
        return math.sqrt(self.noise**2 + self.daily**2 / 2.0)


CATALOGUE: dict[str, MetricProfile] = {
    p.name: p
    for p in (
        MetricProfile(
            "cpu",
            "%",
            "gauge",
            (20.0, 45.0),
            0.35,
            0.3,
            0.05,
            (-0.01, 0.01),
            lower=0.0,
            upper=100.0,
            failure=1.5,
            incident=0.0,
        ),
        MetricProfile(
            "memory",
            "%",
            "gauge",
            (40.0, 60.0),
            0.05,
            0.0,
            0.015,
            (0.0, 0.01),
            lower=0.0,
            upper=100.0,
            failure=0.0,
            incident=0.0,
        ),
        MetricProfile(
            "latency_p50",
            "ms",
            "gauge",
            (20.0, 60.0),
            0.25,
            0.3,
            0.05,
            (0.0, 0.0),
            lower=0.0,
            multiplicative=True,
            failure=2.0,
            incident=1.5,
        ),
        MetricProfile(
            "latency_p99",
            "ms",
            "gauge",
            (100.0, 300.0),
            0.3,
            0.3,
            0.08,
            (0.0, 0.0),
            lower=0.0,
            multiplicative=True,
            tail_alpha=16.0,
            failure=3.0,
            incident=2.5,
        ),
        MetricProfile(
            "request_rate",
            "req/s",
            "gauge",
            (200.0, 800.0),
            0.5,
            0.4,
            0.04,
            (0.0, 0.0),
            lower=0.0,
            failure=-0.85,
            incident=0.0,
        ),
        MetricProfile(
            "error_rate",
            "%",
            "gauge",
            (0.2, 1.0),
            0.1,
            0.0,
            0.1,
            (0.0, 0.0),
            lower=0.0,
            upper=100.0,
            failure=25.0,
            incident=12.0,
        ),
        MetricProfile(
            "disk", "%", "gauge", (30.0, 60.0), 0.0, 0.0, 0.004, (0.002, 0.01), lower=0.0, upper=100.0
        ),
        MetricProfile(
            "queue_depth",
            "count",
            "gauge",
            (5.0, 20.0),
            0.5,
            0.3,
            0.15,
            (0.0, 0.0),
            lower=0.0,
            integer=True,
            failure=4.0,
            incident=3.0,
        ),
        MetricProfile(
            "requests_total", "requests", "counter", (200.0, 800.0), 0.5, 0.4, 0.04, (0.0, 0.0), lower=0.0
        ),
    )
}

# Counters are in the catalogue but not in the default set: a cumulative total
# is meant for rate() style consumers, not for a level-based detector.
DEFAULT_METRICS: tuple[str, ...] = (
    "cpu",
    "memory",
    "latency_p50",
    "latency_p99",
    "request_rate",
    "error_rate",
    "disk",
    "queue_depth",
)


def daily_curve(seconds_of_day: float) -> float:
    """The business-day shape in [-1, 1]: trough near 03:00, peak near 14:00 UTC."""
    x = 2.0 * math.pi * seconds_of_day / DAY_S
    # A fundamental peaking at 15:00 plus a small second harmonic that sharpens the
    # afternoon peak; normalised by its exact maximum absolute value.
    raw = math.cos(x - 2.0 * math.pi * 15.0 / 24.0) + 0.25 * math.cos(2.0 * x - 2.0 * math.pi * 14.0 / 12.0)
    return raw / 1.25


@lru_cache(maxsize=64)
def season_table(step_seconds: int, daily: float, weekly: float) -> tuple[float, ...]:
    """One week of ``1 + daily * D(t) * (1 - weekly * weekend(t))``, one entry per step from Monday 00:00 UTC.

    The level of a series is ``base`` times an entry (plus drift and noise).
    """
    n = WEEK_S // step_seconds
    out = []
    for k in range(n):
        t = k * step_seconds
        weekend = 1.0 if t >= 5 * DAY_S else 0.0
        out.append(1.0 + daily * daily_curve(t % DAY_S) * (1.0 - weekly * weekend))
    return tuple(out)


def week_offset(start_s: int, step_seconds: int) -> int:
    """Index into :func:`season_table` of the instant ``start_s`` (seconds since the epoch)."""
    return ((start_s - _MONDAY0_S) % WEEK_S) // step_seconds
