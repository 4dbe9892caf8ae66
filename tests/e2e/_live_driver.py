"""A live-detection process for tests/e2e/test_live_restart.py: simulated batches in, results to the store.

python -m tests.e2e._live_driver --db FILE [--delay SECONDS]

Feeds a simulated fleet (8 series of 2 tenants) in time slices of ``--batch``
points per series to a checkpointed LiveDetector whose sink is the store; the
slice index is the cursor. On start it resumes from the detector's checkpoint
(if any) and skips the slices the checkpoint covers. Prints one line per slice.
"""

from __future__ import annotations

import argparse
import sys
import time

from backend.analytics.live import LiveDetector, LivePoint
from backend.analytics.store import SQLiteMetricStore
from simulator import Fleet, FleetConfig


def fleet() -> Fleet:
    cfg = FleetConfig.uniform(
        tenants=2, clusters=1, nodes_per_cluster=2, points=900, seed=21, metrics=("cpu", "memory")
    )
    return Fleet(cfg)


def batches(batch: int) -> list[list[LivePoint]]:
    """The input: every series' points of each time slice, interleaved point by point."""
    out = []
    for chunk in fleet().iter_chunks(batch):
        rows = [
            LivePoint(*s.ids, t, v)
            for s in chunk
            for t, v in zip(s.timestamps, s.values.tolist(), strict=True)
        ]
        rows.sort(key=lambda p: p.timestamp)  # arrival order: by time, then series
        out.append(rows)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--batch", type=int, default=30)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--every-points", type=int, default=500)
    args = parser.parse_args()
    with SQLiteMetricStore(args.db) as store:
        live = LiveDetector(
            "zscore",
            checkpoints=args.db,
            checkpoint_every_points=args.every_points,
            checkpoint_every_seconds=None,
            sink=store,
        )
        print(f"resumed at {live.cursor}", flush=True)
        start = -1 if live.cursor is None else int(live.cursor)
        for i, rows in enumerate(batches(args.batch)):
            if i <= start:
                continue
            live.ingest(rows, cursor=i)
            print(f"batch {i} checkpoints {live.stats.checkpoints}", flush=True)
            time.sleep(args.delay)
        live.flush()
        live.checkpoint()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
