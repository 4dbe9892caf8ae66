"""The fleet benchmark and NAB leave-one-category-out commands, end to end on small inputs."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from simulator.cycles import ONE_MINUTE_3_DAYS, generate_cycle_fleet
from tests.bench_scripts import load_benchmark


def test_bench_fleet_counts_events_as_the_fleet_defines_them(tmp_path: Path) -> None:
    """A small run writes per-split figures whose event counts follow the generator's kinds."""
    bench = load_benchmark("bench_fleet")
    out = tmp_path / "fleet.json"
    argv = ["--series", "5", "--split", "tune", "--engine", "zscore", "--json", str(out)]
    assert bench.main(argv) == 0
    summary = json.loads(out.read_text(encoding="utf-8"))
    for detector in ("zscore", "reference"):
        figures = summary["results"][detector]["tune"]
        # Per fleet: one spike, one shift, one ramp, the first of a train; the train's other 9 spikes.
        assert figures["events"] == 2 * 4
        assert figures["repeats"] == 2 * 9
        for key in ("event_recall", "repeat_recall", "agreement"):
            assert 0.0 <= figures[key] <= 1.0
        assert figures["clean_fa_per_series_day"] >= 0.0
    assert summary["results"]["reference"]["tune"]["agreement"] == 1.0
    # The weekly-rhythm fleet is reported apart: 21 days, the same kinds, clean days counted from day 7.
    weekly = summary["results"]["zscore"]["tune"]["weekly"]
    assert weekly["events"] == 4 and weekly["repeats"] == 9
    assert 0.0 <= weekly["clean_fa_per_series_day_settled"] <= weekly["clean_fa_episodes"] / 14


def test_reference_detector_finds_a_shift_and_stays_quiet_on_a_clean_cycle() -> None:
    """The benchmark's reference alarms within 30 points of a 10-sd shift, and not on clean days 2-3.

    (Its first day, judged against the recent median, may raise an alarm on a steep part of the
    cycle; the benchmark counts those.)
    """
    bench = load_benchmark("bench_fleet")
    detector = bench.ReferenceDetector()
    clean = replace(ONE_MINUTE_3_DAYS, kinds=("clean",))
    for item in generate_cycle_fleet(4, clean, n_series=3).series:
        spans = bench._alarm_spans(detector.alarms(item.series))
        assert [s for s in spans if s[0] >= clean.points_per_day] == []
    shifted = replace(ONE_MINUTE_3_DAYS, kinds=("level_shift",), shift_sd=(10.0, 10.0))
    for item in generate_cycle_fleet(4, shifted, n_series=3).series:
        (event,) = item.events
        spans = bench._alarm_spans(detector.alarms(item.series))
        assert bench.detected_within(spans, onset=event.onset, tolerance_points=30)


def test_window_holding_the_onset_is_the_detection_not_a_false_alarm() -> None:
    """On an event series, an anomalous window that starts before the onset and holds it is no false
    alarm for an engine with windows that long; a window ending before the onset still is one."""
    bench = load_benchmark("bench_fleet")
    shifted = replace(ONE_MINUTE_3_DAYS, kinds=("level_shift",))
    fleet = generate_cycle_fleet(5, shifted, n_series=1)
    (event,) = fleet.series[0].events
    holding = [(event.onset - 9, event.onset + 1)]
    before = [(event.onset - 20, event.onset - 10)]
    for spans, window, expected in ((holding, 10, 0), (holding, 1, 1), (before, 10, 1)):
        tally = bench.Tally()
        bench.score_series(tally, fleet, 0, spans, window)
        assert tally.event_fa_episodes == expected, (spans, window)


def _write_corpus(root: Path) -> None:
    """Three categories of two files each: noise around 10 with a spike inside each label window."""
    rng = random.Random(11)
    t0 = datetime(2020, 1, 1)
    stamps = [t0 + timedelta(minutes=5 * i) for i in range(400)]
    labels: dict[str, list[list[str]]] = {}
    for category in ("catA", "catB", "catC"):
        (root / "data" / category).mkdir(parents=True)
        for k in range(2):
            values = [10.0 + rng.gauss(0.0, 1.0) for _ in stamps]
            at = rng.randrange(150, 350)
            values[at] += rng.uniform(6.0, 14.0)
            rows = "\n".join(f"{t:%Y-%m-%d %H:%M:%S},{v!r}" for t, v in zip(stamps, values, strict=True))
            (root / "data" / category / f"f{k}.csv").write_text("timestamp,value\n" + rows + "\n")
            window = [
                f"{stamps[at - 10]:%Y-%m-%d %H:%M:%S}.000000",
                f"{stamps[at + 10]:%Y-%m-%d %H:%M:%S}.000000",
            ]
            labels[f"{category}/f{k}.csv"] = [window]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_bench_nab_loco_chooses_per_category_and_reuses_its_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--loco names a choice per category; a second run reads the cache and gives the same figures."""
    data = tmp_path / "nab"
    _write_corpus(data)
    bench = load_benchmark("bench_nab")
    argv = [
        "--loco",
        "--engine",
        "zscore",
        "--config",
        "classify=false",
        "--preset",
        "wide:window_size_points=10,stride_points=10",
        "--data",
        str(data),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--published-table",
        str(tmp_path / "absent.json"),
    ]
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert bench.main([*argv, "--json", str(first)]) == 0
    assert "(ran," in capsys.readouterr().out
    assert bench.main([*argv, "--json", str(second)]) == 0
    printed = capsys.readouterr().out
    assert "(ran," not in printed and printed.count("(cached)") == 2
    a = json.loads(first.read_text(encoding="utf-8"))
    b = json.loads(second.read_text(encoding="utf-8"))
    assert a["loco"] == b["loco"] and a["defaults_in_sample"] == b["defaults_in_sample"]
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert sorted(a["loco"][profile]["choices"]) == ["catA", "catB", "catC"]
        assert {c["candidate"] for c in a["loco"][profile]["choices"].values()} <= {"defaults", "preset:wide"}
    # Changing a data file changes the cache key: the engines run again.
    path = data / "data" / "catA" / "f0.csv"
    path.write_text(path.read_text().replace(",1", ",2", 1))
    assert bench.main(argv) == 0
    assert capsys.readouterr().out.count("(ran,") == 2


def test_bench_engines_store_part_prints_the_store_next_to_bare_sqlite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`bench_engines.py --part store` prints only the store's table: ingest, results, the 12-row read."""
    bench = load_benchmark("bench_engines")
    assert bench.main(["--part", "store", "--series", "4", "--points", "200", "--results", "6144"]) == 0
    out = capsys.readouterr().out
    assert "### store" in out and "### workload" not in out and "### memory" not in out
    assert "bare `executemany` of the same rows" in out
    assert "(12 rows of" in out
