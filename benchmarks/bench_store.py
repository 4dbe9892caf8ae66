"""Benchmark SQLiteMetricStore: write throughput, range-query scaling, retention throughput.

Usage::

    nice -n 10 python benchmarks/bench_store.py [--points-per-series 20000] [--series 5 50]

For each database size (``--series`` series of ``--points-per-series`` points,
one point a second) it measures:

* ``write``: points per second through ``write_batch`` (one transaction per series);
* ``query``: ``get_metric_series`` on one series returning k points, for several k;
  the time per returned point should stay flat as k grows and as the database
  grows (the query is a primary-key seek plus a scan of the rows returned);
* ``reference``: the same rows fetched with the index disabled (``+series_id``),
  which must scan the whole table, measured in the same run: its time grows
  with the database, which is what the primary key avoids;
* ``retention``: points per second rolled into cold buckets by ``apply_retention``.

Prints a Markdown table with the machine, Python, SQLite version and date.
Timings are the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, Path(__file__).resolve().parent):  # the repository, and benchmarks/ when imported
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _timing import median_seconds  # noqa: E402 - benchmarks/ is on sys.path (above)

from backend.analytics import MetricSeries  # noqa: E402 - after the sys.path fix
from backend.analytics.store import RetentionPolicy, SQLiteMetricStore  # noqa: E402

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
T0_US = (T0 - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
SECOND_US = 1_000_000
# The store's range query with the primary key disabled by unary '+': a full scan.
SCAN_REFERENCE = (
    "SELECT ts_us, value FROM hot_points WHERE +series_id = ? AND +ts_us >= ? AND +ts_us < ? ORDER BY ts_us"
)


def build(path: Path, n_series: int, n_points: int) -> tuple[SQLiteMetricStore, float]:
    """A store with ``n_series`` series of ``n_points`` points; returns it and the write time."""
    store = SQLiteMetricStore(
        path, policy=RetentionPolicy(hot_retention=timedelta(days=1), rollup_interval=timedelta(minutes=1))
    )
    stamps = [T0_US + i * SECOND_US for i in range(n_points)]
    values = [float(i % 97) for i in range(n_points)]
    batch = [
        MetricSeries.from_arrays("acme", "c-1", f"n-{k}", "cpu", stamps, values) for k in range(n_series)
    ]
    started = time.perf_counter()
    for series in batch:
        store.write_batch([series])
    return store, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points-per-series", type=int, default=20_000)
    parser.add_argument("--series", type=int, nargs="+", default=[5, 50])
    parser.add_argument("--k", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    n_points = args.points_per_series
    print(f"command: python benchmarks/bench_store.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    print()
    print("| DB points | write (points/s) | k returned | query (ms) | us/point | full-scan reference (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    retention_rows = []
    for n_series in args.series:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            store, write_s = build(Path(tmp) / "bench.db", n_series, n_points)
            total = n_series * n_points
            target = n_series // 2
            conn = sqlite3.connect(store.path)
            series_id = conn.execute(
                "SELECT series_id FROM series WHERE node_id = ?", (f"n-{target}",)
            ).fetchone()[0]
            for k in args.k:
                if k > n_points:
                    continue
                start = T0 + timedelta(seconds=(n_points - k) // 2)
                end = start + timedelta(seconds=k)

                node = f"n-{target}"

                def query(
                    store: SQLiteMetricStore = store,
                    node: str = node,
                    start: datetime = start,
                    end: datetime = end,
                    k: int = k,
                ) -> None:
                    got = store.get_metric_series("acme", "c-1", node, "cpu", start, end)
                    if len(got) != k:
                        raise RuntimeError(f"expected {k} points, got {len(got)}")

                lo = T0_US + (n_points - k) // 2 * SECOND_US
                params = (series_id, lo, lo + k * SECOND_US)

                def scan(conn: sqlite3.Connection = conn, params: tuple[int, int, int] = params) -> None:
                    conn.execute(SCAN_REFERENCE, params).fetchall()

                q = median_seconds(query, args.repeat)
                ref = median_seconds(scan, max(3, args.repeat // 2))
                print(
                    f"| {total:,} | {total / write_s:,.0f} | {k:,} | {q * 1e3:.2f} | "
                    f"{q / k * 1e6:.2f} | {ref * 1e3:.1f} |"
                )
            conn.close()
            started = time.perf_counter()
            report = store.apply_retention(T0 + timedelta(days=1, seconds=n_points // 2))
            ret_s = time.perf_counter() - started
            retention_rows.append((total, report.points_rolled_up, report.buckets_written, ret_s))
            store.close()
    print()
    print("| DB points | rolled up | buckets | retention (s) | points/s |")
    print("|---:|---:|---:|---:|---:|")
    for total, rolled, buckets, secs in retention_rows:
        print(f"| {total:,} | {rolled:,} | {buckets:,} | {secs:.2f} | {rolled / secs:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
