"""Fleet-scale runs: one engine over many series, partitioned across processes or a Dask cluster.

* :func:`detect_fleet` runs an engine over every series of a
  :class:`SeriesSource` and returns a :class:`FleetRun` (``results`` in a
  deterministic order, node/cluster/tenant ``aggregates``, ``failures`` by
  series key), reporting :class:`FleetProgress` as partitions complete.
* Sources (picklable descriptions; each worker loads its own partition):
  :class:`StoreSource` (a SQLite store file), :class:`CsvDirectorySource`
  (a directory of CSV files), :class:`ListSource` (series in memory).
* Executors: :class:`InlineExecutor` (serial), :func:`local_executor` (a
  process pool, the default), :func:`dask_executor` (the ``[dask]`` extra;
  :func:`local_dask_cluster` starts a loopback cluster to try it on);
  any :class:`concurrent.futures.Executor` works.

>>> from datetime import datetime, timedelta, timezone
>>> from backend.analytics import MetricSeries
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> stamps = [t0 + timedelta(minutes=i) for i in range(300)]
>>> series = [MetricSeries("acme", "c-1", f"n-{k}", "cpu", stamps, [10.0 + (i % 7) * 0.1 for i in range(300)])
...           for k in range(3)]
>>> run = detect_fleet(ListSource(series), "zscore", executor=InlineExecutor())
>>> len(run.results), run.ok, [a.node_id for a in run.aggregates.nodes]
(90, True, ['n-0', 'n-1', 'n-2'])

See ``docs/fleet.md`` for the walk-through, and ``python -m backend.analytics
fleet`` for the command line.
"""

from __future__ import annotations

from ._executors import DaskExecutor, InlineExecutor, dask_executor, local_dask_cluster, local_executor
from ._run import FleetProgress, FleetRun, detect_fleet
from ._sources import CsvDirectorySource, ListSource, SeriesSource, StoreSource

__all__ = [
    "CsvDirectorySource",
    "DaskExecutor",
    "FleetProgress",
    "FleetRun",
    "InlineExecutor",
    "ListSource",
    "SeriesSource",
    "StoreSource",
    "dask_executor",
    "detect_fleet",
    "local_dask_cluster",
    "local_executor",
]
