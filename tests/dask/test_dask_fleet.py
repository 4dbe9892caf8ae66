"""detect_fleet on a real dask.distributed LocalCluster (2 worker processes on 127.0.0.1).

Skipped when ``distributed`` is not installed (the ``[dask]`` extra), unless
``DASK_REQUIRED=1`` (set by ``.ci/dask.sh``), which turns the skip into a failure.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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

distributed: Any
if os.environ.get("DASK_REQUIRED") == "1":
    distributed = importlib.import_module("distributed")  # a missing extra fails here instead of skipping
else:
    distributed = pytest.importorskip("distributed")

# distributed's own shutdown paths may warn (closed streams, leaked semaphores); they are not ours.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_dask_cluster(2) as local:
        yield local


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = FleetConfig.uniform(
        tenants=3, clusters=2, nodes_per_cluster=2, noisy_tenants=1, points=600, seed=11
    )
    path = tmp_path_factory.mktemp("dask") / "fleet.db"
    with SQLiteMetricStore(path) as store:
        write_to_store(Fleet(cfg), store)
    return path


def test_cluster_run_equals_serial_run(cluster: Any, store_path: Path) -> None:
    source = StoreSource(store_path)
    serial = detect_fleet(source, "zscore", executor=InlineExecutor())
    with distributed.Client(cluster) as client:
        executor = dask_executor(client)
        assert executor.max_workers == 2
        run = detect_fleet(source, "zscore", executor=executor, partitions=7)
        executor.shutdown()
        assert client.status == "running"  # a client passed in is left open
    assert len({r.tenant_id for r in run.results}) == 3
    assert run.results == serial.results
    assert run.aggregates == serial.aggregates
    assert run.ok and run.points == serial.points > 0


def test_executor_from_an_address_closes_its_client(cluster: Any, store_path: Path) -> None:
    source = StoreSource(store_path, tenants=["tenant-3"])
    executor = dask_executor(cluster.scheduler_address)
    try:
        run = detect_fleet(source, "zscore", {"window_size_points": 5, "stride_points": 5}, executor=executor)
    finally:
        executor.shutdown()
    assert executor.client.status == "closed"
    serial = detect_fleet(
        source, "zscore", {"window_size_points": 5, "stride_points": 5}, executor=InlineExecutor()
    )
    assert run.results == serial.results and run.aggregates == serial.aggregates


def test_bad_address_type() -> None:
    with pytest.raises(TypeError, match="dask_executor: address_or_client must be a scheduler address"):
        dask_executor(8786)


def test_fleet_command_with_a_scheduler(
    cluster: Any, store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.analytics.cli import main

    assert main(["fleet", "--store", str(store_path), "--scheduler", cluster.scheduler_address]) == 0
    out, err = capsys.readouterr()
    assert f"with Dask scheduler {cluster.scheduler_address}" in out
    assert "series (100%)" in err
    serial = detect_fleet(StoreSource(store_path), "zscore", executor=InlineExecutor())
    with SQLiteMetricStore(store_path) as store:
        stored = [
            r for t in ("tenant-1", "tenant-2", "tenant-3") for r in store.read_results(t, engine="zscore")
        ]
    assert sorted(stored, key=repr) == sorted(serial.results, key=repr)


def test_a_second_cluster_on_the_machine_takes_no_default_port() -> None:
    """With 8787 held (another cluster's dashboard), a cluster starts without a warning, on loopback."""
    import socket

    holder = socket.socket()
    try:
        try:
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        except OSError:
            pass  # (held already: the case under test)
        with local_dask_cluster(1) as local:
            http = local.scheduler.http_server
            assert http.port != 8787 and http.address == "127.0.0.1"
            assert local.scheduler_address.startswith("tcp://127.0.0.1:")
    finally:
        holder.close()
