"""CI check: a simulated multi-tenant fleet through a real 2-worker dask LocalCluster equals the serial run.

Run by ``.ci/dask.sh`` (which bounds it with ``timeout``). The fleet is written to
a SQLite store; the workers open the store themselves and send back results only.
Exits 1 with a message on any difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from backend.analytics.fleet import (
    InlineExecutor,
    StoreSource,
    dask_executor,
    detect_fleet,
    local_dask_cluster,
)
from backend.analytics.store import SQLiteMetricStore
from simulator import Fleet, FleetConfig
from simulator.output import write_to_store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--points", type=int, default=1500)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the cluster")
    args = parser.parse_args()
    cfg = FleetConfig.uniform(
        tenants=args.tenants, clusters=2, nodes_per_cluster=2, noisy_tenants=1, points=args.points, seed=12
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.db"
        with SQLiteMetricStore(path) as store:
            written = write_to_store(Fleet(cfg), store)
        print(f"stored {written:,} points of {len(Fleet(cfg))} series, {args.tenants} tenants, in {path}")
        source = StoreSource(path)
        t = time.perf_counter()
        serial = detect_fleet(source, "zscore", executor=InlineExecutor())
        print(f"serial: {len(serial.results):,} results in {time.perf_counter() - t:.1f} s")
        with local_dask_cluster(2) as cluster:
            print(f"LocalCluster at {cluster.scheduler_address} with {len(cluster.workers)} workers")
            executor = dask_executor(cluster.scheduler_address, timeout=args.timeout)
            try:
                t = time.perf_counter()
                run = detect_fleet(source, "zscore", executor=executor)
                print(f"dask: {len(run.results):,} results in {time.perf_counter() - t:.1f} s")
            finally:
                executor.shutdown()
    problems = []
    if not run.ok or not serial.ok:
        problems.append(f"failures: dask {dict(run.failures)!r}, serial {dict(serial.failures)!r}")
    if run.results != serial.results:
        problems.append("the results differ from the serial run's")
    if run.aggregates != serial.aggregates:
        problems.append("the aggregates differ from the serial run's")
    if len({a.tenant_id for a in run.aggregates.tenants}) != args.tenants:
        problems.append(f"expected {args.tenants} tenants' aggregates, got {len(run.aggregates.tenants)}")
    if problems:
        print("ERROR: " + "; ".join(problems))
        return 1
    anomalous = sum(1 for r in run.results if r.is_anomalous)
    print(
        f"equal to the serial run: {len(run.results):,} results ({anomalous:,} anomalous), aggregates equal"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
