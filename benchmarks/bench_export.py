"""What ``export --serve`` reads at each scrape: every stored result, or each series' latest.

Run (from the repository root)::

    python benchmarks/bench_export.py                      # 32 series x 26,000 windows (832,000 results)
    python benchmarks/bench_export.py --series 8 --windows 1000   # a quick look

A store in a temporary folder gets ``--series`` series of ``--windows`` 10-minute
results each (one tenant, one engine). Both reads then render the exposition
text, as a scrape does; each is timed once, in the same run (the machine is
shared: compare the two, not the absolute seconds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.analytics import AnomalyResult, AnomalyType  # noqa: E402
from backend.analytics.io.exposition import analytics_families, render  # noqa: E402
from backend.analytics.store import SQLiteMetricStore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=32, help="series (default 32)")
    parser.add_argument("--windows", type=int, default=26_000, help="results per series (default 26,000)")
    args = parser.parse_args(argv)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    step, normal = timedelta(minutes=10), AnomalyType.NORMAL
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteMetricStore(Path(tmp) / "x.db", synchronous="OFF")
        wrote = 0.0
        for k in range(args.series):
            node, metric = f"n{k % 8}", f"m{k // 8}"
            rows = [
                AnomalyResult("t", "c", node, metric, t0 + i * step, t0 + (i + 1) * step, 0.2, normal)
                for i in range(args.windows)
            ]
            start = time.perf_counter()
            store.write_results(rows, engine="zscore")
            wrote += time.perf_counter() - start
        total = args.series * args.windows
        print(f"write_results: {wrote:.2f} s for {total:,} results ({total / wrote:,.0f} results/s)")
        reads = (
            ("read_results (every result)", store.read_results),
            ("read_latest_results (each series' latest)", store.read_latest_results),
        )
        texts = []
        for name, read in reads:
            start = time.perf_counter()
            text = render(analytics_families(read("t", engine="zscore"), [], engine="zscore"))
            took = time.perf_counter() - start
            print(f"{name}: {took:.4f} s for a scrape of {total:,} results")
            texts.append(text)
        print("the same exposition text:", texts[0] == texts[1])
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
