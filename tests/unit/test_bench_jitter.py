"""The benchmarks' --jitter option: timestamps moved within reach of their step, values and events kept."""

from __future__ import annotations

import random

from simulator.cycles import FIVE_MINUTES_7_DAYS, generate_cycle_fleet
from tests.bench_scripts import load_benchmark


def test_a_jittered_fleet_keeps_its_values_and_events_and_moves_each_stamp_within_reach() -> None:
    fleet = generate_cycle_fleet(5, FIVE_MINUTES_7_DAYS, n_series=3)
    moved = load_benchmark("bench_fleet").jittered(fleet, 0.1)
    assert load_benchmark("bench_fleet").jittered(fleet, 0.0) is fleet
    for before, after in zip(fleet.series, moved.series, strict=True):
        assert after.events == before.events and list(after.series.values) == list(before.series.values)
        offsets = [a - b for a, b in zip(after.series.epoch_us, before.series.epoch_us, strict=True)]
        assert max(map(abs, offsets)) <= 30_000_000 and len(set(offsets)) > 100  # (5-minute steps: +-30 s)


def test_a_jittered_case_moves_only_its_timestamps() -> None:
    bench = load_benchmark("bench_explain")
    from backend.analytics import MetricSeries

    s = MetricSeries.from_arrays(
        "t", "c", "n", "m", [i * 60_000_000 for i in range(500)], [1.0 * i for i in range(500)]
    )
    moved = bench.jittered(s, 0.2, random.Random(3))
    assert list(moved.values) == list(s.values) and moved.ids == s.ids
    offsets = [a - b for a, b in zip(moved.epoch_us, s.epoch_us, strict=True)]
    assert max(map(abs, offsets)) <= 12_000_000 and any(offsets)
    assert bench.jittered(s, 0.0, random.Random(3)) is s
