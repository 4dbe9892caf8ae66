"""`python -m backend.analytics fleet`: a parallel run over a store, written back to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from backend.analytics.cli import main
from backend.analytics.fleet import InlineExecutor, StoreSource, detect_fleet
from backend.analytics.store import SQLiteMetricStore
from simulator import Fleet, FleetConfig
from simulator.output import write_to_store


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    cfg = FleetConfig.uniform(
        tenants=2, clusters=1, nodes_per_cluster=2, points=300, seed=5, metrics=("cpu",)
    )
    path = tmp_path / "fleet.db"
    with SQLiteMetricStore(path) as store:
        write_to_store(Fleet(cfg), store)
    return path


def test_fleet_command_stores_results_and_aggregates(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "--store", str(store_path), "--workers", "2", "--partitions", "3"]) == 0
    out, err = capsys.readouterr()
    assert "zscore on 4 of 4 series (2 tenants, 1,200 points) with 2 local workers" in out
    assert "fleet: 4/4 series (100%), 1,200 points, 0 failed, partition 3/3" in err
    expected = detect_fleet(StoreSource(store_path), "zscore", executor=InlineExecutor())
    with SQLiteMetricStore(store_path) as store:
        for tenant in ("tenant-1", "tenant-2"):
            stored = store.read_results(tenant, engine="zscore")
            assert sorted(stored, key=repr) == sorted(
                (r for r in expected.results if r.tenant_id == tenant), key=repr
            )
            aggregates = store.read_aggregates(tenant, engine="zscore")
            levels = (*expected.aggregates.nodes, *expected.aggregates.clusters, *expected.aggregates.tenants)
            assert sorted(aggregates, key=repr) == sorted(
                (a for a in levels if a.tenant_id == tenant), key=repr
            )


def test_fleet_command_one_tenant_quiet(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["fleet", "--store", str(store_path), "--tenant", "tenant-2", "--quiet", "--workers", "1"]) == 0
    )
    out, err = capsys.readouterr()
    assert err == "" and "on 2 of 2 series (1 tenant," in out
    with SQLiteMetricStore(store_path) as store:
        assert store.read_results("tenant-1") == []
        assert store.read_results("tenant-2", engine="zscore")


def test_fleet_command_errors(
    tmp_path: Path, store_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "--store", str(tmp_path / "none.db")])
    assert exc.value.code == 2
    assert "fleet: error: no store file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "--store", str(store_path), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with monkeypatch.context() as patched:  # (as on an install without the [dask] extra)
        patched.setitem(sys.modules, "distributed", None)
        with pytest.raises(SystemExit) as exc:
            main(["fleet", "--store", str(store_path), "--scheduler", "tcp://127.0.0.1:1"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.endswith(
        "fleet: error: dask_executor needs the [dask] extra: pip install 'backend-analytics[dask]' "
        "(distributed)\n"
    )
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "--store", str(store_path), "--workers", "0"])
    assert "expected a positive int, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "--store", str(store_path), "--tenant", "nobody", "--quiet"])
    assert "has no tenant 'nobody'; its tenants: 'tenant-1', 'tenant-2'" in capsys.readouterr().err


def test_fleet_on_a_scheduler_without_workers_says_it_waits(
    store_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no worker on the scheduler, the command says the run waits for one before it starts."""
    from backend.analytics.cli import fleet as fleet_cli

    class NoWorkersYet(InlineExecutor):
        workers = 0  # (then one joins: the run goes on in this process)

    monkeypatch.setattr(fleet_cli, "dask_executor", lambda address: NoWorkersYet())
    assert main(["fleet", "--store", str(store_path), "--scheduler", "tcp://127.0.0.1:1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "fleet: the scheduler at tcp://127.0.0.1:1 has no workers yet; the run waits until one" in err


def test_ctrl_c_stops_the_command_with_one_line(
    store_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a run ends it with exit status 130 and a line, not a traceback."""
    from backend.analytics.cli import fleet as fleet_cli

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fleet_cli, "detect_fleet", interrupted)
    assert main(["fleet", "--store", str(store_path), "--workers", "1", "--quiet"]) == 130
    assert capsys.readouterr().err.endswith("fleet: interrupted\n")
