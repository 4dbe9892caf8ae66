"""Benchmark fleet scale-out (issue 12): detect_fleet on 1 and 2 processes and a 2-worker Dask cluster,
LiveDetector throughput with checkpoints off and on, peak memory per live series, and the estimate for
1 million series at 10-second resolution.

Usage::

    python benchmarks/bench_fleet_scale.py [--series 128] [--points 4000] [--repeat 3] [--no-dask]
        [--live-series 160] [--live-points 2000] [--memory-series 40] [--json FILE]

Batch (``detect_fleet`` with the ``zscore`` engine, default settings, over a SQLite store the workers
read themselves):

* ``one process``: ``InlineExecutor`` (the serial run in the client: the reference);
* ``1 worker`` / ``2 workers``: ``local_executor(n)``, a warm process pool (its start-up is timed apart);
* ``dask 2 workers``: a ``distributed.LocalCluster`` of 2 worker processes (one thread each) on
  127.0.0.1, started before timing (skipped without the ``[dask]`` extra or with ``--no-dask``).

Each is run ``--repeat`` times, interleaved (A B C D A B C D ...) so that the machine's load drifts
over all of them alike; the median wall time is reported with the CPU seconds spent (client plus
workers), so a figure on a shared machine can be judged.

Live: ``LiveDetector`` over ``--live-series`` series fed in time slices (one batch per 10 points of
every series), checkpoints off and every 10,000 or 100,000 points into a SQLite file, beside the series
through ``engine.detect`` in the same run. Memory: ``tracemalloc`` peak and retained size of a
``LiveDetector`` holding ``--memory-series`` series in steady state (past the classifier's history),
with the default engine and with ``classify=False``, and the pickled checkpoint size per series.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.analytics import EngineRegistry, MetricSeries  # noqa: E402 - after the sys.path fix
from backend.analytics.fleet import InlineExecutor, StoreSource, detect_fleet, local_executor  # noqa: E402
from backend.analytics.live import LiveDetector, LivePoint  # noqa: E402
from backend.analytics.store import SQLiteMetricStore  # noqa: E402
from benchmarks._timing import machine_description  # noqa: E402
from simulator import Fleet, FleetConfig  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _worker_cpu() -> float:
    return time.process_time()


class Runner:
    """One way of running the fleet: a name, an executor, and how to read CPU seconds per process.

    ``cpu()`` returns ``{"client": s, <worker>: s, ...}``: CPU seconds so far of the client and of
    each worker process.
    """

    def __init__(self, name: str, executor: Executor, cpu: Callable[[], dict[str, float]]) -> None:
        self.name, self.executor, self.cpu = name, executor, cpu
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.critical: list[float] = []

    def measure(self, before: dict[str, float], after: dict[str, float]) -> None:
        deltas = {k: after[k] - before.get(k, 0.0) for k in after}
        self.cpus.append(sum(deltas.values()))
        workers = [v for k, v in deltas.items() if k != "client"]
        # The critical path if every process had a core of its own: the client plus the busiest worker.
        self.critical.append(deltas["client"] + max(workers, default=0.0))


def client_cpu() -> dict[str, float]:
    return {"client": time.process_time()}


def pool_cpu(executor: Executor) -> Callable[[], dict[str, float]]:
    """Client CPU and each of the pool's worker processes' CPU (read from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> dict[str, float]:
        out = {"client": time.process_time()}
        for pid in list(getattr(executor, "_processes", {}) or {}):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[str(pid)] = (int(fields[11]) + int(fields[12])) / ticks
            except (OSError, IndexError, ValueError):
                pass
        return out

    return read


def batch_section(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    cfg = FleetConfig.uniform(
        tenants=4, clusters=2, nodes_per_cluster=2, noisy_tenants=1, points=args.points, seed=7
    )
    fleet = Fleet(cfg)
    keep = [k for k in fleet.keys][: args.series]
    db = tmp / "fleet.db"
    with SQLiteMetricStore(db, synchronous="NORMAL") as store:
        store.write_batch(fleet.series(tuple(k)) for k in keep)
    source = StoreSource(db)
    n_points = sum(len(fleet.series(tuple(k))) for k in keep)
    runners = [Runner("one process (InlineExecutor)", InlineExecutor(), client_cpu)]
    startup: dict[str, float] = {}
    pools = []
    for n in (1, 2):
        t = time.perf_counter()
        pool = local_executor(n)
        detect_fleet(StoreSource(db, tenants=["tenant-1"]), "zscore", executor=pool)  # start the workers
        startup[f"{n} worker"] = time.perf_counter() - t
        pools.append(pool)
        runners.append(
            Runner(f"{n} local worker{'s' if n > 1 else ''} (local_executor)", pool, pool_cpu(pool))
        )
    cluster = client = None
    if not args.no_dask:
        try:
            import distributed  # noqa: PLC0415 - optional
        except ImportError:
            print("distributed is not installed: the Dask row is skipped", file=sys.stderr)
        else:
            from backend.analytics.fleet import dask_executor, local_dask_cluster  # noqa: PLC0415

            t = time.perf_counter()
            cluster = local_dask_cluster(2)
            client = distributed.Client(cluster)
            dask = dask_executor(client)
            detect_fleet(StoreSource(db, tenants=["tenant-1"]), "zscore", executor=dask)
            startup["dask cluster"] = time.perf_counter() - t

            def dask_cpu() -> dict[str, float]:
                return {"client": time.process_time(), **client.run(_worker_cpu)}

            runners.append(Runner("dask LocalCluster, 2 workers", dask, dask_cpu))
    reference = None
    for round_ in range(args.repeat):
        # Alternate the order (A B C D, D C B A, ...) so that a load drifting during a round hits all alike.
        for runner in runners if round_ % 2 == 0 else runners[::-1]:
            cpu0 = runner.cpu()
            t = time.perf_counter()
            run = detect_fleet(source, "zscore", executor=runner.executor)
            runner.walls.append(time.perf_counter() - t)
            runner.measure(cpu0, runner.cpu())
            if reference is None:
                reference = run
            elif run.results != reference.results or run.aggregates != reference.aggregates:
                raise SystemExit(f"{runner.name}: results differ from the serial run")
    for pool in pools:
        pool.shutdown()
    if client is not None and cluster is not None:
        client.close()
        cluster.close()
    rows = []
    for runner in runners:
        wall = statistics.median(runner.walls)
        # The speedup of each round against the one-process run of the same round, then their median.
        ratios = sorted(b / w for b, w in zip(runners[0].walls, runner.walls, strict=True))
        rows.append(
            {
                "name": runner.name,
                "wall_s": wall,
                "points_per_s": n_points / wall,
                "speedup": statistics.median(ratios),
                "speedup_range": (ratios[0], ratios[-1]),
                "cpu_s": statistics.median(runner.cpus),
                "cores_busy": statistics.median(
                    c / w for c, w in zip(runner.cpus, runner.walls, strict=True)
                ),
                "critical_cpu_s": statistics.median(runner.critical),
                # One process's CPU seconds over this run's critical path, round by round.
                "projected": statistics.median(
                    b / c for b, c in zip(runners[0].cpus, runner.critical, strict=True)
                ),
                "walls": runner.walls,
            }
        )
    return {"series": len(keep), "points": n_points, "rows": rows, "startup_s": startup}


def live_batches(series: list[MetricSeries], per_batch: int) -> list[list[LivePoint]]:
    n = max(len(s) for s in series)
    columns = [(s.ids, list(s.timestamps), s.values.tolist()) for s in series]
    out = []
    for lo in range(0, n, per_batch):
        out.append(
            [
                LivePoint(*ids, t, v)
                for i in range(lo, min(n, lo + per_batch))
                for ids, ts, vs in columns
                for t, v in ((ts[i], vs[i]),)
                if i < len(ts)
            ]
        )
    return out


def live_section(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    cfg = FleetConfig.uniform(tenants=2, clusters=2, nodes_per_cluster=5, points=args.live_points, seed=8)
    series = list(Fleet(cfg).iter_series())[: args.live_series]
    batches = live_batches(series, 10)
    n_points = sum(len(b) for b in batches)
    engine = EngineRegistry.default().create("zscore")
    out: dict[str, Any] = {"series": len(series), "points": n_points, "batch_points": len(batches[0])}
    every = (10_000, 100_000)
    names = ["detect", "live, no checkpoints"] + [f"live, checkpoint every {n:,} points" for n in every]
    timings: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    checkpoint_counts: dict[str, int] = {}
    for r in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        for s in series:
            engine.detect(s)
        timings["detect"].append(time.perf_counter() - t)
        cpu["detect"].append(time.process_time() - c)
        live = LiveDetector(engine)
        t, c = time.perf_counter(), time.process_time()
        for b in batches:
            live.ingest(b)
        timings["live, no checkpoints"].append(time.perf_counter() - t)
        cpu["live, no checkpoints"].append(time.process_time() - c)
        for n, name in zip(every, names[2:], strict=True):
            path = tmp / f"live-{r}-{n}.db"
            live = LiveDetector(
                engine, checkpoints=str(path), checkpoint_every_points=n, checkpoint_every_seconds=None
            )
            t, c = time.perf_counter(), time.process_time()
            for i, b in enumerate(batches):
                live.ingest(b, cursor=i)
            timings[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            checkpoint_counts[name] = live.stats.checkpoints
    out["rows"] = [
        {
            "name": name,
            "wall_s": statistics.median(timings[name]),
            "points_per_s": n_points / statistics.median(timings[name]),
            "cpu_s": statistics.median(cpu[name]),
            "points_per_cpu_s": n_points / statistics.median(cpu[name]),
        }
        for name in names
    ]
    out["checkpoints"] = checkpoint_counts
    return out


def memory_section(args: argparse.Namespace) -> dict[str, Any]:
    configs: tuple[tuple[str, dict[str, Any]], ...] = (
        ("default zscore", {}),
        ("zscore, classify=False", {"classify": False}),
    )
    if args.history_points:
        configs += (
            (
                f"zscore, classifier_history_points={args.history_points}",
                {"classifier_history_points": args.history_points},
            ),
        )
    out = {}
    for label, config in configs:
        engine = EngineRegistry.default().create("zscore", **config)
        # Past the classifier's history (and a few days of the daily profile), so that every buffer
        # is at its steady-state size.
        points = max(5000, 2 * engine.context_points + 1000)
        cfg = FleetConfig.uniform(
            tenants=1, clusters=1, nodes_per_cluster=5, points=points, step_seconds=60, seed=9
        )
        series = list(Fleet(cfg).iter_series())[: args.memory_series]
        batches = live_batches(series, 50)
        tracemalloc.start()
        live = LiveDetector(engine)
        for b in batches:
            live.ingest(b)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        blob = sum(
            len(pickle.dumps(s.export(), protocol=pickle.HIGHEST_PROTOCOL)) for s in live._series.values()
        )
        n = len(series)
        out[label] = {
            "series": n,
            "points_per_series": points,
            "retained_bytes_per_series": current / n,
            "peak_bytes_per_series": peak / n,
            "checkpoint_bytes_per_series": blob / n,
        }
        del live
    return out


def estimate(batch: dict[str, Any], live: dict[str, Any], memory: dict[str, Any]) -> dict[str, Any]:
    """Machines for 1,000,000 series at one point every 10 s, from the measured figures."""
    rate_needed = 1_000_000 / 10
    live_rows = {r["name"]: r for r in live["rows"]}
    per_core = live_rows["live, no checkpoints"]["points_per_cpu_s"]
    with_checkpoints = live_rows["live, checkpoint every 100,000 points"]["points_per_cpu_s"]
    mem = memory["default zscore"]["retained_bytes_per_series"]
    mem_lean = memory["zscore, classify=False"]["retained_bytes_per_series"]
    blob = memory["default zscore"]["checkpoint_bytes_per_series"]
    return {
        "points_per_s_needed": rate_needed,
        "live_points_per_s_per_core": per_core,
        "cores_needed": rate_needed / per_core,
        "cores_needed_checkpoint_every_100k_points": rate_needed / with_checkpoints,
        "memory_gb_default": 1_000_000 * mem / 1e9,
        "memory_gb_lean": 1_000_000 * mem_lean / 1e9,
        "checkpoint_gb_per_full_checkpoint": 1_000_000 * blob / 1e9,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=128)
    parser.add_argument("--points", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--live-series", type=int, default=160)
    parser.add_argument("--live-points", type=int, default=2000)
    parser.add_argument("--memory-series", type=int, default=40)
    parser.add_argument(
        "--history-points", type=int, default=None, help="also measure this classifier_history_points"
    )
    parser.add_argument("--skip", choices=("batch", "live", "memory"), action="append", default=[])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(
        f"machine: {machine_description()}; Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.1f}"
    )
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "batch" not in args.skip:
            batch = report["batch"] = batch_section(args, Path(tmp))
            print(
                f"\nbatch: zscore over {batch['series']} series, {batch['points']:,} points "
                f"(median of {args.repeat})"
            )
            print(
                "| run | wall s | points/s | vs one process (median of rounds; range) "
                "| CPU s (client + workers) | cores busy | critical path CPU s | projected on idle cores |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for r in batch["rows"]:
                lo, hi = r["speedup_range"]
                print(
                    f"| {r['name']} | {r['wall_s']:.2f} | {r['points_per_s']:,.0f} | {r['speedup']:.2f}x "
                    f"({lo:.2f}-{hi:.2f}) | {r['cpu_s']:.2f} | {r['cores_busy']:.2f} "
                    f"| {r['critical_cpu_s']:.2f} | {r['projected']:.2f}x |"
                )
            print("start-up (s): " + ", ".join(f"{k} {v:.2f}" for k, v in batch["startup_s"].items()))
        if "live" not in args.skip:
            live = report["live"] = live_section(args, Path(tmp))
            print(
                f"\nlive: {live['series']} series, {live['points']:,} points "
                f"in batches of {live['batch_points']:,}; checkpoints: {live['checkpoints']}"
            )
            print("| path | wall s | points/s | CPU s | points per CPU second |")
            print("|---|---:|---:|---:|---:|")
            for r in live["rows"]:
                print(
                    f"| {r['name']} | {r['wall_s']:.2f} | {r['points_per_s']:,.0f} | {r['cpu_s']:.2f} "
                    f"| {r['points_per_cpu_s']:,.0f} |"
                )
        if "memory" not in args.skip:
            memory = report["memory"] = memory_section(args)
            print("\nmemory per live series (steady state, tracemalloc)")
            print("| engine | retained KB | peak KB | checkpoint KB |")
            print("|---|---:|---:|---:|")
            for label, m in memory.items():
                print(
                    f"| {label} | {m['retained_bytes_per_series'] / 1e3:.0f} "
                    f"| {m['peak_bytes_per_series'] / 1e3:.0f} "
                    f"| {m['checkpoint_bytes_per_series'] / 1e3:.0f} |"
                )
        if {"batch", "live", "memory"}.isdisjoint(args.skip):
            est = report["estimate"] = estimate(report["batch"], report["live"], report["memory"])
            print(
                "\nestimate for 1,000,000 series at 10 s: "
                + json.dumps({k: round(v, 2) for k, v in est.items()})
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
