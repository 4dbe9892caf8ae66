"""Retention under load: writers keep writing while ``apply_retention`` rolls points up; none is lost.

Writer threads (one connection each) write batches of 30 one-second points to
series of their own, value = the point's second since ``T0``, so every point
and every one-minute bucket is known exactly. A retention thread keeps
calling ``apply_retention`` with a ``now`` that follows the slowest writer
(the horizon stays behind every live write). Now and then a writer also tries
a *late* batch, older than the horizon: the store must refuse it with a
``ValueError`` (nothing written), or take it whole if the horizon has not
passed it yet. A reader thread checks each snapshot of a series has no gap:
one bucket per minute up to the horizon, then every raw second.

Reconciliation, per series: raw points left + points counted by the cold
buckets == points the writes reported; every bucket's count, min, max and mean
are exactly its minute's; the points the retention calls reported rolled up
== the buckets' counts.

Default: 3 writers for about 3 s; ``--long``: 4 writers for 2 minutes.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backend.analytics import MetricSeries
from backend.analytics.store import RetentionPolicy, SQLiteMetricStore
from tests.reliability import scale

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)  # a minute boundary
LATE0 = T0 - timedelta(days=30)
EARLY, FAR = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
BATCH = 30
METRICS = ("m0", "m1")


def ids(writer: int, metric: str) -> tuple[str, str, str, str]:
    return (f"t{writer % 2}", "c", f"w{writer}", metric)


def test_retention_under_load_loses_no_point(tmp_path: Path) -> None:
    writers = scale.size(3, 4)
    budget = scale.seconds(3.0, 120.0)
    policy = RetentionPolicy(hot_retention=timedelta(minutes=10), rollup_interval=timedelta(minutes=1))
    store = SQLiteMetricStore(tmp_path / "load.db", policy=policy, timeout=60.0)
    stop = threading.Event()
    problems: list[str] = []
    latest = [-1] * writers  # last second written by each writer
    accepted: dict[tuple[str, str, str, str], int] = {}
    late_refused = [0] * writers
    late_taken = [0] * writers
    rolled_up = [0]
    retention_calls = [0]
    queries = [0]
    lock = threading.Lock()

    def writer(i: int) -> None:
        rng = random.Random(i)
        k = late = 0
        try:
            while not stop.is_set():
                start = k * BATCH
                ts = [T0 + timedelta(seconds=start + j) for j in range(BATCH)]
                vals = [float(start + j) for j in range(BATCH)]
                written = store.write_batch(MetricSeries(*ids(i, m), ts, vals) for m in METRICS)
                assert written == BATCH * len(METRICS)
                with lock:
                    for m in METRICS:
                        accepted[ids(i, m)] = accepted.get(ids(i, m), 0) + BATCH
                    latest[i] = start + BATCH - 1
                k += 1
                if rng.random() < 0.15:  # a late batch: refused whole, or taken whole
                    late_ts = [LATE0 + timedelta(seconds=late * BATCH + j) for j in range(BATCH)]
                    late += 1
                    try:
                        n = store.write_points(*ids(i, "late"), late_ts, [1.0] * BATCH)
                    except ValueError as exc:
                        assert "rollup horizon" in str(exc), str(exc)
                        late_refused[i] += 1
                    else:
                        assert n == BATCH
                        with lock:
                            accepted[ids(i, "late")] = accepted.get(ids(i, "late"), 0) + BATCH
                        late_taken[i] += 1
        except Exception as exc:
            problems.append(f"writer {i}: {exc!r}")
            stop.set()

    def retention() -> None:
        try:
            while not stop.is_set():
                with lock:
                    slowest = min(latest)
                if slowest < 0:
                    time.sleep(0.005)
                    continue
                # The horizon trails the slowest writer by more than a batch: no live write is refused.
                now = T0 + timedelta(seconds=slowest) + policy.hot_retention - timedelta(minutes=1)
                report = store.apply_retention(now)
                rolled_up[0] += report.points_rolled_up
                retention_calls[0] += 1
        except Exception as exc:
            problems.append(f"retention: {exc!r}")
            stop.set()

    def reader() -> None:
        rng = random.Random(99)
        try:
            while not stop.is_set():
                i = rng.randrange(writers)
                try:
                    s = store.get_metric_series(*ids(i, rng.choice(METRICS)), EARLY, FAR)
                except KeyError:
                    continue
                queries[0] += 1
                us = list(s.epoch_us)
                if not us:
                    continue
                step = [b - a for a, b in itertools.pairwise(us)]
                # Buckets a minute apart, then seconds: any other step is a lost bucket or point.
                seconds_from = next((j for j, d in enumerate(step) if d == 1_000_000), len(step))
                bad = [d for d in step[:seconds_from] if d != 60_000_000]
                bad += [d for d in step[seconds_from:] if d != 1_000_000]
                if bad or us[0] != int(T0.timestamp() * 1_000_000):
                    problems.append(f"reader: gap in a snapshot of writer {i}: steps {sorted(set(bad))[:5]}")
                    stop.set()
        except Exception as exc:
            problems.append(f"reader: {exc!r}")
            stop.set()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    threads += [threading.Thread(target=retention), threading.Thread(target=reader)]
    began = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(budget)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    duration = time.monotonic() - began
    assert problems == [], problems[:3]

    cold_points = 0
    for key, n in sorted(accepted.items()):
        horizon = store.horizon or FAR
        hot = store.get_metric_series(*key, horizon, FAR)
        buckets = store.get_rollup_buckets(*key, EARLY, FAR)
        cold = sum(b.count for b in buckets)
        assert len(hot) + cold == n, f"{key}: {len(hot)} raw + {cold} rolled up != {n} written"
        cold_points += cold
        if key[3] == "late":
            continue
        for b in buckets:
            minute = int((b.start - T0).total_seconds()) // 60
            assert (b.count, b.min, b.max) == (60, minute * 60.0, minute * 60.0 + 59.0), (key, b)
            assert math.isclose(b.mean, minute * 60.0 + 29.5, rel_tol=1e-12), (key, b)
        assert hot.values.tolist() == [float(v) for v in range(n - len(hot), n)], key
    assert cold_points == rolled_up[0]
    assert sum(late_taken) + sum(late_refused) > 0 or duration < 1.0
    store.close()
    scale.record(
        "retention_under_load",
        writers=writers,
        points_written=sum(accepted.values()),
        points_rolled_up=rolled_up[0],
        retention_calls=retention_calls[0],
        late_batches_refused=sum(late_refused),
        late_batches_taken=sum(late_taken),
        snapshot_queries=queries[0],
        points_lost=0,
        seconds=round(duration, 1),
    )
