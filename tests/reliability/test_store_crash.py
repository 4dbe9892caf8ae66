"""Atomic batches under crashes: concurrent writer processes SIGKILLed at random moments.

Several writer processes share one database file. Each writes numbered
batches with ``write_batch`` (three series, a batch-dependent number of
points, every value equal to the batch number) and logs ``begin k`` /
``commit k`` to a file of its own. The test kills a random writer with
SIGKILL at a random moment (inside a transaction, inside a commit's fsync,
between batches), starts a replacement under a new writer id, and meanwhile
reads the writers' series, checking that no read shows part of a batch.

Reconciliation after the last kill, on the reopened file:

* every batch of every writer is fully present (all three series, all
  points) or fully absent: no torn batch, no duplicated point;
* the batches present are exactly ``0 .. m-1`` for some ``m``, and every batch
  the writer logged as committed is among them (a committed batch survives);
* a writer whose first batch never committed left no series behind;
* ``PRAGMA integrity_check`` is ``ok``.

Default: 3 writers, 10 kills; ``--long``: 4 writers, 300 kills.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from backend.analytics.store import SeriesNotFoundError, SQLiteMetricStore
from tests.reliability import scale

REPO = Path(__file__).resolve().parents[2]
T_MIN = datetime(2000, 1, 1, tzinfo=timezone.utc)
T_MAX = datetime(2100, 1, 1, tzinfo=timezone.utc)
METRICS = ("m0", "m1", "m2")
TENANTS = 3


def points_in(writer: int, batch: int) -> int:
    """How many points each series of batch ``batch`` of writer ``writer`` holds (1..60)."""
    return 1 + (writer * 7919 + batch * 104_729) % 60


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from backend.analytics import MetricSeries
    from backend.analytics.store import SQLiteMetricStore

    db, writer, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    TENANTS = {tenants}
    log = open(log_path, "a", buffering=1)

    def points_in(writer, batch):
        return 1 + (writer * 7919 + batch * 104_729) % 60

    def batch(k):
        n = points_in(writer, k)
        for metric in ("m0", "m1", "m2"):
            ts = [T0 + timedelta(seconds=k * 100 + i) for i in range(n)]
            yield MetricSeries("t%d" % (writer % TENANTS), "c", "w%d" % writer, metric, ts, [float(k)] * n)

    store = SQLiteMetricStore(db, timeout=60.0)
    log.write("ready\\n")
    k = 0
    while True:
        log.write("begin %d\\n" % k)
        store.write_batch(batch(k))
        log.write("commit %d\\n" % k)
        k += 1
    """
).replace("{tenants}", str(TENANTS))


@dataclass
class Writer:
    number: int
    log: Path
    process: subprocess.Popen[bytes]
    killed_at: float = 0.0
    lines: list[str] = field(default_factory=list)

    def read_log(self) -> list[str]:
        self.lines = self.log.read_text().split() if self.log.exists() else []
        return self.lines

    def ready(self) -> bool:
        return self.log.exists() and self.log.read_text().startswith("ready")


def start(db: Path, number: int, tmp: Path) -> Writer:
    log = tmp / f"writer-{number}.log"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(number), str(log)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Writer(number, log, process)


def kill(writer: Writer) -> None:
    writer.process.send_signal(signal.SIGKILL)
    _, err = writer.process.communicate(timeout=60)
    assert writer.process.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    writer.read_log()


def batches_seen(store: SQLiteMetricStore, writer: int, metric: str) -> Counter[float]:
    """Points per batch number in one series of ``writer`` (one read: one snapshot)."""
    try:
        series = store.get_metric_series(f"t{writer % TENANTS}", "c", f"w{writer}", metric, T_MIN, T_MAX)
    except SeriesNotFoundError:
        return Counter()
    return Counter(series.values.tolist())


def check_whole(counts: Counter[float], writer: int, where: str) -> None:
    for k, n in counts.items():
        assert n == points_in(writer, int(k)), f"{where}: writer {writer} batch {int(k)} has {n} points"


def test_sigkilled_writers_leave_whole_batches_only(tmp_path: Path) -> None:
    writers_alive = scale.size(3, 4)
    kills_wanted = scale.size(10, 300)
    budget = scale.seconds(60.0, 1800.0)
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    db = tmp_path / "crash.db"
    SQLiteMetricStore(db).close()  # create the schema once, before the writers race to
    began = time.monotonic()
    numbers = iter(range(10**6))
    live = [start(db, next(numbers), tmp_path) for _ in range(writers_alive)]
    dead: list[Writer] = []
    queries = 0
    reader = SQLiteMetricStore(db, timeout=60.0)
    try:
        while len(dead) < kills_wanted and time.monotonic() - began < budget:
            ready = [w for w in live if w.ready()]
            if not ready:
                time.sleep(0.02)
                continue
            time.sleep(rng.uniform(0.0, 0.25))
            # Read while the writers run: a read never shows part of a batch.
            for w in rng.sample([*live, *dead], k=min(3, len(live) + len(dead))):
                metric = rng.choice(METRICS)
                check_whole(batches_seen(reader, w.number, metric), w.number, "live read")
                queries += 1
            victim = rng.choice(ready)
            kill(victim)
            live.remove(victim)
            dead.append(victim)
            live.append(start(db, next(numbers), tmp_path))
        for w in live:  # the last ones die the same way
            kill(w)
            dead.append(w)
    finally:
        for w in live:
            if w.process.poll() is None:
                w.process.kill()
                w.process.wait(timeout=60)
        reader.close()
    duration = time.monotonic() - began

    committed_total = inside_batch = 0
    with SQLiteMetricStore(db) as store:
        for w in dead:
            per_metric = [batches_seen(store, w.number, m) for m in METRICS]
            queries += len(METRICS)
            for counts in per_metric:
                check_whole(counts, w.number, "after the kills")
            present = set(per_metric[0])
            assert all(set(c) == present for c in per_metric), (
                f"writer {w.number}: a batch in some series only"
            )
            m = len(present)
            assert present == {float(k) for k in range(m)}, f"writer {w.number}: batches {sorted(present)}"
            logged = [int(x) for tag, x in zip(w.lines[1::2], w.lines[2::2], strict=False) if tag == "commit"]
            last_begin = max(
                (int(x) for tag, x in zip(w.lines[1::2], w.lines[2::2], strict=False)), default=-1
            )
            if logged:
                assert m >= logged[-1] + 1, f"writer {w.number}: committed batch {logged[-1]} lost"
            assert m <= last_begin + 1
            inside_batch += bool(w.lines) and w.lines[-2:-1] == ["begin"]
            committed_total += m
            nodes = {key.node_id for key in store.list_series(f"t{w.number % TENANTS}")}
            assert (f"w{w.number}" in nodes) == (m > 0), f"writer {w.number}: series without a batch"
            queries += 1
    with closing(sqlite3.connect(db)) as conn, conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(dead) >= min(kills_wanted, 3)
    scale.record(
        "store_crash",
        writers=writers_alive,
        kills=len(dead),
        kills_inside_a_batch=inside_batch,
        batches_committed=committed_total,
        torn_batches=0,
        queries=queries,
        seconds=round(duration, 1),
        seed=seed,
    )
