"""Plugin engines next to the built-in ``zscore`` on the same series, in one run.

Run (in an environment where the plugins are installed, e.g. the venv that
``.ci/plugins.sh`` builds for merlion, after ``pip install -e plugins/prophet -e plugins/template``)::

    python benchmarks/bench_plugins.py [--csv PATH] [--repeat 3]

For each engine found in ``EngineRegistry.default()`` it times ``detect`` on
one NAB series (default ``art_daily_jumpsup.csv``, 4032 points at 5 minutes,
from ``../shared/data/nab`` beside the repository or ``$BACKEND_ANALYTICS_NAB``):
the first call (which includes importing the library, starting the JVM,
compiling) and the best of ``--repeat`` further calls. ``points/s`` is the
series length over the best time. ``zscore`` is the reference measured in the
same run. Every engine uses the same windows (12 points, stride 6); the
causal Merlion and Prophet engines train on the first quarter of the series.
The last column says whether the top-scoring window overlaps NAB's labelled
anomaly window. Engines that are not installed are listed as such.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backend.analytics import EngineRegistry, MetricSeries

ROOT = Path(__file__).resolve().parents[1]


def nab_root() -> Path:
    env = os.environ.get("BACKEND_ANALYTICS_NAB")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "nab"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text[:19].replace(" ", "T")).replace(tzinfo=timezone.utc)


def load(path: Path) -> tuple[MetricSeries, list[tuple[datetime, datetime]]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    us = [int(utc(r[0]).timestamp()) * 1_000_000 for r in rows]
    series = MetricSeries.from_arrays("bench", "nab", "node", path.stem, us, [float(r[1]) for r in rows])
    key = f"{path.parent.name}/{path.name}"
    labels_file = path.parents[2] / "labels" / "combined_windows.json"
    windows: list[tuple[datetime, datetime]] = []
    if labels_file.is_file():
        labelled = json.loads(labels_file.read_text()).get(key, [])
        windows = [(utc(a), utc(b)) for a, b in labelled]
    return series, windows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_csv = nab_root() / "data" / "artificialWithAnomaly" / "art_daily_jumpsup.csv"
    parser.add_argument("--csv", type=Path, default=default_csv, help="a NAB-format CSV (timestamp,value)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls after the first (best is kept)")
    args = parser.parse_args()

    series, labelled = load(args.csv)
    n = len(series)
    train = n // 4
    windows = {"window_size_points": 12, "stride_points": 6}
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("zscore", "zscore", {}),
        ("median_mad", "median_mad (template)", {}),
        ("merlion", "merlion zms", {"model": "zms"}),
        ("merlion", "merlion isolation_forest", {"model": "isolation_forest"}),
        ("merlion", "merlion default", {"model": "default"}),
        (
            "merlion_causal",
            "merlion_causal zms",
            {"model": "zms", "train_points": train, "chunk_points": 288},
        ),
        (
            "merlion_causal",
            "merlion_causal isolation_forest",
            {"model": "isolation_forest", "train_points": train, "chunk_points": 288},
        ),
        (
            "merlion_causal",
            "merlion_causal default",
            {"model": "default", "train_points": train, "chunk_points": 288},
        ),
        ("prophet", "prophet", {"train_points": train}),
    ]
    registry = EngineRegistry.default()
    print(f"series: {args.csv.name}, {n} points; python {platform.python_version()}, {platform.machine()}")
    print(f"engines installed: {', '.join(registry.names())}")
    header = (
        f"{'engine':34} {'first call s':>12} {'best s':>9} {'points/s':>11} {'x zscore':>9}"
        "  top window in label"
    )
    print(header)
    print("-" * len(header))
    reference: float | None = None
    for name, label, config in cases:
        if name not in registry:
            reason = registry.failures().get(name)
            print(f"{label:34} not installed{f' ({reason})' if reason else ''}")
            continue
        engine = registry.create(name, **windows, **config)
        t0 = time.perf_counter()
        results = engine.detect(series)
        first = time.perf_counter() - t0
        best = math.inf
        for _ in range(max(0, args.repeat)):
            t0 = time.perf_counter()
            engine.detect(series)
            best = min(best, time.perf_counter() - t0)
        best = min(best, first) if math.isinf(best) else best
        if name == "zscore":
            reference = best
        top = max(results, key=lambda r: r.anomaly_score) if results else None
        hit = (
            "n/a"
            if top is None or not labelled
            else ("yes" if any(top.window_start <= b and top.window_end >= a for a, b in labelled) else "no")
        )
        ratio = f"{best / reference:9.1f}" if reference else f"{'':9}"
        print(f"{label:34} {first:12.3f} {best:9.3f} {n / best:11,.0f} {ratio}  {hit}")


if __name__ == "__main__":
    main()
