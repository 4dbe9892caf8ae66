"""Throughput of the ``novelty`` engine's streaming core, next to references measured in the same run.

Run (from the repository root)::

    python benchmarks/bench_novelty.py [--points 1000000] [--repeat 3]

Measured on the same seeded data (a daily-periodic signal with noise, spikes
and a level shift, so the novelty branches are exercised):

- ``reference: sum loop``: a plain Python ``for`` loop summing the values (the
  cheapest per-point loop pure Python can run);
- ``reference: EWMA loop``: a loop keeping an exponentially weighted mean and
  deviation, about the least a streaming detector does per point;
- ``NoveltyScorer.update_many``: the streaming core on the whole list;
- ``NoveltyScorer.update``: the same core fed one value per call (a live service);
- ``NoveltyEngine.detect``: the engine on a ``MetricSeries``, results included.

The target is at least 200,000 points/s for the streaming core on one core.
Shared machines are noisy: compare the ratios to the references, not the
absolute numbers. Prints the machine, Python and date.
"""

from __future__ import annotations

import argparse
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
from backend.analytics.engines.novelty import NoveltyEngine, NoveltyScorer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000, help="points per run (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept (default 3)")
    args = parser.parse_args(argv)
    n, repeat = args.points, args.repeat
    values = make_values(n)
    print("novelty streaming-core benchmark")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    machine = f"{platform.machine()} {platform.processor() or ''}".rstrip()
    print(f"date {now}  python {platform.python_version()}  machine {machine}")
    print(f"points {n:,}  best of {repeat}")

    def one_by_one() -> None:
        scorer = NoveltyScorer()
        update = scorer.update
        for v in values:
            update(v)

    detect_n = min(n, 200_000)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    start_us = int((t0 - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 1_000_000
    series = MetricSeries.from_arrays(
        "bench",
        "c",
        "n",
        "m",
        [start_us + 300_000_000 * i for i in range(detect_n)],
        values[:detect_n],
    )
    engine = NoveltyEngine()
    rows = [
        ("reference: sum loop", n, best_of(lambda: sum_loop(values), repeat)),
        ("reference: EWMA loop", n, best_of(lambda: ewma_loop(values), repeat)),
        ("NoveltyScorer.update_many", n, best_of(lambda: NoveltyScorer().update_many(values), repeat)),
        ("NoveltyScorer.update (one call per point)", n, best_of(one_by_one, repeat)),
        ("NoveltyEngine.detect (results included)", detect_n, best_of(lambda: engine.detect(series), 1)),
    ]
    ref = rows[0][1] / rows[0][2]
    print(f"{'what':44s} {'points/s':>12s} {'vs sum loop':>12s}")
    for name, count, secs in rows:
        rate = count / secs
        print(f"{name:44s} {rate:12,.0f} {rate / ref:12.3f}")
    core = rows[2][1] / rows[2][2]
    verdict = "meets" if core >= 200_000 else "misses"
    print(f"streaming core: {core:,.0f} points/s ({verdict} the 200,000 points/s target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
