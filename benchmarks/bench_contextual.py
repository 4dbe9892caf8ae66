"""Throughput of the ``contextual`` engine's streaming core, next to references measured in the same run.

Run (from the repository root)::

    python benchmarks/bench_contextual.py [--points 1000000] [--repeat 3] [--nab ../shared/data/nab]

Measured on the same seeded data (a daily-periodic signal with noise, rare
spikes and a level shift, so that the novelty branches are exercised):

- ``reference: sum loop``: a plain ``for`` loop summing the values, the
  cheapest per-point loop pure Python runs;
- ``reference: EWMA loop``: an exponentially weighted mean and deviation,
  about the least a streaming detector does per point;
- ``reference: bin + 5 set look-ups``: quantise each value and test five
  integer keys against five sets, the bare bones of any contextual detector;
- ``ContextualScorer.update_many``: the streaming core on the whole list;
- ``ContextualScorer.update``: the same core fed one value per call (a live service);
- ``ContextualEngine.detect``: the engine on a ``MetricSeries``, one result per
  point included (``classify=False``; the classifier runs only for anomalous
  windows and costs milliseconds each).

With ``--nab DIR`` the core also runs over the values of every file of a NAB
corpus (real series, each with a fresh scorer).

The target is at least 200,000 points/s for the streaming core on one core.
Shared machines are noisy: compare the ratios to the references, not the
absolute numbers. Prints the machine, Python and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from _reference import ewma_loop, make_values, sum_loop  # benchmarks/ is on sys.path
from _timing import best_of

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.analytics import MetricSeries  # noqa: E402
from backend.analytics.engines.contextual import ContextualEngine, ContextualScorer  # noqa: E402

TARGET = 200_000  # points/s for the streaming core


def set_lookup_loop(values: list[float]) -> int:
    """Quantise each value and look five integer keys up in five sets (learning the new ones)."""
    sets: list[set[int]] = [set() for _ in range(5)]
    a, b, c, d, e = sets
    new = 0
    for v in values:
        q = int((v + 1000.0) * 64.0)
        k = q >> 6
        if k in a and (k >> 1) in b and (k >> 2) in c and (k >> 3) in d and (k ^ 7) in e:
            continue
        new += 1
        a.add(k)
        b.add(k >> 1)
        c.add(k >> 2)
        d.add(k >> 3)
        e.add(k ^ 7)
    return new


def nab_values(root: Path) -> list[list[float]]:
    """The values column of every ``data/<category>/<file>.csv`` under ``root``, in name order."""
    out: list[list[float]] = []
    data = root / "data"
    for category in sorted(os.listdir(data)):
        for name in sorted(os.listdir(data / category)):
            if not name.endswith(".csv"):
                continue
            with open(data / category / name, encoding="utf-8") as handle:
                next(handle)
                out.append([float(line.rsplit(",", 1)[1]) for line in handle if line.strip()])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000, help="points per run (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept (default 3)")
    parser.add_argument("--nab", type=Path, default=None, help="also run over a NAB corpus root")
    args = parser.parse_args(argv)
    n, repeat = args.points, args.repeat
    values = make_values(n)
    print("contextual streaming-core benchmark")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    machine = f"{platform.machine()} {platform.processor() or ''}".rstrip()
    print(f"date {now}  python {platform.python_version()}  machine {machine} ({os.cpu_count()} cpus)")
    print(f"points {n:,}  best of {repeat}")

    def one_by_one() -> None:
        scorer = ContextualScorer()
        update = scorer.update
        for v in values:
            update(v)

    detect_n = min(n, 200_000)
    start_us = 1_704_067_200 * 1_000_000  # 2024-01-01T00:00:00Z
    series = MetricSeries.from_arrays(
        "bench", "c", "n", "m", [start_us + 300_000_000 * i for i in range(detect_n)], values[:detect_n]
    )
    engine = ContextualEngine(classify=False)
    rows = [
        ("reference: sum loop", n, best_of(lambda: sum_loop(values), repeat)),
        ("reference: EWMA loop", n, best_of(lambda: ewma_loop(values), repeat)),
        ("reference: bin + 5 set look-ups", n, best_of(lambda: set_lookup_loop(values), repeat)),
        ("ContextualScorer.update_many", n, best_of(lambda: ContextualScorer().update_many(values), repeat)),
        ("ContextualScorer.update (one call per point)", n, best_of(one_by_one, repeat)),
        ("ContextualEngine.detect (results included)", detect_n, best_of(lambda: engine.detect(series), 1)),
    ]
    if args.nab is not None:
        files = nab_values(args.nab)
        total = sum(len(f) for f in files)

        def over_corpus() -> None:
            for f in files:
                ContextualScorer().update_many(f)

        rows.append((f"ContextualScorer over NAB ({len(files)} files)", total, best_of(over_corpus, repeat)))
    ref = rows[1][1] / rows[1][2]
    print(f"{'what':46s} {'points/s':>12s} {'vs EWMA loop':>13s}")
    for name, count, secs in rows:
        rate = count / secs
        print(f"{name:46s} {rate:12,.0f} {rate / ref:13.3f}")
    core = rows[3][1] / rows[3][2]
    verdict = "meets" if core >= TARGET else "misses"
    print(f"streaming core: {core:,.0f} points/s ({verdict} the {TARGET:,} points/s target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
