"""The public names of ``backend.analytics.evaluation`` are pinned (httpx style)."""

from __future__ import annotations

import subprocess
import sys

from backend.analytics import evaluation

EXPECTED = {
    "NAB_PROBATION_PERCENT",
    "NAB_PROFILES",
    "NO_DETECTION_THRESHOLD",
    "BadTimestampPolicy",
    "CostProfile",
    "EventMetrics",
    "FileScore",
    "GroupScore",
    "LocoChoice",
    "LocoResult",
    "NABCorpus",
    "NABFile",
    "NABFileLabels",
    "NABRun",
    "PointAdjustedScores",
    "ProfileResult",
    "ThresholdChoice",
    "TimestampRepair",
    "alarms_from_scores",
    "anomalous_spans",
    "detected_within",
    "evaluate_engine",
    "evaluate_point_scorer",
    "event_metrics",
    "events_from_labels",
    "leave_one_group_out",
    "load_nab_corpus",
    "load_profiles",
    "merge_spans",
    "normalised_score",
    "optimize_threshold",
    "point_adjusted_scores",
    "point_scores_from_results",
    "probationary_length",
    "resolve_windows",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
    "spans_outside",
    "sweep_thresholds",
    "sweep_weights",
}


def test_all_is_pinned() -> None:
    """__all__ lists exactly the public names, and each one exists."""
    assert set(evaluation.__all__) == EXPECTED
    assert len(evaluation.__all__) == len(EXPECTED)
    for name in EXPECTED:
        assert hasattr(evaluation, name)


def test_import_loads_only_the_standard_library() -> None:
    """Importing the evaluation package pulls in no third-party module."""
    code = (
        "import sys; before = set(sys.modules); import backend.analytics.evaluation; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "third = sorted(m for m in new if m != 'backend' and m not in sys.stdlib_module_names); "
        "print(','.join(third))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
