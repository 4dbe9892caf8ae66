"""Unit tests of simulator.evaluate: merging windows into detections, precision, recall, labels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from backend.analytics import AnomalyResult
from simulator.anomalies import GroundTruth
from simulator.evaluate import detections, evaluate

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def window(start: int, end: int, score: float, label: str = "spike", node: str = "n1") -> AnomalyResult:
    return AnomalyResult("t", "c", node, "cpu", T0 + start * MIN, T0 + end * MIN, score, label)


def truth(
    start: int, end: int, kind: str = "spike", expected: str = "spike", node: str = "n1"
) -> GroundTruth:
    return GroundTruth(
        f"t#{start}", "t", "c", node, "cpu", kind, T0 + start * MIN, T0 + end * MIN, expected, 1.0
    )


def test_adjacent_anomalous_windows_merge_into_one_detection() -> None:
    """Overlapping or touching anomalous windows merge; normal windows are ignored."""
    results = [
        window(0, 5, 0.7),
        window(3, 8, 0.9),
        window(6, 11, 0.2, "normal"),
        window(20, 25, 0.6, "trend"),
    ]
    dets = detections(results)
    assert [(d.start, d.end, d.windows, d.best.anomaly_score) for d in dets] == [
        (T0, T0 + 8 * MIN, 2, 0.9),
        (T0 + 20 * MIN, T0 + 25 * MIN, 1, 0.6),
    ]
    assert len(detections(results, gap=15 * MIN)) == 1


def test_precision_recall_and_label_agreement() -> None:
    """One true and one false detection, one found and one missed label: 0.5 / 0.5, labels judged."""
    results = [window(10, 15, 0.9, "spike"), window(100, 105, 0.8, "spike")]
    gt = [truth(11, 12), truth(50, 60, "level_shift", "trend")]
    ev = evaluate(results, gt, slack=2 * MIN)
    assert (ev.detections, ev.matched_detections, ev.precision) == (2, 1, 0.5)
    assert (ev.records, ev.found_records, ev.recall) == (2, 1, 0.5)
    assert (ev.label_checked, ev.label_agree, ev.label_rate) == (1, 1, 1.0)
    assert ev.by_kind["spike"].recall == 1.0 and ev.by_kind["level_shift"].recall == 0.0
    assert [d.start for d in ev.unmatched] == [T0 + 100 * MIN]


def test_slack_lets_a_late_detection_count_and_other_series_never_match() -> None:
    """A detection just after the end counts within the slack; one on another node never counts."""
    gt = [truth(10, 20)]
    late = [window(21, 26, 0.9)]
    assert evaluate(late, gt, slack=0 * MIN).found_records == 0
    assert evaluate(late, gt, slack=5 * MIN).found_records == 1
    other = [window(10, 15, 0.9, node="n2")]
    assert evaluate(other, gt, slack=5 * MIN).found_records == 0


def test_nothing_detected_nothing_injected() -> None:
    """Empty inputs give vacuous rates of 1.0, not a division error."""
    ev = evaluate([], [], slack=MIN)
    assert (ev.precision, ev.recall, ev.incident_recall, ev.label_rate) == (1.0, 1.0, 1.0, 1.0)


def test_the_label_is_judged_on_a_window_that_starts_inside_the_record() -> None:
    """Of a record's windows, those starting inside its span are judged, not one in the slack after it."""
    gt = [truth(100, 110, "level_shift", "trend")]
    results = [window(100, 109, 0.7, "trend"), window(112, 121, 0.9, "spike")]
    ev = evaluate(results, gt, slack=100 * MIN)
    assert (ev.found_records, ev.label_checked, ev.label_agree) == (1, 1, 1)
    # With no window starting inside, the overlapping ones are judged (here the one in the slack).
    late = evaluate([window(112, 121, 0.9, "spike")], gt, slack=100 * MIN)
    assert (late.found_records, late.label_agree) == (1, 0)
