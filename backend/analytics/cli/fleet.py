"""``fleet``: run an engine over every stored series of every tenant (or some), in parallel.

python -m backend.analytics fleet --store DB [--engine zscore] [--workers N | --scheduler ADDRESS]
    [--tenant T ...] [--partitions N] [--set KEY=VALUE ...] [--quiet]

Workers open the store themselves and send back only results; the results and
the node, cluster and tenant aggregates are written back to the store under
the engine's name. A progress line is written to stderr. Exit status 0 when
every series was processed; 1 when some failed (each is listed on stderr, and
the results of the others are stored all the same).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any

from ..fleet import FleetProgress, StoreSource, dask_executor, detect_fleet, local_executor
from ._common import add_store, open_store, parse_settings
from ._console import ProgressLine

__all__ = ["add_parser"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value}")
    return value


class _ProgressLine:
    """The run's progress on stderr (:class:`ProgressLine`), ended when the run is done."""

    def __init__(self) -> None:
        self.line = ProgressLine()

    def __call__(self, p: FleetProgress) -> None:
        self.line.show(f"fleet: {p}", final=p.partitions_done == p.partitions_total)


def _fleet(args: argparse.Namespace) -> int:
    open_store(args.store, create=False).close()  # a clear error for a missing file
    source = StoreSource(args.store, tenants=args.tenant)
    settings = parse_settings(args.set)
    executor: Executor = dask_executor(args.scheduler) if args.scheduler else local_executor(args.workers)
    if getattr(executor, "workers", None) == 0:
        sys.stderr.write(
            f"fleet: the scheduler at {args.scheduler} has no workers yet; the run waits until one joins "
            "(Ctrl-C to stop)\n"
        )
    started = time.perf_counter()
    try:
        run = detect_fleet(
            source,
            args.engine,
            settings,
            executor=executor,
            partitions=args.partitions,
            progress=None if args.quiet else _ProgressLine(),
        )
    finally:
        executor.shutdown()
    seconds = time.perf_counter() - started
    if run.series_total == 0:
        raise ValueError(
            f"no series to run in {args.store}" + (f" for tenants {args.tenant}" if args.tenant else "")
        )
    store = open_store(args.store, create=False)
    try:
        store.write_results(run.results, engine=args.engine)
        store.write_aggregates(run.aggregates, computed_at=datetime.now(timezone.utc), engine=args.engine)
    finally:
        store.close()
    anomalous = sum(1 for r in run.results if r.is_anomalous)
    tenants = len(run.aggregates.tenants)
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.workers or 'all'} local workers"
    print(
        f"{args.engine} on {run.series_ok:,} of {run.series_total:,} series "
        f"({tenants} tenant{'' if tenants == 1 else 's'}, {run.points:,} points) with {where} "
        f"in {seconds:.1f} s: {len(run.results):,} results, {anomalous:,} anomalous; stored in {args.store}"
    )
    for key, message in run.failures.items():
        print(f"failed: {'/'.join(key)}: {message}", file=sys.stderr)
    return 0 if run.ok else 1


def add_parser(sub: Any) -> None:
    """Register ``fleet``."""
    p = sub.add_parser(
        "fleet",
        help="run an engine over every stored series, in parallel (local processes or Dask)",
        description="Run an engine (default zscore) over every stored series of every tenant "
        "(or of --tenant), partitioned across local worker processes or a Dask cluster; store the results "
        "and the node, cluster and tenant aggregates under the engine's name. Exit status 1 if some series "
        "failed.",
    )
    add_store(p)
    p.add_argument("--engine", default="zscore", help="a registered engine name (default zscore)")
    p.add_argument("--tenant", action="append", metavar="T", help="run only this tenant (repeatable)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_positive, metavar="N", help="local worker processes (default: cores)"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="a Dask scheduler address (needs the [dask] extra)"
    )
    p.add_argument("--partitions", type=_positive, metavar="N", help="partitions (default: 8 per worker)")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="engine setting, e.g. window_size_points=6"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=_fleet)
