"""SQLiteMetricStore under concurrency and crashes: consistent reads, durable commits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backend.analytics import MetricSeries
from backend.analytics.store import RetentionPolicy, SQLiteMetricStore

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)
BATCH = 50  # points per batch, spread over two series
BATCHES = 30


def _batch(k: int) -> list[MetricSeries]:
    """Batch k: 25 points on each of two series, every value equal to k."""
    half = BATCH // 2
    ts = [T0 + timedelta(seconds=k * half + i) for i in range(half)]
    return [MetricSeries("acme", "c-1", node, "cpu", ts, [float(k)] * half) for node in ("n-1", "n-2")]


def test_readers_never_see_half_a_batch(tmp_path: Path) -> None:
    """While a writer commits batches (and a rollup runs), every read sees whole batches only."""
    policy = RetentionPolicy(hot_retention=timedelta(hours=1), rollup_interval=timedelta(seconds=1))
    store = SQLiteMetricStore(tmp_path / "m.db", policy=policy)
    store.write_batch(_batch(0))
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def writer() -> None:
        try:
            for k in range(1, BATCHES):
                store.write_batch(_batch(k))
                if k == BATCHES // 2:
                    # Retention with a horizon inside the data: points move between tiers.
                    store.apply_retention(T0 + timedelta(hours=1, seconds=BATCH * 5))
        except Exception as exc:  # surfaced to the main thread below
            problems.append(f"writer: {exc!r}")
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set() or reads[0] < 5:
                a = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0, FAR)
                b = store.get_metric_series("acme", "c-1", "n-2", "cpu", T0, FAR)
                reads[0] += 1
                for s in (a, b):
                    # 1-second buckets hold one point each, so a rolled-up batch still reads
                    # back as 25 points: any torn read shows up as a count other than 25.
                    counts = Counter(s.values.tolist())
                    if sorted(counts) != [float(k) for k in range(len(counts))]:
                        problems.append(f"non-contiguous batches {sorted(counts)}")
                    torn = {k: n for k, n in counts.items() if n != BATCH // 2}
                    if torn:
                        problems.append(f"partial or duplicated batches {torn}")
        except Exception as exc:
            problems.append(f"reader: {exc!r}")

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    store.close()
    assert problems == [], problems[:3]
    assert reads[0] >= 5
    with SQLiteMetricStore(tmp_path / "m.db") as again:
        final = again.get_metric_series("acme", "c-1", "n-1", "cpu", T0, FAR)
        assert sorted(set(final.values.tolist())) == [float(k) for k in range(BATCHES)]


_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from backend.analytics import MetricSeries
    from backend.analytics.store import SQLiteMetricStore

    T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    store = SQLiteMetricStore(sys.argv[1])
    for k in range(5):
        ts = [T0 + timedelta(seconds=k * 100 + i) for i in range(100)]
        store.write_points("acme", "c-1", "n-1", "cpu", ts, [float(k)] * 100)
        print("committed", k, flush=True)

    def doomed():
        for j in range(3):
            ts = [T0 + timedelta(seconds=10_000 + j * 100 + i) for i in range(100)]
            yield MetricSeries("acme", "c-1", "n-%d" % (j + 2), "cpu", ts, [99.0] * 100)
            if j == 1:
                print("mid-batch", flush=True)
                sys.stdin.readline()  # wait to be killed inside the open transaction

    store.write_batch(doomed())
    print("should not get here", flush=True)
    """
)


def test_kill_mid_batch_loses_nothing_committed(tmp_path: Path) -> None:
    """A process killed (SIGKILL) inside a batch: on reopen, all committed batches, none of the open one."""
    db = tmp_path / "crash.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.startswith("mid-batch"):
            break
    child.kill()  # SIGKILL on POSIX: no cleanup, no rollback by the process
    child.wait(timeout=30)
    child.stdout.close()
    assert child.stdin is not None
    child.stdin.close()
    assert lines == [*(f"committed {k}" for k in range(5)), "mid-batch"]
    with SQLiteMetricStore(db) as store:
        got = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0, FAR)
        assert len(got) == 500
        assert got.values.tolist() == [float(k) for k in range(5) for _ in range(100)]
        assert [k.node_id for k in store.list_series("acme")] == ["n-1"]
        conn = store._conn()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
