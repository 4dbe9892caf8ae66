"""Benchmarks of the fleet simulator: generation throughput and streaming memory.

Run:
    python benchmarks/bench_simulator.py                         # throughput, ~2 M points
    python benchmarks/bench_simulator.py --stream-points 100000000  # + 100 M points streamed

Throughput: the default fleet shape (8 metrics a node, 5-minute steps) is
generated into ``MetricSeries`` objects (validated, timestamps and values in
arrays) and counted. The reference, measured in the same run, is a bare
Python loop drawing the same number of ``random.gauss`` variates into a list:
the cheapest "one random number per point" a pure-Python generator could do.
Compare the ratio, not the absolute numbers: the machines are shared.

Streaming: a fleet of at least ``--stream-points`` nominal points is consumed
one series at a time (``Fleet.iter_series``) or one time slice at a time
(``--chunk-points``), keeping nothing (``--stream-only`` skips the throughput
part, so the process did nothing else first); the peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is printed as it goes and at
the end, next to the size the points would take held at once (16 bytes a point).
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import resource
import sys
import time
from datetime import datetime, timezone

from _timing import best_of  # benchmarks/ is on sys.path when run as a script

from simulator import AnomalyMix, Fleet, FleetConfig


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def throughput(points: int, repeat: int) -> None:
    """Points per second of fleet generation vs a bare random.gauss loop."""
    per_series = 2016
    nodes = max(1, points // (per_series * 8))
    clusters = max(1, nodes // 8)
    config = FleetConfig.uniform(
        tenants=1, clusters=clusters, nodes_per_cluster=max(1, nodes // clusters), points=per_series, seed=1
    )
    n = config.nominal_points
    fleet = Fleet(config)

    def generate() -> int:
        return sum(len(s) for s in fleet.iter_series())

    def reference() -> list[float]:
        g = random.Random(1).gauss
        return [g(0.0, 1.0) for _ in range(n)]

    t_plan = best_of(lambda: Fleet(config), repeat)
    t_gen = best_of(generate, repeat)
    t_ref = best_of(reference, repeat)
    print(f"fleet: {len(fleet)} series x {per_series} points = {n:,} points (best of {repeat})")
    print(f"  plan (parameters + anomaly placement): {t_plan * 1e3:8.1f} ms")
    print(f"  simulator -> MetricSeries:      {n / t_gen / 1e6:6.2f} M points/s ({t_gen:.3f} s)")
    print(f"  reference bare random.gauss loop: {n / t_ref / 1e6:6.2f} M points/s ({t_ref:.3f} s)")
    print(f"  ratio simulator / reference: {t_ref / t_gen:.2f}x")


def stream(points: int, chunk_points: int | None) -> None:
    """Stream a fleet of >= ``points`` nominal points, keeping nothing; report rate and peak RSS."""
    per_series = 10_080  # 35 days at 5 minutes
    nodes = math.ceil(points / (per_series * 8))
    clusters = math.ceil(nodes / 10)
    tenants = math.ceil(clusters / 10)
    config = FleetConfig.uniform(
        tenants=tenants,
        clusters=10 if tenants > 1 else clusters,
        nodes_per_cluster=10,
        points=per_series,
        seed=2,
        anomalies=AnomalyMix(),
        start=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    fleet = Fleet(config)
    total_nominal = config.nominal_points
    print(
        f"streaming {total_nominal:,} nominal points: {len(fleet):,} series x {per_series} points, "
        f"{len(fleet.ground_truth):,} labelled anomalies; "
        f"held at once they would take {total_nominal * 16 / 2**30:.1f} GiB"
    )
    print(f"  peak RSS before streaming: {peak_rss_mib():.1f} MiB")
    t0 = time.perf_counter()
    seen = 0
    marks = [total_nominal * k // 10 for k in range(1, 11)]
    if chunk_points is None:
        source = fleet.iter_series()
    else:
        source = (s for chunk in fleet.iter_chunks(chunk_points) for s in chunk)
    for s in source:
        seen += len(s)
        while marks and seen >= marks[0]:
            marks.pop(0)
            el = time.perf_counter() - t0
            print(
                f"  {seen:>13,} points  {el:7.1f} s  {seen / el / 1e6:5.2f} M points/s  "
                f"peak RSS {peak_rss_mib():7.1f} MiB",
                flush=True,
            )
    el = time.perf_counter() - t0
    print(
        f"  done: {seen:,} points in {el:.1f} s ({seen / el / 1e6:.2f} M points/s), "
        f"peak RSS {peak_rss_mib():.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=2_000_000, help="throughput fleet size (points)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    parser.add_argument("--stream-points", type=int, default=0, help="also stream a fleet this large")
    parser.add_argument("--chunk-points", type=int, default=None, help="stream in time slices instead")
    parser.add_argument(
        "--stream-only", action="store_true", help="skip the throughput part (a clean peak RSS for streaming)"
    )
    args = parser.parse_args()
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on {platform.platform()}, "
        f"{platform.processor() or platform.machine()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    if not args.stream_only:
        throughput(args.points, args.repeat)
    if args.stream_points:
        stream(args.stream_points, args.chunk_points)


if __name__ == "__main__":
    main()
