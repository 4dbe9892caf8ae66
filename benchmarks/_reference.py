"""Data and reference loops shared by the point-scorer benchmarks (run as ``python benchmarks/bench_*.py``).

Every engine figure is printed next to these bare loops, timed on the same
values in the same process: on a shared machine only the ratios mean much.
"""

from __future__ import annotations

import math
import random


def make_values(n: int, seed: int = 2024) -> list[float]:
    """A seeded daily-periodic signal (288 points a day) with noise, rare spikes and a level shift."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        v = 50.0 + 10.0 * math.sin(2.0 * math.pi * i / 288.0) + rng.gauss(0.0, 1.0)
        if rng.random() < 0.001:
            v += rng.choice((-1.0, 1.0)) * rng.uniform(15.0, 60.0)
        if i > n // 2:
            v += 8.0
        out.append(v)
    return out


def sum_loop(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def ewma_loop(values: list[float]) -> float:
    mu, dev, alpha = values[0], 0.0, 1.0 / 32.0
    for v in values:
        d = v - mu
        dev += alpha * (abs(d) - dev)
        mu += alpha * d
    return mu + dev
