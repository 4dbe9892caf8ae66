"""backend.analytics.fleet: detect_fleet over the three sources, failures, progress, bounded submission."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backend.analytics import AggregationPipeline, AnomalyResult, EngineRegistry, MetricSeries
from backend.analytics.engines.zscore import ZScoreEngine
from backend.analytics.errors import UnknownEngineError
from backend.analytics.fleet import (
    CsvDirectorySource,
    FleetProgress,
    InlineExecutor,
    ListSource,
    SeriesSource,
    StoreSource,
    dask_executor,
    detect_fleet,
    local_dask_cluster,
    local_executor,
)
from backend.analytics.io import LoadError, write_csv
from backend.analytics.store import SeriesKey, SQLiteMetricStore
from simulator import Fleet, FleetConfig


def small_fleet(seed: int = 4, points: int = 400) -> list[MetricSeries]:
    cfg = FleetConfig.uniform(
        tenants=2, clusters=1, nodes_per_cluster=2, points=points, seed=seed, metrics=("cpu", "memory")
    )
    return list(Fleet(cfg).iter_series())


def serial(series: Sequence[MetricSeries]) -> list[AnomalyResult]:
    """The one-process reference: engine.detect on each series in order."""
    engine = EngineRegistry.default().create("zscore")
    return [r for s in series for r in engine.detect(s)]


class FailingEngine(ZScoreEngine):
    """zscore, except that it raises on the node named ``bad``."""

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        if time_series.node_id == "bad":
            raise ValueError("boom on purpose")
        return super().detect(time_series)


class CountingExecutor(Executor):
    """Runs tasks on a thread pool and records the most tasks submitted and not yet finished."""

    def __init__(self) -> None:
        self.inner = ThreadPoolExecutor(max_workers=2)
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self.lock:
            self.running += 1
            self.submitted += 1
            self.peak = max(self.peak, self.running)
        future = self.inner.submit(fn, *args, **kwargs)

        def done(_: Future[Any]) -> None:
            with self.lock:
                self.running -= 1

        future.add_done_callback(done)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_inline_thread_and_process_runs_equal_the_serial_loop() -> None:
    series = small_fleet()
    expected = serial(series)
    expected_aggregates = AggregationPipeline().run(expected)
    source = ListSource(series)
    with ThreadPoolExecutor(3) as threads, local_executor(2) as processes:
        for executor, partitions in ((InlineExecutor(), None), (threads, 5), (processes, 3)):
            run = detect_fleet(source, "zscore", executor=executor, partitions=partitions)
            assert list(run.results) == expected
            assert run.aggregates == expected_aggregates
            assert run.ok and run.series_total == len(series) == run.series_ok
            assert run.points == sum(len(s) for s in series)
            assert run.engine == "zscore"


def test_default_executor_is_a_local_pool() -> None:
    series = small_fleet(points=200)
    run = detect_fleet(ListSource(series), "zscore", {"window_size_points": 5, "stride_points": 5})
    engine = ZScoreEngine(window_size_points=5, stride_points=5)
    assert list(run.results) == [r for s in series for r in engine.detect(s)]


def test_store_source_reads_in_the_worker(tmp_path: Path) -> None:
    series = small_fleet()
    db = tmp_path / "m.db"
    with SQLiteMetricStore(db) as store:
        store.write_batch(reversed(series))
    source = StoreSource(db)
    keys = source.keys()
    assert keys == sorted(SeriesKey(*s.ids) for s in series)
    by_key = {SeriesKey(*s.ids): s for s in series}
    with local_executor(2) as pool:
        run = detect_fleet(source, "zscore", executor=pool)
    assert list(run.results) == serial([by_key[k] for k in keys])
    one = StoreSource(db, tenants=["tenant-2"])
    tenant_keys = one.keys()
    assert {k.tenant_id for k in tenant_keys} == {"tenant-2"}
    run2 = detect_fleet(one, "zscore", executor=InlineExecutor())
    assert list(run2.results) == [r for r in run.results if r.tenant_id == "tenant-2"]


def test_store_source_reads_a_file_replaced_under_its_path(tmp_path: Path) -> None:
    """A new snapshot moved over the path is read afresh in the same process, not the kept old one."""
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    snap = tmp_path / "snap.db"

    def publish(metrics: Sequence[str], n: int) -> None:
        new = tmp_path / "new.db"
        with SQLiteMetricStore(new) as store:
            for metric in metrics:
                stamps = [t0 + timedelta(minutes=i) for i in range(n)]
                store.write_points("acme", "c", "n", metric, stamps, [float(i % 5) for i in range(n)])
        new.replace(snap)

    publish(["m"], 100)
    assert detect_fleet(StoreSource(snap), "zscore", executor=InlineExecutor()).points == 100
    publish(["m", "m2"], 300)
    run = detect_fleet(StoreSource(snap), "zscore", executor=InlineExecutor())
    assert run.points == 600 and not run.failures
    source = StoreSource(snap)
    snap.unlink()
    with pytest.raises(FileNotFoundError, match=r"StoreSource: the store file .*snap\.db' cannot be read"):
        source.load([SeriesKey("acme", "c", "n", "m")])
    assert not snap.exists()  # (not created empty by opening it)


def test_sources_resolve_a_relative_path_on_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker in another directory reads the client's file, not one of the same name in its own."""
    series = small_fleet(points=50)
    monkeypatch.chdir(tmp_path)
    with SQLiteMetricStore("m.db") as store:
        store.write_batch(series)
    (tmp_path / "csv").mkdir()
    source, csv = StoreSource("m.db"), CsvDirectorySource("csv")
    assert source.path == str(tmp_path / "m.db") and csv.directory == str(tmp_path / "csv")
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # (the worker's directory, with no m.db: it must not matter)
    assert len(source.load(source.keys())) == len(series)
    assert not (elsewhere / "m.db").exists()


def test_a_process_keeps_the_last_few_stores_open(tmp_path: Path) -> None:
    """A worker reading a new snapshot each run holds at most a few stores, not every one it ever read."""
    from backend.analytics.fleet import _sources

    before = len(_sources._STORES)
    for k in range(_sources._KEEP + 3):
        path = tmp_path / f"snap-{k}.db"
        with SQLiteMetricStore(path) as store:
            store.write_batch(small_fleet(points=20)[:1])
        source = StoreSource(path)
        source.load(source.keys())
    assert len(_sources._STORES) <= max(before, _sources._KEEP)
    kept = [key[1] for key in _sources._STORES]
    assert str(tmp_path / f"snap-{_sources._KEEP + 2}.db") in kept and str(tmp_path / "snap-0.db") not in kept


def test_store_source_reads_the_calendars_first_and_last_instants(tmp_path: Path) -> None:
    """A series at either end of the calendar is read whole, datetime.max included."""
    first = datetime.min.replace(tzinfo=timezone.utc)
    last = datetime.max.replace(tzinfo=timezone.utc)
    early = [first + timedelta(hours=i) for i in range(48)]
    late = [last - timedelta(hours=47 - i) for i in range(48)]
    db = tmp_path / "m.db"
    with SQLiteMetricStore(db) as store:
        store.write_points("acme", "c", "n", "early", early, [float(i) for i in range(48)])
        store.write_points("acme", "c", "n", "late", late, [float(i) for i in range(48)])
    loaded = StoreSource(db).load(StoreSource(db).keys())
    assert [len(s) for s in loaded.values()] == [48, 48]
    assert loaded[SeriesKey("acme", "c", "n", "late")].timestamps[-1] == last
    assert loaded[SeriesKey("acme", "c", "n", "early")].timestamps[0] == first


def test_store_source_refuses_a_tenant_the_store_does_not_hold(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with SQLiteMetricStore(db) as store:
        store.write_batch(small_fleet(points=50))
    with pytest.raises(ValueError, match=r"has no tenant 'acmee'; its tenants: 'tenant-1', 'tenant-2'"):
        StoreSource(db, tenants=["tenant-1", "acmee"]).keys()


def test_csv_source_refuses_read_options_that_are_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="CsvDirectorySource: read_options must be a mapping of read_csv"):
        CsvDirectorySource(tmp_path, read_options="ab")  # type: ignore[arg-type]


def test_store_source_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="StoreSource: path must be an existing SQLite store file"):
        StoreSource(tmp_path / "missing.db")
    db = tmp_path / "m.db"
    SQLiteMetricStore(db).close()
    with pytest.raises(TypeError, match="StoreSource: tenants must be an iterable of tenant ids"):
        StoreSource(db, tenants="acme")
    with pytest.raises(ValueError, match=r"StoreSource: tenants\[1\] must be a tenant not listed twice"):
        StoreSource(db, tenants=["a", "a"])


def test_csv_directory_source(tmp_path: Path) -> None:
    series = small_fleet()
    for tenant in ("tenant-1", "tenant-2"):
        write_csv([s for s in series if s.tenant_id == tenant], tmp_path / f"{tenant}.csv")
    source = CsvDirectorySource(tmp_path)
    keys = source.keys()
    assert keys == sorted(SeriesKey(*s.ids) for s in series)
    by_key = {SeriesKey(*s.ids): s for s in series}
    with local_executor(2) as pool:
        run = detect_fleet(source, "zscore", executor=pool, partitions=3)
    assert list(run.results) == serial([by_key[k] for k in keys])


def test_csv_directory_source_refuses_bad_rows_and_split_series(tmp_path: Path) -> None:
    series = small_fleet(points=50)
    write_csv(series[:2], tmp_path / "a.csv")
    write_csv(series[1:3], tmp_path / "b.csv")
    with pytest.raises(ValueError, match="is in both"):
        CsvDirectorySource(tmp_path).keys()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.csv").write_text(
        "tenant_id,cluster_id,node_id,metric_name,timestamp,value\n"
        "t,c,n,m,2024-05-01T00:00:00Z,1.0\nt,c,n,m,2024-05-01T00:01:00Z,oops\n",
        encoding="utf-8",
    )
    with pytest.raises(LoadError, match="line 3: refused: value 'oops' is not a number"):
        CsvDirectorySource(bad).keys()
    with pytest.raises(ValueError, match="CsvDirectorySource: directory must be an existing directory"):
        CsvDirectorySource(tmp_path / "nope")


def test_a_failing_series_is_reported_and_the_rest_completes() -> None:
    series = small_fleet(points=200)
    t = series[0]
    bad = MetricSeries(t.tenant_id, t.cluster_id, "bad", "cpu", list(t.timestamps), t.values.tolist())
    mixed = [*series[:3], bad, *series[3:]]
    with ThreadPoolExecutor(2) as pool:
        run = detect_fleet(ListSource(mixed), FailingEngine(), executor=pool, partitions=4)
    key = SeriesKey(*bad.ids)
    assert dict(run.failures) == {key: "ValueError: boom on purpose"}
    assert not run.ok and run.series_ok == len(series)
    assert list(run.results) == serial(series)


class MisbehavingEngine(ZScoreEngine):
    """zscore, except on three nodes: one returns a non-result, one another series' result, one exits."""

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        out = super().detect(time_series)
        if time_series.node_id == "junk":
            return [out[0], {"not": "a result"}]  # type: ignore[list-item]
        if time_series.node_id == "alien":
            return [dataclasses.replace(out[0], tenant_id="other-tenant")]
        if time_series.node_id == "exits":
            raise SystemExit(0)
        return out


def test_a_bad_engine_output_fails_only_its_series() -> None:
    """A non-result, another series' result or a SystemExit from detect fails that series alone."""
    series = small_fleet(points=200)
    t = series[0]
    odd = [
        MetricSeries(t.tenant_id, t.cluster_id, node, "cpu", list(t.timestamps), t.values.tolist())
        for node in ("junk", "alien", "exits")
    ]
    mixed = [*series[:2], *odd, *series[2:]]
    with ThreadPoolExecutor(2) as pool:
        run = detect_fleet(ListSource(mixed), MisbehavingEngine(), executor=pool, partitions=3)
    failures = {key.node_id: message for key, message in dict(run.failures).items()}
    assert set(failures) == {"junk", "alien", "exits"}
    assert failures["junk"].startswith("TypeError: engine 'zscore': detect(): result [1] must be an")
    assert "returned result [0] of another series, other-tenant/" in failures["alien"]
    assert failures["exits"] == "SystemExit: 0"
    assert run.series_ok == len(series)
    assert list(run.results) == serial(series)


class HoleySource:
    """Answers without one key, and raises for any partition holding another."""

    def __init__(self, series: Sequence[MetricSeries], missing: SeriesKey, poison: SeriesKey) -> None:
        self.inner = ListSource(series)
        self.missing = missing
        self.poison = poison

    def keys(self) -> list[SeriesKey]:
        return self.inner.keys()

    def load(self, keys: Sequence[SeriesKey]) -> Mapping[SeriesKey, MetricSeries]:
        if self.poison in keys:
            raise OSError("disk on fire")
        return {k: v for k, v in self.inner.load(keys).items() if k != self.missing}


def test_missing_series_and_failed_partitions_are_failures() -> None:
    series = small_fleet(points=120)
    keys = [SeriesKey(*s.ids) for s in series]
    source = HoleySource(series, missing=keys[1], poison=keys[-1])
    assert isinstance(source, SeriesSource)
    run = detect_fleet(source, "zscore", executor=InlineExecutor(), partitions=len(keys) // 2)
    # The poisoned partition holds the last two keys.
    assert dict(run.failures) == {
        keys[1]: "LookupError: the source returned no series for this key",
        keys[-2]: "OSError: disk on fire",
        keys[-1]: "OSError: disk on fire",
    }
    kept = [s for i, s in enumerate(series) if i not in (1, len(series) - 2, len(series) - 1)]
    assert list(run.results) == serial(kept)
    assert list(run.failures) == [keys[1], keys[-2], keys[-1]]  # in key order


def test_progress_reports_every_partition() -> None:
    series = small_fleet(points=120)
    seen: list[FleetProgress] = []
    detect_fleet(ListSource(series), "zscore", executor=InlineExecutor(), partitions=3, progress=seen.append)
    assert [p.partitions_done for p in seen] == [1, 2, 3]
    assert all(p.partitions_total == 3 and p.series_total == len(series) for p in seen)
    assert [p.series_done for p in seen] == sorted(p.series_done for p in seen)
    assert seen[-1].series_done == len(series) and seen[-1].series_failed == 0
    assert seen[-1].points == sum(len(s) for s in series)
    assert f"{len(series)}/{len(series)} series (100%)" in str(seen[-1])


def test_submission_is_bounded() -> None:
    series = small_fleet(points=100)
    executor = CountingExecutor()
    try:
        run = detect_fleet(
            ListSource(series), "zscore", executor=executor, partitions=len(series), max_in_flight=3
        )
    finally:
        executor.shutdown()
    assert executor.submitted == len(series)
    assert 1 <= executor.peak <= 3
    assert list(run.results) == serial(series)


def test_bad_arguments_are_named() -> None:
    source = ListSource(small_fleet(points=20))
    with pytest.raises(UnknownEngineError):
        detect_fleet(source, "no-such-engine", executor=InlineExecutor())
    with pytest.raises(TypeError, match="unknown configuration keyword"):
        detect_fleet(source, "zscore", {"nope": 1}, executor=InlineExecutor())
    with pytest.raises(
        ValueError, match="detect_fleet: config must be None when engine is an engine instance"
    ):
        detect_fleet(source, ZScoreEngine(), {}, executor=InlineExecutor())
    with pytest.raises(ValueError, match="detect_fleet: partitions must be"):
        detect_fleet(source, "zscore", executor=InlineExecutor(), partitions=0)
    with pytest.raises(TypeError, match="detect_fleet: source must be a SeriesSource"):
        detect_fleet([1, 2], "zscore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"detect_fleet: executor must be a concurrent\.futures\.Executor"):
        detect_fleet(source, "zscore", executor="pool")  # type: ignore[arg-type]
    s = small_fleet(points=20)[0]
    with pytest.raises(ValueError, match=r"ListSource: series\[1\] must be a series whose ids no earlier"):
        ListSource([s, s])


def test_empty_source_gives_an_empty_run() -> None:
    run = detect_fleet(ListSource([]), "zscore", executor=InlineExecutor())
    assert run.results == () and run.ok and run.series_total == 0
    assert run.aggregates.nodes == [] and run.aggregates.tenants == []


class KillingSource:
    """Kills the worker process that loads the partition holding ``victim`` (as an OOM kill would)."""

    def __init__(self, series: Sequence[MetricSeries], victim: SeriesKey) -> None:
        self.inner = ListSource(series)
        self.victim = victim

    def keys(self) -> list[SeriesKey]:
        return self.inner.keys()

    def load(self, keys: Sequence[SeriesKey]) -> Mapping[SeriesKey, MetricSeries]:
        if self.victim in keys:
            import os

            os._exit(9)
        return self.inner.load(keys)


def test_a_dead_worker_fails_its_partitions_and_the_run_still_returns() -> None:
    series = small_fleet(points=60)
    keys = [SeriesKey(*s.ids) for s in series]
    with local_executor(1) as pool:
        run = detect_fleet(KillingSource(series, keys[0]), "zscore", executor=pool, partitions=len(keys))
    # The pool breaks: the killed partition and every one not yet finished are reported, none lost.
    assert keys[0] in run.failures and "BrokenProcessPool" in run.failures[keys[0]]
    assert set(run.failures) | {
        (r.tenant_id, r.cluster_id, r.node_id, r.metric_name) for r in run.results
    } == set(keys)
    assert run.series_total == len(keys)


def test_csv_source_loads_without_keys_first(tmp_path: Path) -> None:
    """A source pickled before keys() ran builds its file index in the worker."""
    import pickle

    series = small_fleet(points=50)
    write_csv(series[:3], tmp_path / "a.csv")
    write_csv(series[3:], tmp_path / "b.csv")
    fresh = pickle.loads(pickle.dumps(CsvDirectorySource(tmp_path)))
    key = SeriesKey(*series[4].ids)
    (got,) = fresh.load([key]).values()
    assert got.ids == series[4].ids and list(got.timestamps) == list(series[4].timestamps)
    assert got.values.tolist() == series[4].values.tolist()
    assert fresh.load([SeriesKey("no", "such", "series", "here")]) == {}


class _Keys:
    """A source whose keys() returns whatever it is given (load is never reached)."""

    def __init__(self, keys: object) -> None:
        self._keys = keys

    def keys(self) -> object:
        return self._keys

    def load(self, keys: object) -> list[MetricSeries]:  # pragma: no cover - keys are refused first
        raise AssertionError("load must not be called")


@pytest.mark.parametrize(
    ("keys", "exc", "words"),
    [
        (("t", "c", "n", "m"), TypeError, "source.keys() must be a list of SeriesKey"),
        ([("t", "c", "n")], TypeError, "source.keys()[0] must be a SeriesKey of four non-empty str"),
        (
            [("t", "c", "n", "m"), ("t", "", "n", "m")],
            ValueError,
            "source.keys()[1].cluster_id must be a non-empty str",
        ),
        ([("t", "c", 7, "m")], TypeError, "source.keys()[0].node_id must be a non-empty str"),
        ([("t", "c", "n", "m\ud800")], ValueError, "source.keys()[0].metric_name must be Unicode text"),
        (
            [("t", "c", "n", "m"), SeriesKey("t", "c", "n", "m")],
            ValueError,
            "source.keys()[1] must be a key listed once",
        ),
    ],
)
def test_bad_keys_from_a_source_are_refused_before_any_work(
    keys: object, exc: type[Exception], words: str
) -> None:
    """Every key part is an id (non-empty Unicode text, as the store requires), each key listed once."""
    with pytest.raises(exc) as info:
        detect_fleet(_Keys(keys), "zscore", executor=InlineExecutor())  # type: ignore[arg-type]
    assert words in str(info.value)


def test_dask_helpers_refuse_bad_arguments_and_name_the_extra() -> None:
    """Bad arguments are refused before anything starts; without `distributed` the error names the extra."""
    with pytest.raises(ValueError, match="local_dask_cluster: n_workers must be"):
        local_dask_cluster(0)
    with pytest.raises(TypeError, match="local_dask_cluster: host must be a non-empty str"):
        local_dask_cluster(2, host="")
    if importlib.util.find_spec("distributed") is None:
        for call in (lambda: local_dask_cluster(1), lambda: dask_executor("tcp://127.0.0.1:1")):
            with pytest.raises(ImportError, match=r"needs the \[dask\] extra: pip install"):
                call()


class _FailingExecutor(Executor):
    """Every task fails at once with ``exc``, as a cluster's would (or is cancelled, for None)."""

    def __init__(self, exc: BaseException | None) -> None:
        self.exc = exc

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if self.exc is None:
            future.cancel()
            future.set_running_or_notify_cancel()  # (as an executor does with a cancelled task)
        else:
            future.set_exception(self.exc)
        return future


def test_a_cancelled_or_engine_less_partition_says_why() -> None:
    """A task cancelled on a cluster, or an engine the workers lack, fails with a message that says so."""
    series = small_fleet(points=40)[:2]
    cancelled = detect_fleet(ListSource(series), "zscore", executor=_FailingExecutor(None))
    assert set(cancelled.failures.values()) == {
        "CancelledError: the task was cancelled on the executor (a cluster restart or shutdown?); "
        "run it again"
    }
    missing = UnknownEngineError("zscore", ["combined"])
    lacking = detect_fleet(ListSource(series), "zscore", executor=_FailingExecutor(missing))
    (message,) = set(lacking.failures.values())
    assert message.startswith("UnknownEngineError: ") and message.endswith(
        "(this process has engine 'zscore': install its distribution where the partitions run too, "
        "on every worker of a cluster)"
    )


def test_a_dask_executor_on_a_scheduler_without_workers_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """No worker yet: one slot, a warning naming the scheduler (the run waits for a worker to join)."""
    from backend.analytics.fleet import DaskExecutor

    class Client:
        scheduler_address = "tcp://127.0.0.1:1"

        def get_executor(self, pure: bool) -> Executor:
            return InlineExecutor()

        def nthreads(self) -> dict[str, int]:
            return {}

    with caplog.at_level(logging.WARNING, logger="backend.analytics.fleet"):
        executor = DaskExecutor(Client(), owns_client=False)
    assert (executor.workers, executor.max_workers) == (0, 1)
    assert "the Dask scheduler tcp://127.0.0.1:1 has no workers yet" in caplog.text
