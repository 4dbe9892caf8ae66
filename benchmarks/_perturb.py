"""Timestamps as agents take them, for the benchmarks' ``--jitter`` options."""

from __future__ import annotations

import random

from backend.analytics import MetricSeries


def jittered(series: MetricSeries, fraction: float, rng: random.Random) -> MetricSeries:
    """``series`` with each timestamp moved by up to ``fraction`` of its step either way (uniform), as
    an agent stamps points about the minute they stand for; ``series`` itself when ``fraction`` is 0."""
    if not fraction:
        return series
    us = series.epoch_us
    reach = int(fraction * (us[1] - us[0]))
    moved = [u + rng.randint(-reach, reach) for u in us]
    return MetricSeries.from_arrays(*series.ids, moved, list(series.values), series.metadata)
