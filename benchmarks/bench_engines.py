"""Every engine next to a pure-Python kernel, numpy, river and Merlion, and the store: one run, one table.

Run (from the repository root)::

    python benchmarks/bench_engines.py                  # the tables of issue 11 (a few minutes)
    python benchmarks/bench_engines.py --series 16 --results 100000 --repeat 1   # a quick look
    python benchmarks/bench_engines.py --part store                     # only the store's table

Workloads (timestamps at a fixed step, ids spread over 4 clusters of nodes):

- ``issue``: ``--series`` series (default 128) of ``--points`` points (default
  2,000) at 1-minute steps, :func:`_reference.make_values` (a cycle of 288
  points with noise, rare spikes and a level shift): issue 11's workload. At
  1-minute steps 2,000 points are 1.4 days, so ``zscore``'s daily-cycle model
  has a say only on the last 0.4 day.
- ``cycles``: the same number of series from :mod:`simulator.cycles`
  (``FIVE_MINUTES_7_DAYS``, fleet seed 1101: 2,016 points, 7 days, every
  series kind in turn, events included): ``zscore``'s costly path (the
  profile of the last ``season_days`` days) runs from the second day on.

Rows, each timed on a whole workload (best of ``--repeat``), as points/s and
as a ratio to the kernel measured in the same run on the same values:

- **kernel** (the reference, 1.00): ``bench_core.reference_zscore``, a bare
  pure-Python loop: running sums over a 64-point baseline, windows of 64
  points every 16, a window flagged when its farthest point is 4 sd out;
- **numpy rolling z-score** (when numpy is installed): the same z-scores
  from cumulative sums, vectorised per series;
- the ``zscore`` scorer alone (``update_many`` on each series: no windows,
  no labels), and the same for the scorer as it was before issue 11's speed
  work (``tests/zscore_reference.py``, which gives the same scores bit for bit);
- every built-in engine (``zscore`` with windows 64/16 and with its defaults,
  ``novelty``, ``contextual``, ``combined`` with their defaults), with
  ``classify=False`` and with labels (``classify=True``, the default): ``detect``
  on every series, then ``AggregationPipeline().run`` up to tenant level;
- river's ``GaussianScorer`` (window 64; ``score_one`` then ``learn_one`` per
  point) and Merlion's ``WindStats`` and ``ZMS`` (``train`` on each series,
  which scores it; one run, they are slow), when importable, else "not
  installed".

Memory: per engine, the bytes a live stream (``engine.stream``) holds
(``tracemalloc``) after one cycle-fleet series (7 days) fed in chunks of 100
points, and after 4 and 8 times as many points (the series repeated, shifted
by whole days): the buffers fill up to their bound, then do not grow.

Store (:class:`~backend.analytics.store.SQLiteMetricStore`, a file in a
temporary folder): ``write_batch`` of the ``issue`` workload's points (one
transaction, ``executemany``, WAL) next to a bare ``executemany`` into an
equivalent table (SQLite's default page size and ``synchronous``) in the
same run, each the median of 5 interleaved runs into new files; then ``--results`` results (default
1,000,000: 64 nodes x 4 metrics x 5-minute windows, one tenant) written with
``write_results``, and a ``read_results`` filtered by cluster, node, metric
and one hour (12 rows) next to the same rows read by a full scan
(unary ``+`` on every column: no key, no index). Query times are medians of
7 queries (3 for the scan).

The machine is shared: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import gc
import logging
import pickle
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, Path(__file__).resolve().parent):  # the repository, and benchmarks/ when imported
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _reference import make_values  # noqa: E402 - benchmarks/ is on sys.path (above)
from _timing import best_of, machine_description, median_seconds  # noqa: E402
from bench_core import reference_zscore  # noqa: E402

from backend.analytics import (  # noqa: E402
    AggregationPipeline,
    AnomalyResult,
    AnomalyType,
    EngineRegistry,
    MetricSeries,
)
from backend.analytics.engines.zscore import ZScoreScorer  # noqa: E402
from backend.analytics.scoring import PointScorer, PointScoringEngine  # noqa: E402
from backend.analytics.store import SQLiteMetricStore  # noqa: E402
from simulator.cycles import FIVE_MINUTES_7_DAYS, generate_cycle_fleet  # noqa: E402
from tests.zscore_reference import ReferenceZScoreScorer  # noqa: E402 - the scorer before issue 11

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
T0_US = (T0 - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
MINUTE_US = 60_000_000
WRITE_RUNS = 5  # interleaved write_batch / bare executemany runs; their medians are printed
KERNEL_W, KERNEL_STRIDE, KERNEL_BASE, KERNEL_THR = 64, 16, 64, 4.0
ENGINES: list[tuple[str, str, dict[str, Any]]] = [
    ("`zscore` 64/16", "zscore", {"window_size_points": 64, "stride_points": 16}),
    ("`zscore` defaults", "zscore", {}),
    ("`novelty` defaults", "novelty", {}),
    ("`contextual` defaults", "contextual", {}),
    ("`combined` defaults", "combined", {}),
]


def ids(k: int) -> tuple[str, str, str, str]:
    return ("acme", f"c-{k % 4}", f"n-{k}", "cpu")


def issue_workload(n_series: int, n_points: int) -> list[MetricSeries]:
    stamps = [T0_US + i * MINUTE_US for i in range(n_points)]
    return [MetricSeries.from_arrays(*ids(k), stamps, make_values(n_points, seed=k)) for k in range(n_series)]


def cycles_workload(n_series: int) -> list[MetricSeries]:
    fleet = generate_cycle_fleet(1101, FIVE_MINUTES_7_DAYS, n_series=n_series)
    return [
        MetricSeries.from_arrays(*ids(k), s.series.epoch_us, s.series.values)
        for k, s in enumerate(fleet.series)
    ]


def scorer_run(scorer_class: type[PointScorer], values: list[list[float]], stamps: list[list[int]]) -> int:
    """Scores of every series from a fresh scorer (no windows, no labels); returns how many reach 0.5."""
    return sum(
        sum(1 for x in scorer_class().update_many(v, t) if x >= 0.5)
        for v, t in zip(values, stamps, strict=True)
    )


def kernel(values: list[list[float]]) -> int:
    return sum(reference_zscore(v, KERNEL_W, KERNEL_STRIDE, KERNEL_BASE, KERNEL_THR) for v in values)


def numpy_kernel() -> Callable[[list[list[float]]], int] | None:
    try:
        import numpy as np  # noqa: PLC0415 - optional
    except ImportError:
        return None

    def run(values: list[list[float]]) -> int:
        flagged = 0
        b, w, stride = KERNEL_BASE, KERNEL_W, KERNEL_STRIDE
        for vals in values:
            a = np.asarray(vals, dtype=float)
            d = a - a[0]
            c1 = np.concatenate(([0.0], np.cumsum(d)))
            c2 = np.concatenate(([0.0], np.cumsum(d * d)))
            starts = np.arange(b, len(a) - w + 1, stride)
            m1 = (c1[starts] - c1[starts - b]) / b
            sd = np.sqrt(np.maximum((c2[starts] - c2[starts - b]) / b - m1 * m1, 0.0))
            sd[sd == 0.0] = 1e-300
            idx = starts[:, None] + np.arange(w)[None, :]
            win = d[idx]
            dev = np.maximum(win.max(axis=1) - m1, m1 - win.min(axis=1))
            flagged += int(np.count_nonzero(dev / sd >= KERNEL_THR))
        return flagged

    return run


def river_scorer() -> Callable[[list[list[float]]], int] | None:
    try:
        from river import anomaly  # noqa: PLC0415 - optional
    except ImportError:
        return None

    def run(values: list[list[float]]) -> int:
        flagged = 0
        for vals in values:
            model = anomaly.GaussianScorer(window_size=64, grace_period=64)
            for v in vals:
                if model.score_one(None, v) > 0.999:
                    flagged += 1
                model.learn_one(None, v)
        return flagged

    return run


def merlion_scorers(series: list[MetricSeries]) -> dict[str, Callable[[], int]]:
    try:
        import pandas as pd  # noqa: PLC0415 - optional, as are the three below
        from merlion.models.anomaly.windstats import WindStats, WindStatsConfig  # noqa: PLC0415
        from merlion.models.anomaly.zms import ZMS, ZMSConfig  # noqa: PLC0415
        from merlion.utils import TimeSeries  # noqa: PLC0415
    except ImportError:
        return {}
    # Merlion logs "Inferred granularity ..." once per series trained: 128 warnings per row.
    logging.getLogger("merlion").setLevel(logging.ERROR)
    frames = [
        TimeSeries.from_pd(pd.Series(list(s.values), index=pd.to_datetime(list(s.epoch_us), unit="us")))
        for s in series
    ]

    def make(build: Callable[[], Any]) -> Callable[[], int]:
        def run() -> int:
            flagged = 0
            for frame in frames:
                scores = build().train(frame).to_pd().to_numpy().ravel()
                flagged += int((abs(scores) >= 3.0).sum())
            return flagged

        return run

    return {
        "Merlion WindStats": make(lambda: WindStats(WindStatsConfig())),
        "Merlion ZMS": make(lambda: ZMS(ZMSConfig())),
    }


def engine_run(name: str, config: dict[str, Any], series: list[MetricSeries]) -> Callable[[], int]:
    engine = EngineRegistry.default().create(name, **config)
    pipeline = AggregationPipeline()

    def run() -> int:
        results: list[AnomalyResult] = []
        for s in series:
            results.extend(engine.detect(s))
        return len(pipeline.run(results).tenants)

    return run


def live_engine(name: str) -> PointScoringEngine:
    engine = EngineRegistry.default().create(name)
    if not isinstance(engine, PointScoringEngine):
        raise TypeError(f"engine {name!r} has no live form")
    return engine


def stream_bytes(name: str, series: MetricSeries, repeats: int) -> int:
    """Bytes a live stream holds (tracemalloc) after ``repeats`` copies of ``series`` in 100-point chunks."""
    engine = live_engine(name)
    day_us = 86_400_000_000
    span = (series.epoch_us[-1] - series.epoch_us[0]) // day_us * day_us + day_us
    chunks = [
        MetricSeries.from_arrays(*series.ids, [t + r * span for t in series.epoch_us[lo : lo + 100]], vals)
        for r in range(repeats)
        for lo in range(0, len(series), 100)
        for vals in [series.values[lo : lo + 100]]
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    stream = engine.stream(*series.ids)
    for chunk in chunks:
        stream.update(chunk)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del stream
    return held


def store_figures(series: list[MetricSeries], n_results: int) -> list[str]:
    """The store's ingest and query rows (Markdown), each next to its bare-SQLite reference."""
    lines = []
    n_points = sum(len(s) for s in series)
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        rows = [(k, t, v) for k, s in enumerate(series) for t, v in zip(s.epoch_us, s.values, strict=True)]
        write_times, bare_times = [], []
        for run in range(WRITE_RUNS):  # interleaved, each into a new file
            store = SQLiteMetricStore(Path(tmp) / f"store-{run}.db")
            gc.collect()
            started = time.perf_counter()
            store.write_batch(series)
            write_times.append(time.perf_counter() - started)
            store.close()
            bare = sqlite3.connect(Path(tmp) / f"bare-{run}.db")
            bare.execute("PRAGMA journal_mode = WAL")
            bare.execute(
                "CREATE TABLE p (series_id INTEGER, ts_us INTEGER, value REAL, "
                "PRIMARY KEY (series_id, ts_us)) WITHOUT ROWID"
            )
            gc.collect()
            started = time.perf_counter()
            with bare:
                bare.executemany("INSERT INTO p VALUES (?, ?, ?)", rows)
            bare_times.append(time.perf_counter() - started)
            bare.close()
        write_s, bare_s = statistics.median(write_times), statistics.median(bare_times)
        store = SQLiteMetricStore(Path(tmp) / "store.db")
        lines.append(
            f"| store `write_batch`, {len(series)} series x {len(series[0]):,} points in one call "
            f"(median of {WRITE_RUNS}) | "
            f"{n_points / write_s:,.0f} points/s | bare `executemany` of the same rows: "
            f"{n_points / bare_s:,.0f} points/s ({write_s / bare_s:.2f}x its time) |"
        )

        # One tenant, 64 nodes x 4 metrics x 5-minute windows.
        per_series = max(1, n_results // 256)
        step = timedelta(minutes=5)
        normal, spike = AnomalyType.NORMAL, AnomalyType.SPIKE
        results = [
            AnomalyResult._trusted(  # already-valid values: the bench times the store, not the checks
                ("acme", f"c-{node % 4}", f"n-{node}", metric),
                T0 + step * i,
                T0 + step * (i + 1),
                0.7 if i % 97 == 0 else 0.1,
                spike if i % 97 == 0 else normal,
                0.3 if i % 97 == 0 else None,
                None,
            )
            for node in range(64)
            for metric in ("cpu", "mem", "disk", "net")
            for i in range(per_series)
        ]
        started = time.perf_counter()
        store.write_results(results, engine="zscore")
        results_s = time.perf_counter() - started
        total = len(results)
        del results
        start = T0 + step * (per_series // 2)
        end = start + timedelta(hours=1)

        def query() -> int:
            got = store.read_results(
                "acme", cluster_id="c-1", node_id="n-9", metric_name="mem", start=start, end=end
            )
            if len(got) != 12:
                raise RuntimeError(f"expected 12 results, got {len(got)}")
            return len(got)

        conn = sqlite3.connect(store.path)
        # Unary '+' keeps SQLite from using the primary key or any index: a scan of the whole table.
        scan = (
            "SELECT * FROM anomaly_results WHERE +tenant_id = ? AND +cluster_id = ? AND +node_id = ?"
            " AND +metric_name = ? AND +window_start_us >= ? AND +window_start_us < ?"
        )
        lo = T0_US + (per_series // 2) * 5 * MINUTE_US
        params = ("acme", "c-1", "n-9", "mem", lo, lo + 60 * MINUTE_US)

        def full_scan() -> int:
            got = len(conn.execute(scan, params).fetchall())
            if got != 12:
                raise RuntimeError(f"expected 12 rows from the scan, got {got}")
            return got

        q = median_seconds(query)
        ref = median_seconds(full_scan, 3)
        conn.close()
        store.close()
        lines.append(
            f"| store `write_results`, {total:,} results in one call | {total / results_s:,.0f} results/s | |"
        )
        lines.append(
            f"| store `read_results`, cluster+node+metric+hour filter (12 rows of {total:,}) | "
            f"{q * 1e3:.2f} ms ({q / 12 * 1e6:.0f} us/row) | the same rows by a full scan (unary `+`): "
            f"{ref * 1e3:.2f} ms |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--series", type=int, default=128, help="series per workload (default 128)")
    parser.add_argument("--points", type=int, default=2000, help="points per issue-workload series")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per row, best kept (default 2)")
    parser.add_argument("--results", type=int, default=1_000_000, help="results in the store (1,000,000)")
    parser.add_argument("--workload", choices=("issue", "cycles", "both"), default="both")
    parser.add_argument(
        "--part",
        choices=("engines", "memory", "store"),
        action="append",
        help="print only these tables (repeat; default all)",
    )
    args = parser.parse_args(argv)
    parts = set(args.part or ("engines", "memory", "store"))
    if args.series < 4 or args.points < 200 or args.repeat < 1 or args.results < 256 * 24:
        parser.error("need --series >= 4, --points >= 200, --repeat >= 1, --results >= 6144")
    print(f"command: python benchmarks/bench_engines.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(
        f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; machine {machine_description()}"
    )
    workloads = {
        "issue": lambda: issue_workload(args.series, args.points),
        "cycles": lambda: cycles_workload(args.series),
    }
    names = list(workloads) if args.workload == "both" else [args.workload]
    if "engines" not in parts:
        names = []
    numpy_run, river_run = numpy_kernel(), river_scorer()
    issue_series: list[MetricSeries] = []
    for wname in names:
        series = workloads[wname]()
        if wname == "issue":
            issue_series = series
        values = [s.values.tolist() for s in series]
        n = sum(len(v) for v in values)
        print(
            f"\n### workload `{wname}`: {len(series)} series x {len(values[0]):,} points ({n:,} points); "
            f"best of {args.repeat}\n"
        )
        print("| row | points/s | x kernel |")
        print("|---|---:|---:|")
        ref = best_of(partial(kernel, values), args.repeat)

        def row(label: str, seconds: float | None, note: str = "", n: int = n, ref: float = ref) -> None:
            if seconds is None:
                print(f"| {label} | {note} | |")
            else:
                print(f"| {label} | {n / seconds:,.0f} | {ref / seconds:.3f} |")
            sys.stdout.flush()

        if numpy_run is not None:
            row("numpy rolling z-score per series", best_of(partial(numpy_run, values), args.repeat))
        else:
            row("numpy rolling z-score per series", None, "not installed")
        row(
            f"pure-Python running-sum z-score kernel, W={KERNEL_BASE} (windows {KERNEL_W}/{KERNEL_STRIDE})",
            ref,
        )
        stamps = [s.epoch_us.tolist() for s in series]
        for label, scorer_class in (
            ("`zscore` scorer alone (`ZScoreScorer.update_many`)", ZScoreScorer),
            ("`zscore` scorer alone, before issue 11 (`tests/zscore_reference.py`)", ReferenceZScoreScorer),
        ):
            row(label, best_of(partial(scorer_run, scorer_class, values, stamps), args.repeat))
        for label, name, config in ENGINES:
            for classify in (False, True):
                run = engine_run(name, {**config, "classify": classify}, series)
                what = "with labels" if classify else "`classify=False`"
                row(f"{label}, {what}", best_of(run, args.repeat))
        if river_run is not None:
            row("river GaussianScorer (w=64)", best_of(partial(river_run, values), args.repeat))
        else:
            row("river GaussianScorer (w=64)", None, "not installed")
        merlion = merlion_scorers(series)
        for label in ("Merlion WindStats", "Merlion ZMS"):
            if label in merlion:
                row(label, best_of(merlion[label], 1))  # slow: one run
            else:
                row(label, None, "not installed")

    if "memory" in parts:
        memory_table()
    if "store" in parts:
        print("\n### store\n")
        print("| what | figure | reference in the same run |")
        print("|---|---:|---|")
        for line in store_figures(issue_series or issue_workload(args.series, args.points), args.results):
            print(line)
    return 0


def memory_table() -> None:
    """Bytes one live stream of each engine holds, growing with the series only up to its bounds."""
    print("\n### memory held by one live stream (`engine.stream`, defaults, chunks of 100 points)\n")
    one = cycles_workload(4)[1]  # a series with an event
    print(
        f"| engine | after {len(one):,} points | after {4 * len(one):,} | after {8 * len(one):,} "
        f"| pickled state after {len(one):,} |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in ("zscore", "novelty", "contextual", "combined"):
        small, mid, big = (stream_bytes(name, one, r) for r in (1, 4, 8))
        stream = live_engine(name).stream(*one.ids)
        stream.update(one)
        pickled = len(pickle.dumps(stream))
        print(
            f"| `{name}` | {small / 1024:,.0f} KiB | {mid / 1024:,.0f} KiB | {big / 1024:,.0f} KiB "
            f"| {pickled / 1024:,.0f} KiB |"
        )


if __name__ == "__main__":
    sys.exit(main())
