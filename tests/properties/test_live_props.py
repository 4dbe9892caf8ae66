"""LiveDetector properties: batching, arrival jitter within the lateness and restarts change nothing."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, EngineRegistry, MetricSeries
from backend.analytics.live import LiveDetector, LivePoint

from .strategies import series

CONFIG = {"window_size_points": 4, "stride_points": 3, "warmup_points": 8}
fleets = st.lists(series(min_size=1, max_size=70), min_size=1, max_size=4, unique_by=lambda s: s.ids)


def expected(items: list[MetricSeries]) -> dict[tuple[str, ...], list[AnomalyResult]]:
    engine = EngineRegistry.default().create("zscore", **CONFIG)
    return {s.ids: engine.detect(s) for s in items}


def by_series(results: list[AnomalyResult]) -> dict[tuple[str, ...], list[AnomalyResult]]:
    out: dict[tuple[str, ...], list[AnomalyResult]] = {}
    for r in results:
        out.setdefault((r.tenant_id, r.cluster_id, r.node_id, r.metric_name), []).append(r)
    return out


def arrivals(items: list[MetricSeries], jitter: list[int]) -> list[LivePoint]:
    """Every point, in order of timestamp plus a per-point delay (seconds, from ``jitter``)."""
    rows = [
        (t.timestamp() + jitter[(k * 7 + i) % len(jitter)], k, i, LivePoint(*s.ids, t, v))
        for k, s in enumerate(items)
        for i, (t, v) in enumerate(zip(s.timestamps, s.values.tolist(), strict=True))
    ]
    rows.sort(key=lambda r: r[:3])
    return [r[3] for r in rows]


def in_batches(live: LiveDetector, rows: list[LivePoint], sizes: list[int]) -> list[AnomalyResult]:
    """``live.ingest`` of ``rows`` in batches of ``sizes`` (cycled); every result returned."""
    out: list[AnomalyResult] = []
    at = k = 0
    while at < len(rows):
        size = sizes[k % len(sizes)]
        out.extend(live.ingest(rows[at : at + size]))
        at, k = at + size, k + 1
    return out


@settings(max_examples=40)
@given(items=fleets, sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_any_batching_equals_detect(items: list[MetricSeries], sizes: list[int]) -> None:
    got = by_series(in_batches(LiveDetector("zscore", CONFIG), arrivals(items, [0]), sizes))
    assert {ids: got.get(ids, []) for ids in expected(items)} == expected(items)


@settings(max_examples=40)
@given(items=fleets, jitter=st.lists(st.integers(0, 599), min_size=1, max_size=6), size=st.integers(1, 30))
def test_jitter_within_the_lateness_changes_nothing(
    items: list[MetricSeries], jitter: list[int], size: int
) -> None:
    rows = arrivals(items, jitter)
    live = LiveDetector("zscore", CONFIG, lateness=timedelta(seconds=600))
    out = [r for at in range(0, len(rows), size) for r in live.ingest(rows[at : at + size])]
    out.extend(live.flush())
    assert sum(live.stats.rejected.values()) == 0
    got = by_series(out)
    assert {ids: got.get(ids, []) for ids in expected(items)} == expected(items)


@settings(max_examples=25)
@given(items=fleets, size=st.integers(1, 30), stop=st.integers(0, 10), every=st.integers(1, 60))
def test_restart_from_any_checkpoint_changes_nothing(
    items: list[MetricSeries], size: int, stop: int, every: int
) -> None:
    rows = arrivals(items, [0])
    batches = [rows[at : at + size] for at in range(0, len(rows), size)]
    stop = min(stop, len(batches))
    straight = LiveDetector("zscore", CONFIG)
    reference = [r for b in batches for r in straight.ingest(b)]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "live.db")
        first = LiveDetector(
            "zscore", CONFIG, checkpoints=db, checkpoint_every_points=every, checkpoint_every_seconds=None
        )
        emitted = [[r for r in first.ingest(b, cursor=i)] for i, b in enumerate(batches[:stop])]
        second = LiveDetector(
            "zscore", CONFIG, checkpoints=db, checkpoint_every_points=every, checkpoint_every_seconds=None
        )
        resume = -1 if second.cursor is None else second.cursor
        kept = [r for out in emitted[: resume + 1] for r in out]
        replayed = [r for b in batches[resume + 1 :] for r in second.ingest(b)]
    assert kept + replayed == reference


@settings(max_examples=30)
@given(
    items=fleets,
    bad=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 69), st.sampled_from([0.0, -1.0, -1e300])), max_size=6
    ),
    size=st.integers(1, 30),
)
def test_values_the_engine_cannot_take_are_counted_and_change_nothing_else(
    items: list[MetricSeries], bad: list[tuple[int, int, float]], size: int
) -> None:
    """zscore(transform="log"): points <= 0 are rejected as out_of_domain; every series' results are
    those of detect on the series without them, whatever the batching and whichever series they hit."""
    config = {**CONFIG, "transform": "log"}
    positive = [
        MetricSeries(*s.ids, s.timestamps, [abs(v) % 1e6 + 1.0 for v in s.values.tolist()]) for s in items
    ]
    hits = {(k % len(positive), i % len(positive[k % len(positive)])): x for k, i, x in bad}
    fed = []
    kept = []
    for k, s in enumerate(positive):
        values = s.values.tolist()
        keep = [i for i in range(len(s)) if (k, i) not in hits]
        fed.append(MetricSeries(*s.ids, s.timestamps, [hits.get((k, i), v) for i, v in enumerate(values)]))
        if keep:
            kept.append(MetricSeries(*s.ids, [s.timestamps[i] for i in keep], [values[i] for i in keep]))
    rows = arrivals(fed, [0])
    live = LiveDetector("zscore", config)
    out = [r for at in range(0, len(rows), size) for r in live.ingest(rows[at : at + size])]
    assert live.stats.rejected["out_of_domain"] == len(hits)
    assert live.stats.accepted == sum(len(s) for s in kept)
    engine = EngineRegistry.default().create("zscore", **config)
    got = by_series(out)
    assert {s.ids: got.get(s.ids, []) for s in kept} == {s.ids: engine.detect(s) for s in kept}


@settings(max_examples=40)
@given(
    items=fleets,
    jitter=st.lists(st.integers(0, 900), min_size=1, max_size=6),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8),
)
def test_without_lateness_out_of_order_points_do_not_depend_on_the_batching(
    items: list[MetricSeries], jitter: list[int], sizes: list[int]
) -> None:
    """With ``lateness=0``, disordered arrivals give the results and counts of one point per batch."""
    rows = arrivals(items, jitter)
    one_by_one = LiveDetector("zscore", CONFIG)
    want = [r for row in rows for r in one_by_one.ingest([row])]
    live = LiveDetector("zscore", CONFIG)
    assert by_series(in_batches(live, rows, sizes)) == by_series(want)
    assert live.stats == one_by_one.stats
