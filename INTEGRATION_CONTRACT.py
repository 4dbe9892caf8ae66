#!/usr/bin/env python3
"""The integration contract of ``backend.analytics``: how services hand us metrics and read results.

Run ``python INTEGRATION_CONTRACT.py`` to check the contract against a fresh
temporary database; it prints one line per clause and exits non-zero if any
clause fails. Everything below is stdlib-only.

1. Open a store
---------------
::

    from backend.analytics.store import SQLiteMetricStore, RetentionPolicy
    store = SQLiteMetricStore("/var/lib/analytics/metrics.db",
                              policy=RetentionPolicy(hot_retention=timedelta(days=7),
                                                     rollup_interval=timedelta(hours=1)))

One file per deployment; WAL journal, ``synchronous=FULL``. The object may be
shared by threads (each thread gets its own connection); the file, by
processes, each opening its own store after it starts (SQLite's file locks;
writers queue for up to ``timeout`` seconds). A store object does not cross a
fork: used in a forked child it raises ``ValueError`` (SQLite connections
carried across ``fork()`` lose writes); start workers with ``spawn`` or
``forkserver``. Any class
with the same methods is a store: :class:`backend.analytics.store.MetricStore`
and :class:`~backend.analytics.store.ResultSink` are structural protocols.

2. Hand us metric points (``MetricStore``)
------------------------------------------
A series is named by four non-empty strings ``(tenant_id, cluster_id,
node_id, metric_name)``. Points are ``(timestamp, value)``: timestamps
timezone-aware ``datetime`` (any UTC offset; stored as integer microseconds
since the epoch, read back in UTC), strictly ascending within one call;
values finite real numbers. Three ways in, each **one atomic transaction**:

* ``store.write_points(tenant, cluster, node, metric, timestamps, values, metadata=None)``
* ``store.write_series(series)`` for a :class:`~backend.analytics.MetricSeries`
  (fastest: ``MetricSeries.from_arrays(..., epoch_us, values)``);
* ``store.write_batch(iterable_of_series)``: many series, all or nothing.

Writes are **idempotent** on ``(series, timestamp)``: resending a point (a
retry after a timeout, a replayed queue) never duplicates it; the **last
write wins**. Invalid input raises ``ValueError``/``TypeError`` naming the
field and index (``MetricSeries.values[17]: expected a finite number, got
nan``) and writes nothing.

3. Retention
------------
Points stay raw in the *hot* tier for ``hot_retention``. Call
``store.apply_retention(now)`` periodically (e.g. hourly from a scheduler):
older points are rolled into *cold* buckets of ``rollup_interval`` (mean, min,
max, count; epoch-aligned) and leave the hot tier. Afterwards, points older
than ``store.horizon`` are refused with ``ValueError`` (their bucket is
final). Reads span both tiers: a cold bucket reads as one point at the
bucket's start whose value is the bucket mean; ``store.get_rollup_buckets``
gives min/max/count.

4. Read series back
-------------------
``store.get_metric_series(tenant, cluster, node, metric, start, end)`` returns
the points with ``start <= t < end`` (aware datetimes required; a naive one
raises ``ValueError`` naming the argument; ``start > end`` is never read as
``[end, start)``: it returns no points or raises ``ValueError``, and the
reference store raises, naming both); an unknown series raises
:class:`~backend.analytics.store.SeriesNotFoundError` (a ``KeyError``).
``store.list_series(tenant, cluster_id=None, node_id=None)`` lists keys. Cost
is proportional to the points returned. Each read sees one committed state:
never half of a batch.

5. Take results back (``ResultSink``)
-------------------------------------
* ``store.write_results(results, engine=name)`` / ``store.read_results(tenant, cluster_id=...,
  node_id=..., metric_name=..., start=..., end=..., anomalous_only=False, engine=None)``:
  window verdicts (:class:`~backend.analytics.AnomalyResult`), keyed by series
  ids, window and engine; rewriting a window replaces that engine's verdict,
  and two engines' verdicts on the same window coexist (``engine=None`` reads
  them all).
* ``store.write_aggregates(scores, computed_at=t, engine=name)`` /
  ``store.read_aggregates(tenant, computed_at=None, engine=None)``: node, cluster
  and tenant scores (:class:`~backend.analytics.AggregatedAnomalyScore`, as
  ``AggregationPipeline`` returns them) as snapshots; the default read is the
  latest snapshot, tenant level first.

6. Tenants
----------
Every call is scoped by ``tenant_id``. Equal cluster, node and metric names
in two tenants are two unrelated series; no call returns another tenant's
data.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backend.analytics import (
    AggregationPipeline,
    AnomalyType,
    EngineRegistry,
    MetricSeries,
)
from backend.analytics.store import (
    MetricStore,
    ResultSink,
    RetentionPolicy,
    SeriesNotFoundError,
    SQLiteMetricStore,
)

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
EARLY = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)
POLICY = RetentionPolicy(hot_retention=timedelta(days=1), rollup_interval=timedelta(minutes=10))

Check = Callable[[SQLiteMetricStore], str]


class ContractViolationError(Exception):
    """A clause of the contract does not hold."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ContractViolationError(message)


def _minutes(n: int, start: datetime = T0) -> list[datetime]:
    return [start + i * MINUTE for i in range(n)]


def check_protocols(store: SQLiteMetricStore) -> str:
    """The reference store implements both protocols and runs in WAL mode."""
    # Checked member by member, with parameter names: isinstance() on a runtime protocol
    # only checks that the names exist (and caches its answer per class).
    for protocol in (MetricStore, ResultSink):
        for name, member in vars(protocol).items():
            if name.startswith("_") or not callable(member):
                continue
            impl = getattr(store, name, None)
            if not callable(impl):
                raise ContractViolationError(f"{type(store).__name__} lacks {protocol.__name__}.{name}")
            want = list(inspect.signature(member).parameters)[1:]
            got = list(inspect.signature(impl).parameters)
            _expect(got == want, f"{name}{tuple(got)} does not match {protocol.__name__}.{name}{tuple(want)}")
    mode = store._conn().execute("PRAGMA journal_mode").fetchone()[0]
    _expect(mode == "wal", f"journal_mode is {mode!r}, expected 'wal'")
    return "MetricStore + ResultSink, journal_mode=wal"


def check_handover_round_trip(store: SQLiteMetricStore) -> str:
    """Points written by a service read back exactly, in UTC, with microsecond timestamps."""
    plus2 = timezone(timedelta(hours=2))
    stamps = [t.astimezone(plus2) for t in _minutes(3)] + [T0 + 3 * MINUTE + timedelta(microseconds=1)]
    values = [0.5, -1e-300, 1e308, 42.0]
    n = store.write_points("acme", "c-1", "n-1", "cpu", stamps, values, metadata={"unit": "%"})
    got = store.get_metric_series("acme", "c-1", "n-1", "cpu", EARLY, FAR)
    _expect(n == 4, f"write_points returned {n}, expected 4")
    _expect(list(got.timestamps) == stamps, f"timestamps changed: {list(got.timestamps)}")
    _expect(all(t.utcoffset() == timedelta(0) for t in got.timestamps), "timestamps not in UTC")
    _expect(got.values.tolist() == values, f"values changed: {got.values.tolist()}")
    _expect(dict(got.metadata or {}) == {"unit": "%"}, f"metadata changed: {got.metadata}")
    return "4 points (offset +02:00, 1 us, 1e308) read back exactly in UTC"


def check_half_open_and_aware(store: SQLiteMetricStore) -> str:
    """Ranges are [start, end); naive datetimes are refused naming the argument; unknown is KeyError."""
    store.write_points("acme", "c-1", "n-2", "cpu", _minutes(10), [float(i) for i in range(10)])
    got = store.get_metric_series("acme", "c-1", "n-2", "cpu", T0 + 2 * MINUTE, T0 + 5 * MINUTE)
    _expect(got.values.tolist() == [2.0, 3.0, 4.0], f"[2 min, 5 min) gave {got.values.tolist()}")
    # A naive datetime is refused whichever argument it is (not read as UTC or local time).
    for argument, start, end in (
        ("start", T0.replace(tzinfo=None), FAR),
        ("end", T0, FAR.replace(tzinfo=None)),
    ):
        try:
            store.get_metric_series("acme", "c-1", "n-2", "cpu", start, end)
        except ValueError as exc:
            _expect(
                argument in str(exc) and "timezone-aware" in str(exc),
                f"message does not name {argument!r}: {exc}",
            )
        else:
            raise ContractViolationError(f"a naive {argument} datetime was accepted")
    # start > end: the clause promises the points with start <= t < end, and there are none;
    # a store may refuse the range (ValueError) but must not swap it into [end, start).
    try:
        backwards = store.get_metric_series("acme", "c-1", "n-2", "cpu", T0 + 5 * MINUTE, T0 + 2 * MINUTE)
    except ValueError:
        backwards_outcome = "ValueError"
    else:
        _expect(
            len(backwards) == 0,
            f"start > end returned {len(backwards)} points {backwards.values.tolist()} "
            f"(the range was swapped?), expected none or a ValueError",
        )
        backwards_outcome = "no points"
    try:
        store.get_metric_series("acme", "c-1", "n-2", "nope", T0, FAR)
    except SeriesNotFoundError:
        pass
    else:
        raise ContractViolationError("an unknown series did not raise SeriesNotFoundError")
    return (
        f"[2 min, 5 min) -> 3 points; naive start/end -> ValueError naming it; "
        f"start > end -> {backwards_outcome}; unknown -> KeyError"
    )


def check_idempotent(store: SQLiteMetricStore) -> str:
    """Resending points never duplicates them; the last write wins."""
    for _ in range(3):
        store.write_points("acme", "c-2", "n-1", "mem", _minutes(5), [1.0] * 5)
    store.write_points("acme", "c-2", "n-1", "mem", [T0 + 2 * MINUTE], [9.0])
    got = store.get_metric_series("acme", "c-2", "n-1", "mem", EARLY, FAR)
    _expect(got.values.tolist() == [1.0, 1.0, 9.0, 1.0, 1.0], f"after retries: {got.values.tolist()}")
    return "3 resends + 1 correction -> 5 points, corrected value kept"


def check_atomic_batch(store: SQLiteMetricStore) -> str:
    """A batch with a bad item lands not at all, whatever came before it in the batch."""
    good = MetricSeries("acme", "c-3", "n-1", "cpu", _minutes(100), [1.0] * 100)
    try:
        store.write_batch([good, "not a series"])  # type: ignore[list-item]
    except TypeError:
        pass
    else:
        raise ContractViolationError("a batch with a non-series item was accepted")
    _expect(store.list_series("acme", "c-3") == [], "part of a failed batch landed")
    _expect(store.write_batch([good]) == 100, "the same batch without the bad item did not land")
    return "failed batch left 0 of 100 points; retried batch landed 100"


def check_tenant_isolation(store: SQLiteMetricStore) -> str:
    """Equal cluster/node/metric names in two tenants never mix, in series or results."""
    store.write_points("zeta", "c-1", "n-1", "cpu", _minutes(2), [7.0, 8.0])
    acme = store.get_metric_series("acme", "c-1", "n-1", "cpu", EARLY, FAR)
    zeta = store.get_metric_series("zeta", "c-1", "n-1", "cpu", EARLY, FAR)
    _expect(zeta.values.tolist() == [7.0, 8.0], f"zeta reads {zeta.values.tolist()}")
    _expect(7.0 not in acme.values.tolist(), "acme reads zeta's points")
    keys = store.list_series("zeta")
    _expect([k.tenant_id for k in keys] == ["zeta"], f"zeta lists {keys}")
    return f"zeta sees {len(keys)} series of its own; acme's {len(acme)} points untouched"


def check_retention_spans_tiers(store: SQLiteMetricStore) -> str:
    """apply_retention rolls old points into mean buckets; reads span hot and cold tiers."""
    start = T0 - timedelta(days=2)
    store.write_points("acme", "c-9", "n-1", "disk", _minutes(30, start), [float(i) for i in range(30)])
    report = store.apply_retention(start + timedelta(days=1, minutes=20))
    got = store.get_metric_series("acme", "c-9", "n-1", "disk", EARLY, FAR)
    _expect(report.horizon == start + 20 * MINUTE, f"horizon {report.horizon}")
    _expect(got.values.tolist()[:2] == [4.5, 14.5], f"cold bucket means {got.values.tolist()[:2]}")
    _expect(got.values.tolist()[2:] == [float(i) for i in range(20, 30)], "hot points changed")
    try:
        store.write_points("acme", "c-9", "n-1", "disk", [start], [0.0])
    except ValueError:
        pass
    else:
        raise ContractViolationError("a point older than the horizon was accepted")
    return f"{report.points_rolled_up} points -> {report.buckets_written} buckets; 2 cold + 10 hot read back"


def check_results_flow(store: SQLiteMetricStore) -> str:
    """Series from the store -> zscore engine -> results and aggregates back into the store."""
    values = [10.0 + (i % 3) * 0.1 for i in range(120)]
    values[100] = 60.0
    store.write_points("acme", "c-5", "n-7", "latency", _minutes(120), values)
    series = store.get_metric_series("acme", "c-5", "n-7", "latency", EARLY, FAR)
    engine = EngineRegistry.default().create("zscore", window_size_points=10, stride_points=10)
    results = engine.detect(series)
    _expect(any(r.is_anomalous for r in results), "the injected spike was not detected")
    store.write_results(results, engine="zscore")
    store.write_results(results, engine="zscore")  # idempotent
    back = store.read_results("acme", cluster_id="c-5")
    _expect(back == results, "results did not round-trip")
    flagged = store.read_results("acme", anomalous_only=True, cluster_id="c-5")
    _expect(all(r.anomaly_label is not AnomalyType.NORMAL for r in flagged), "anomalous_only leaked")
    fleet = AggregationPipeline().run(results)
    snapshot = fleet.tenants + fleet.clusters + fleet.nodes
    store.write_aggregates(fleet, computed_at=T0 + 2 * timedelta(hours=1), engine="zscore")
    latest = store.read_aggregates("acme")
    _expect(sorted(latest, key=repr) == sorted(snapshot, key=repr), "aggregates did not round-trip")
    _expect(latest[0].level == "tenant", f"first aggregate is {latest[0].level}, expected tenant")
    _expect(store.read_results("zeta") == [] and store.read_aggregates("zeta") == [], "results leaked")
    return (
        f"{len(results)} results ({len(flagged)} anomalous) and {len(latest)} aggregates "
        f"(tenant score {latest[0].aggregate_score:.2f}) round-tripped"
    )


def check_durable_reopen(store: SQLiteMetricStore) -> str:
    """Everything committed is there after closing and reopening the database."""
    before = {key: len(store.get_metric_series(*key, EARLY, FAR)) for key in store.list_series("acme")}
    store.close()
    with SQLiteMetricStore(store.path) as again:
        after = {key: len(again.get_metric_series(*key, EARLY, FAR)) for key in again.list_series("acme")}
        _expect(again.policy == POLICY, f"policy not persisted: {again.policy}")
    _expect(before == after, f"reopen changed the data: {before} != {after}")
    return f"{len(after)} series, {sum(after.values())} points identical after reopen"


CHECKS: list[Check] = [
    check_protocols,
    check_handover_round_trip,
    check_half_open_and_aware,
    check_idempotent,
    check_atomic_batch,
    check_tenant_isolation,
    check_retention_spans_tiers,
    check_results_flow,
    check_durable_reopen,
]


def run(directory: Path, checks: list[Check] | None = None) -> list[tuple[str, bool, str]]:
    """Run ``checks`` (default: all) in order against a new store in ``directory``."""
    outcomes = []
    store = SQLiteMetricStore(directory / "contract.db", policy=POLICY)
    try:
        for check in CHECKS if checks is None else checks:
            name = check.__name__.removeprefix("check_")
            try:
                outcomes.append((name, True, check(store)))
            except Exception as exc:  # a broken clause must not hide the others
                outcomes.append((name, False, f"{type(exc).__name__}: {exc}"))
    finally:
        store.close()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """Check the contract against a temporary database; print a checklist; 0 if all clauses hold."""
    del argv
    with tempfile.TemporaryDirectory(prefix="analytics-contract-") as tmp:
        outcomes = run(Path(tmp))
    width = max(len(name) for name, _, _ in outcomes)
    for name, ok, detail in outcomes:
        print(f"[{'PASS' if ok else 'FAIL'}] {name:<{width}}  {detail}")
    failed = sum(not ok for _, ok, _ in outcomes)
    print(f"{len(outcomes) - failed}/{len(outcomes)} contract clauses hold")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
