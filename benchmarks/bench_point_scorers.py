"""Throughput of the built-in streaming point scorers, next to reference loops in the same run.

Run: python benchmarks/bench_point_scorers.py [--points 1000000] [--repeat 3]

The scorers are the cores of the ``novelty``, ``contextual`` and ``combined``
engines, and the shape scorer inside ``combined``: plain floats in, one score
per point out (``update_many``). The
references are a bare loop summing the values and an EWMA mean/deviation loop,
timed on the same values in the same process, because these shared machines
are noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from datetime import datetime, timezone

from _reference import ewma_loop, make_values, sum_loop  # benchmarks/ is on sys.path
from _timing import best_of

from backend.analytics.engines import CombinedScorer, ContextualScorer, NoveltyScorer
from backend.analytics.engines._shape import ShapeScorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    values = make_values(args.points)
    n = len(values)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; points: {n:,}; best of {args.repeat}")
    ref = best_of(lambda: sum_loop(values), args.repeat)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("reference: bare sum loop", lambda: sum_loop(values)),
        ("reference: EWMA mean/deviation loop", lambda: ewma_loop(values)),
        ("NoveltyScorer.update_many", lambda: NoveltyScorer().update_many(values)),
        ("ContextualScorer.update_many", lambda: ContextualScorer().update_many(values)),
        ("ShapeScorer.update_many (in combined)", lambda: ShapeScorer().update_many(values)),
        ("CombinedScorer.update_many", lambda: CombinedScorer().update_many(values)),
    ]
    print(f"{'what':40s} {'points/s':>14s} {'vs sum loop':>12s}")
    for label, fn in cases:
        t = best_of(fn, args.repeat)
        print(f"{label:40s} {n / t:14,.0f} {ref / t:12.3f}")


if __name__ == "__main__":
    main()
