"""Property: a fleet run equals the one-process loop, whatever the partitioning and completion order."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AggregationPipeline, EngineRegistry, MetricSeries
from backend.analytics.fleet import InlineExecutor, ListSource, detect_fleet
from backend.analytics.store import SeriesKey

from .strategies import series

fleets = st.lists(series(min_size=0, max_size=80), max_size=12, unique_by=lambda s: s.ids)


class SlowSource:
    """A ListSource whose partitions take different times, so they complete out of order."""

    def __init__(self, items: Sequence[MetricSeries], delays: Sequence[float]) -> None:
        self.inner = ListSource(items)
        self.delays = delays

    def keys(self) -> list[SeriesKey]:
        return self.inner.keys()

    def load(self, keys: Sequence[SeriesKey]) -> Mapping[SeriesKey, MetricSeries]:
        position = self.inner.keys().index(keys[0])
        time.sleep(self.delays[position % len(self.delays)])
        return self.inner.load(keys)


@settings(max_examples=30)
@given(
    items=fleets,
    partitions=st.integers(1, 15),
    in_flight=st.integers(1, 6),
    delays=st.lists(st.sampled_from([0.0, 0.001, 0.005]), min_size=1, max_size=5),
    window=st.integers(1, 12),
)
def test_fleet_run_equals_serial_loop(
    items: list[MetricSeries], partitions: int, in_flight: int, delays: list[float], window: int
) -> None:
    config = {"window_size_points": window, "stride_points": window, "warmup_points": 8}
    engine = EngineRegistry.default().create("zscore", **config)
    expected = [r for s in items for r in engine.detect(s)]
    with ThreadPoolExecutor(3) as pool:
        run = detect_fleet(
            SlowSource(items, delays),
            "zscore",
            config,
            executor=pool,
            partitions=partitions,
            max_in_flight=in_flight,
        )
    assert list(run.results) == expected
    assert run.aggregates == AggregationPipeline().run(expected)
    assert run.ok and run.points == sum(len(s) for s in items)
    again = detect_fleet(ListSource(items), "zscore", config, executor=InlineExecutor())
    assert again.results == run.results
