"""Cost of the labelled detection path (issue 11, item 1): ``zscore`` with and without labels.

Two workloads, generated here (seeded, 1-minute steps):

- ``flat``: 128 series x 2,000 points, noise around a level, with spikes
  (8-15 sd) and one level shift per series;
- ``daily``: 16 series x 4,320 points (3 days), a daily cycle of 20 sd
  swing, with spikes and a level shift on the third day;
- ``long`` (not run by default): 8 series x 20,160 points (14 days) of the
  same cycle, 40 spikes and a shift each after the second day: the steady
  state of a long-lived series, past the young history.

For each, ``ZScoreEngine`` (64/16 windows, then its defaults) runs
``detect`` on every series with ``classify=True`` and ``classify=False`` in
the same run; the figures are CPU points per second (best of ``--repeat``
runs, ``time.process_time``: robust to other work on a shared machine), and
the ratio labelled / unlabelled, which says what the labels cost.
``--tree PATH`` imports ``backend`` from another checkout (a ``git archive``
of an earlier commit) to measure the code before a change the same way.

Run from the repository root::

    python benchmarks/bench_labels.py
    python benchmarks/bench_labels.py --tree /tmp/base   # the same on an older tree
    python benchmarks/bench_labels.py --workloads long   # 14 days a series: the steady state
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

_TREE = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--tree"), None)
sys.path.insert(0, _TREE or str(Path(__file__).resolve().parents[1]))

from backend.analytics import MetricSeries  # noqa: E402
from backend.analytics.engines.zscore import ZScoreEngine  # noqa: E402

_T0_US = 1_735_689_600_000_000
_MIN_US = 60_000_000


def _series(name: str, values: list[float]) -> MetricSeries:
    us = [_T0_US + i * _MIN_US for i in range(len(values))]
    return MetricSeries.from_arrays("t", "c", name, "m", us, values)


def workload(kind: str, seed: int = 11) -> list[MetricSeries]:
    """The ``flat``, ``daily`` or ``long`` workload (module docs)."""
    rng = random.Random(seed)
    out = []
    count, n = {"flat": (128, 2000), "daily": (16, 3 * 1440), "long": (8, 14 * 1440)}[kind]
    for k in range(count):
        level, sd = 50.0, 1.0
        vals = []
        e = 0.0
        for i in range(n):
            e = 0.3 * e + rng.gauss(0.0, sd * math.sqrt(1 - 0.09))
            cyc = 10.0 * math.sin(2 * math.pi * i / 1440) if kind != "flat" else 0.0
            vals.append(level + cyc + e)
        first = {"flat": n // 3, "daily": 2 * 1440, "long": 2 * 1440}[kind]
        for _ in range(8 if kind != "long" else 40):
            vals[rng.randrange(first, n)] += rng.choice((-1, 1)) * rng.uniform(8, 15) * sd
        shift_at = rng.randrange(first, n - 100)
        height = rng.choice((-1, 1)) * rng.uniform(8, 15) * sd
        for i in range(shift_at, n):
            vals[i] += height
        out.append(_series(f"n-{k}", vals))
    return out


def run(engine: ZScoreEngine, data: list[MetricSeries], repeat: int) -> tuple[float, Counter[str]]:
    """Best CPU seconds of ``detect`` over ``data``, and the labels of anomalous windows."""
    best = math.inf
    labels: Counter[str] = Counter()
    for _ in range(repeat):
        labels = Counter()
        t = time.process_time()
        for s in data:
            for r in engine.detect(s):
                if r.is_anomalous:
                    labels[r.anomaly_label.value] += 1
        best = min(best, time.process_time() - t)
    return best, labels


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", help="import backend from this checkout instead")
    parser.add_argument("--workloads", default="flat,daily")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; tree {args.tree or 'this checkout'}"
    )
    for kind in args.workloads.split(","):
        data = workload(kind)
        points = sum(len(s) for s in data)
        print(f"workload {kind}: {len(data)} series, {points} points")
        for title, settings in (("64/16", {"window_size_points": 64, "stride_points": 16}), ("defaults", {})):
            plain, _ = run(ZScoreEngine(classify=False, **settings), data, args.repeat)  # type: ignore[arg-type]
            labelled, labels = run(ZScoreEngine(**settings), data, args.repeat)  # type: ignore[arg-type]
            print(
                f"  zscore {title:8}: labels {points / labelled / 1e3:8.1f} k points/s CPU, "
                f"classify=False {points / plain / 1e3:8.1f} k points/s; labelled/plain "
                f"{plain / labelled:5.2f}x the speed; anomalous windows by label "
                f"{dict(sorted(labels.items()))}"
            )


if __name__ == "__main__":
    main()
