"""Property tests (Hypothesis) for SQLiteMetricStore: tenant isolation and idempotent writes."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.analytics.store import SeriesNotFoundError, SQLiteMetricStore

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)
EARLY = datetime(1970, 1, 1, tzinfo=timezone.utc)

names = st.sampled_from(["a", "b", "c-1", "n 1", "ü"])
point_sets = st.dictionaries(
    st.integers(min_value=0, max_value=500),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    max_size=12,
)
writes = st.lists(
    st.tuples(st.sampled_from(["acme", "zeta", "ACME"]), names, names, names, point_sets),
    min_size=1,
    max_size=6,
)


def _write(store: SQLiteMetricStore, tenant: str, c: str, n: str, m: str, points: dict[int, float]) -> None:
    keys = sorted(points)
    store.write_points(tenant, c, n, m, [T0 + timedelta(seconds=k) for k in keys], [points[k] for k in keys])


Op = tuple[str, str, str, str, dict[int, float]]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes)
def test_a_tenant_reads_exactly_its_own_points(ops: list[Op]) -> None:
    """Whatever any tenant writes (same cluster/node/metric names included), each tenant reads back
    exactly the last value it wrote at each of its own timestamps, and nothing of anyone else's."""
    expected: dict[tuple[str, str, str, str], dict[int, float]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        SQLiteMetricStore(Path(tmp) / "p.db", synchronous="NORMAL") as store,
    ):
        for tenant, c, n, m, points in ops:
            _write(store, tenant, c, n, m, points)
            if points:
                expected.setdefault((tenant, c, n, m), {}).update(points)
        for tenant in ("acme", "zeta", "ACME"):
            own = sorted(k for k in expected if k[0] == tenant)
            assert [tuple(k) for k in store.list_series(tenant)] == own
            for key in own:
                got = store.get_metric_series(*key, EARLY, FAR)
                want = expected[key]
                assert [round((t - T0).total_seconds()) for t in got.timestamps] == sorted(want)
                assert got.values.tolist() == [want[k] for k in sorted(want)]
            # Every key written by another tenant, asked for under this tenant, is not found
            # unless this tenant wrote the same key itself.
            for key in expected:
                if key[0] != tenant and (tenant, *key[1:]) not in expected:
                    try:
                        store.get_metric_series(tenant, *key[1:], EARLY, FAR)
                    except SeriesNotFoundError:
                        pass
                    else:
                        raise AssertionError(f"tenant {tenant!r} could read {key!r}")
