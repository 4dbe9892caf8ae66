"""Tests for INTEGRATION_CONTRACT.py: it passes on the real store and each clause can fail."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

import INTEGRATION_CONTRACT as contract  # noqa: N811 - the script's name is fixed by issue 3
from backend.analytics.store import SQLiteMetricStore
from backend.analytics.store import _schema as schema_module
from backend.analytics.store import sqlite as sqlite_module

ROOT = Path(__file__).resolve().parents[2]


def test_script_passes_and_prints_a_checklist() -> None:
    """`python INTEGRATION_CONTRACT.py` exits 0 with one PASS line per clause."""
    proc = subprocess.run(
        [sys.executable, "INTEGRATION_CONTRACT.py"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(contract.CHECKS) + 1
    assert all(line.startswith("[PASS] ") for line in lines[:-1])
    assert lines[-1] == f"{len(contract.CHECKS)}/{len(contract.CHECKS)} contract clauses hold"


def _no_read_results(mp: pytest.MonkeyPatch) -> None:
    # None marks a protocol member as not implemented (the method lives on a private base class).
    mp.setattr(SQLiteMetricStore, "read_results", None)


def _drop_last_point(mp: pytest.MonkeyPatch) -> None:
    original = SQLiteMetricStore.get_metric_series

    def broken(self: SQLiteMetricStore, *args: object) -> object:
        series = original(self, *args)  # type: ignore[arg-type]
        return series.slice(0, max(0, len(series) - 1))

    mp.setattr(SQLiteMetricStore, "get_metric_series", broken)


def _closed_range(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(sqlite_module, "_SELECT_RANGE", sqlite_module._SELECT_RANGE.replace("< ?", "<= ?"))


def _first_write_wins(mp: pytest.MonkeyPatch) -> None:
    first_wins = "INSERT OR IGNORE INTO hot_points (series_id, ts_us, value) VALUES (?, ?, ?)"
    mp.setattr(sqlite_module, "_UPSERT_POINT", first_wins)


def _autocommit(mp: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    @contextmanager
    def no_transaction(self: SQLiteMetricStore):  # type: ignore[no-untyped-def]
        yield self._conn()

    mp.setattr(SQLiteMetricStore, "_transaction", no_transaction)


def _tenant_blind(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(
        sqlite_module,
        "_SELECT_SERIES",
        sqlite_module._SELECT_SERIES.replace("tenant_id = ?", "(tenant_id = ? OR 1) ORDER BY series_id DESC")
        .replace(" AND cluster_id", " AND 1 AND cluster_id")
        .replace("ORDER BY series_id DESC AND", "AND")
        + " ORDER BY series_id DESC",
    )


def _max_not_mean(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(sqlite_module, "robust_mean", max)


def _results_lost(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(SQLiteMetricStore, "write_results", lambda self, results, engine: 0)


def _policy_not_persisted(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(schema_module, "_SET_META", "SELECT ?, ?")


BREAKAGES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "protocols": _no_read_results,
    "handover_round_trip": _drop_last_point,
    "half_open_and_aware": _closed_range,
    "idempotent": _first_write_wins,
    "atomic_batch": _autocommit,
    "tenant_isolation": _tenant_blind,
    "retention_spans_tiers": _max_not_mean,
    "results_flow": _results_lost,
    "durable_reopen": _policy_not_persisted,
}


def test_every_clause_has_a_breakage() -> None:
    """Each clause of the contract is covered by a breakage below."""
    assert sorted(BREAKAGES) == sorted(c.__name__.removeprefix("check_") for c in contract.CHECKS)


@pytest.mark.parametrize("clause", sorted(BREAKAGES))
def test_each_clause_fails_when_its_guarantee_is_broken(
    clause: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Breaking one guarantee of the store makes that clause FAIL and main() return 1."""
    BREAKAGES[clause](monkeypatch)
    assert contract.main([]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.split()[1:2] == [clause])
    assert line.startswith("[FAIL] "), out


def _naive_start_taken_as_utc(mp: pytest.MonkeyPatch) -> None:
    original = SQLiteMetricStore._range_us

    def lenient(owner: str, start: datetime, end: datetime) -> tuple[int, int]:
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        return original(owner, start, end)

    mp.setattr(SQLiteMetricStore, "_range_us", staticmethod(lenient))


def _backwards_range_swapped(mp: pytest.MonkeyPatch) -> None:
    original = SQLiteMetricStore._range_us

    def swapping(owner: str, start: datetime, end: datetime) -> tuple[int, int]:
        if start.tzinfo is None or end.tzinfo is None:
            return original(owner, start, end)
        return original(owner, min(start, end), max(start, end))

    mp.setattr(SQLiteMetricStore, "_range_us", staticmethod(swapping))


def _backwards_range_empty(mp: pytest.MonkeyPatch) -> None:
    original = SQLiteMetricStore._range_us

    def empty(owner: str, start: datetime, end: datetime) -> tuple[int, int]:
        if start.tzinfo is None or end.tzinfo is None or start <= end:
            return original(owner, start, end)
        return original(owner, start, start)

    mp.setattr(SQLiteMetricStore, "_range_us", staticmethod(empty))


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_naive_start_taken_as_utc, "a naive start datetime was accepted"),
        (_backwards_range_swapped, "start > end returned 3 points [2.0, 3.0, 4.0] (the range was swapped?)"),
    ],
)
def test_clause_4_catches_a_naive_start_and_a_swapped_range(
    breakage: Callable[[pytest.MonkeyPatch], None],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Clause 4 tries a naive start as well as a naive end, and a start later than end."""
    breakage(monkeypatch)
    assert contract.main([]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.split()[1:2] == ["half_open_and_aware"])
    assert line.startswith("[FAIL] ") and expected in line, out
    assert sum(line.startswith("[FAIL] ") for line in out.splitlines()) == 1, out


def test_clause_4_allows_an_empty_answer_for_start_after_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The clause promises the points with start <= t < end: none is a valid answer to start > end."""
    _backwards_range_empty(monkeypatch)
    assert contract.main([]) == 0
    assert "start > end -> no points" in capsys.readouterr().out
