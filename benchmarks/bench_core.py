"""Benchmarks of the core: series construction and memory, zscore throughput, result construction.

Run: python benchmarks/bench_core.py [--points 1000000] [--memory-points 10000000]

Every figure is printed next to a reference measured in the same run on the
same data, because these shared machines are noisy: compare ratios, not
absolute numbers.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import tracemalloc
from array import array
from datetime import datetime, timedelta, timezone

from _timing import best_of  # benchmarks/ is on sys.path when run as a script

from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.engines import ZScoreEngine

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)


def reference_zscore(values: list[float], w: int, stride: int, b: int, thr: float) -> int:
    """A careful bare running-sum z-score over the same windows: no objects, no labels."""
    n = len(values)
    s1 = s2 = 0.0
    k = values[0]
    lo = hi = 0
    flagged = 0
    for start in range(b, n - w + 1, stride):
        new_lo = start - b
        for v in values[hi:start]:
            d = v - k
            s1 += d
            s2 += d * d
        for v in values[lo:new_lo]:
            d = v - k
            s1 -= d
            s2 -= d * d
        lo, hi = new_lo, start
        m1 = s1 / b
        sd = math.sqrt(max(s2 / b - m1 * m1, 0.0)) or 1e-300
        window = values[start : start + w]
        dev = max(max(window) - k - m1, k + m1 - min(window))
        if dev / sd >= thr:
            flagged += 1
    return flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--memory-points", type=int, default=10_000_000)
    args = parser.parse_args()
    n = args.points
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; points: {n:,}")

    rng = random.Random(42)
    values = [50.0 + rng.gauss(0, 1) for _ in range(n)]
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    stamps = [t0 + timedelta(seconds=60 * i) for i in range(n)]
    us = array("q", [(t - EPOCH) // ONE_US for t in stamps])
    vals = array("d", values)

    print("\n## MetricSeries construction")
    ref = best_of(lambda: (array("q", [(t - EPOCH) // ONE_US for t in stamps]), array("d", values)))
    got = best_of(lambda: MetricSeries("t", "c", "n", "m", stamps, values))
    print(
        f"from datetimes+floats: {got:.3f} s ({n / got / 1e6:.2f} M points/s); reference bare conversion "
        f"{ref:.3f} s; ratio {got / ref:.2f}x"
    )
    ref = best_of(lambda: (us[:], vals[:]))
    got = best_of(lambda: MetricSeries.from_arrays("t", "c", "n", "m", us, vals))
    print(
        f"from_arrays (validated): {got * 1e3:.1f} ms ({n / got / 1e6:.1f} M points/s); reference two array "
        f"copies {ref * 1e3:.1f} ms"
    )

    print("\n## MetricSeries memory")
    m = args.memory_points
    big_us = array("q", range(0, m * 1_000_000, 1_000_000))
    big_vals = array("d", bytes(8 * m))
    gc.collect()
    tracemalloc.start()
    series = MetricSeries.from_arrays("t", "c", "n", "m", big_us, big_vals)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    raw = 16 * m
    print(
        f"{m:,} points: held {current / 1e6:.0f} MB, peak during construction {peak / 1e6:.0f} MB; "
        f"raw numbers (8-byte timestamp + 8-byte value) {raw / 1e6:.0f} MB; held/raw {current / raw:.2f}x"
    )
    del series, big_us, big_vals

    default = ZScoreEngine()
    w, stride, b = default.window_size_points, default.stride_points, 64
    print(f"\n## zscore engine, defaults (window {w}, stride {stride}); reference: running sums over {b}")
    s = MetricSeries.from_arrays("t", "c", "n", "m", us, vals)
    ref = best_of(lambda: reference_zscore(values, w, stride, b, 4.0), repeat=2)
    print(f"reference bare running-sum loop: {n / ref / 1e6:.2f} M points/s")
    for classify in (False, True):
        engine = ZScoreEngine(classify=classify)
        got = best_of(lambda e=engine: e.detect(s), repeat=2)
        print(
            f"detect(classify={classify}): {n / got / 1e6:.2f} M points/s ({got:.2f} s, "
            f"{n // stride:,} results); {got / ref:.1f}x the reference"
        )
    engine = ZScoreEngine(classify=False)

    def chunked() -> None:
        stream = engine.stream("t", "c", "n", "m")
        for lo in range(0, n, 1000):
            stream.update(s.slice(lo, lo + 1000))

    got = best_of(chunked, repeat=2)
    print(f"stream.update in chunks of 1000: {n / got / 1e6:.2f} M points/s")

    print("\n## AnomalyResult construction")
    reps = 200_000
    ts = t0
    got = best_of(
        lambda: [AnomalyResult("t", "c", "n", "m", ts, ts, 0.5, AnomalyType.SPIKE, 0.1) for _ in range(reps)]
    )
    ref = best_of(lambda: [("t", "c", "n", "m", ts, ts, 0.5, AnomalyType.SPIKE, 0.1) for _ in range(reps)])
    print(
        f"validated AnomalyResult: {got / reps * 1e6:.2f} µs each; reference tuple {ref / reps * 1e6:.3f} µs"
    )


if __name__ == "__main__":
    main()
