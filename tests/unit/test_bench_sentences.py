"""benchmarks/bench_sentences.py: the tally of stated distances, on hand-made results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from backend.analytics import AnomalyResult, AnomalyType
from simulator.anomalies import GroundTruth
from tests.bench_scripts import load_benchmark

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
W = timedelta(minutes=10)


def result(node: str, k: int, score: float, sentence: str | None) -> AnomalyResult:
    label = AnomalyType.TREND if score >= 0.5 else AnomalyType.NORMAL
    return AnomalyResult(
        "t", "c", node, "m", T0 + k * W, T0 + k * W + W - timedelta(minutes=1), score, label, None, sentence
    )


def test_tally_splits_first_and_later_windows_and_reads_the_stated_distance() -> None:
    tally = load_benchmark("bench_sentences").sentence_tally
    rows = [
        result("a", 0, 0.1, None),
        result("a", 1, 0.9, "m rose to 9 and stayed there, 212 sd above its baseline of 0.5"),
        result("a", 2, 0.8, "m rose to 9 and stayed there, 1.14 sd below its baseline of 9.1"),
        result("a", 3, 0.2, None),
        result("a", 4, 0.7, "m spiked to 5, 2.5e+01 sd above its baseline of 1"),
        result("b", 1, 0.6, "m was at 3 at 10:00 UTC (a possible trend); no baseline yet to compare with."),
        result("b", 0, 0.9, "m dropped to 1, 0.5 sd below its baseline of 2"),  # out of order: sorted by time
    ]
    got = tally(rows)
    assert got == {("first", "far"): 2, ("later", "near"): 1, ("first", "near"): 1, ("later", "none"): 1}


def test_label_tally_counts_each_anomalous_window_over_an_injected_anomaly_by_its_expected_label() -> None:
    tally = load_benchmark("bench_sentences").label_tally
    spike = GroundTruth("i1", "t", "c", "a", "m", "spike", T0 + W, T0 + 2 * W, "spike", 5.0)
    shift = GroundTruth("i2", "t", "c", "b", "m", "level_shift", T0, T0 + 3 * W, "trend", 5.0)

    def labelled(node: str, k: int, score: float, label: AnomalyType) -> AnomalyResult:
        return AnomalyResult(
            "t", "c", node, "m", T0 + k * W, T0 + k * W + W - timedelta(minutes=1), score, label, None, None
        )

    rows = [
        labelled("a", 0, 0.2, AnomalyType.NORMAL),  # not anomalous
        labelled("a", 1, 0.9, AnomalyType.SPIKE),
        labelled("a", 3, 0.6, AnomalyType.TREND),  # within the hour after the spike's end
        labelled("a", 9, 0.6, AnomalyType.TREND),  # 70 minutes after it: another matter
        labelled("b", 2, 0.7, AnomalyType.TREND),
        labelled("c", 1, 0.9, AnomalyType.SPIKE),  # a series with nothing injected
    ]
    got = tally(rows, [spike, shift])
    assert got == {("spike", "spike"): 1, ("spike", "trend"): 1, ("trend", "trend"): 1}


def test_one_point_windows_next_to_each_other_are_one_episode() -> None:
    tally = load_benchmark("bench_sentences").sentence_tally

    def point(k: int, score: float) -> AnomalyResult:
        at = T0 + k * timedelta(minutes=5)
        label = AnomalyType.SPIKE if score >= 0.5 else AnomalyType.NORMAL
        return AnomalyResult("t", "c", "a", "m", at, at, score, label, None, "m spiked to 9, 5 sd above 1")

    got = tally([point(0, 0.1), point(1, 0.9), point(2, 0.6), point(3, 0.1), point(5, 0.7)])
    assert got == {("first", "far"): 2, ("later", "far"): 1}


def test_shift_tally_checks_a_named_shift_against_the_injected_phase_shift() -> None:
    tally = load_benchmark("bench_sentences").shift_tally
    # The simulator's phase shift runs its day early by `magnitude` hours.
    phase = GroundTruth("i1", "t", "c", "a", "m", "phase_shift", T0, T0 + 10 * W, "seasonal", 6.0)
    damped = GroundTruth("i2", "t", "c", "b", "m", "amplitude_change", T0, T0 + 10 * W, "seasonal", 0.3)

    def seasonal(node: str, k: int, sentence: str) -> AnomalyResult:
        end = T0 + k * W + W - timedelta(minutes=1)
        return AnomalyResult("t", "c", node, "m", T0 + k * W, end, 0.8, AnomalyType.SEASONAL, None, sentence)

    broke = "m broke its usual daily cycle"
    rows = [
        seasonal("a", 1, f"{broke}, running about 5.5 hours early: 3 where 9 was expected"),  # right
        seasonal("a", 2, f"{broke}, running about 6 hours late: 3 where 9 was expected"),  # the wrong way
        seasonal("a", 3, f"{broke}, running about 1 hour 45 minutes early: 3 where 9 was expected"),  # far
        seasonal("a", 4, f"{broke}: 3 where 9 was expected"),  # no shift named
        seasonal("b", 1, f"{broke}, running about 2 hours late: 3 where 9 was expected"),  # a damped swing
        seasonal("z", 1, f"{broke}, running about 45 minutes early: 3 where 9 was expected"),  # nothing there
    ]
    got = tally(rows, [phase, damped])
    assert got == {
        "seasonal windows": 6,
        "named": 5,
        "phase_shift right": 1,
        "phase_shift wrong": 2,
        "on amplitude_change": 1,
        "on no injected anomaly": 1,
    }
