"""Every documented submodule's ``__all__`` is exactly what is published: adding, renaming or dropping a
public name is a deliberate change made here, in the docs and in CHANGELOG.md (issue 15)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.unit.test_evaluation_exports import EXPECTED as EVALUATION
from tests.unit.test_fleet_exports import PUBLISHED as FLEET_AND_LIVE

PUBLISHED: dict[str, set[str]] = {
    **FLEET_AND_LIVE,  # pinned in test_fleet_exports, with docs/fleet.md
    "backend.analytics.types": {
        "AggregatedAnomalyScore",
        "AnomalyResult",
        "MetricSeries",
        "TimestampSequence",
        "ValueSequence",
        "datetime_to_epoch_us",
        "epoch_us_to_datetime",
    },
    "backend.analytics.windows": {
        "SlidingWindowExtractor",
        "TimeBasedWindowExtractor",
        "TimeWindow",
        "locate_window",
    },
    "backend.analytics.engine": {
        "AnomalyDetectionEngine",
        "BatchReport",
        "ENTRY_POINT_GROUP",
        "EngineInfo",
        "EngineRegistry",
        "SeriesFailure",
        "detect_batch",
    },
    "backend.analytics.engines": {
        "CombinedEngine",
        "CombinedScorer",
        "ContextualEngine",
        "ContextualScorer",
        "NoveltyEngine",
        "NoveltyScorer",
        "ZScoreEngine",
        "ZScoreScorer",
    },
    "backend.analytics.scoring": {
        "ALARM",
        "PointScorer",
        "PointScoringEngine",
        "RescaledScorer",
        "ScoreStream",
        "raw_to_unit",
        "z_score_to_unit",
    },
    "backend.analytics.store": {
        "MetricStore",
        "ResultSink",
        "RetentionPolicy",
        "RetentionReport",
        "RollupBucket",
        "SQLiteMetricStore",
        "SeriesKey",
        "SeriesNotFoundError",
        "StoreError",
        "UNRECORDED_ENGINE",
    },
    "backend.analytics.io": {
        "LabelMapping",
        "LoadError",
        "LoadIssue",
        "LoadReport",
        "Loaded",
        "PrometheusError",
        "PrometheusSource",
        "from_frame",
        "read_csv",
        "to_frame",
        "write_csv",
    },
    "backend.analytics.io.prometheus": {"LabelMapping", "MAX_POINTS", "PrometheusError", "PrometheusSource"},
    "backend.analytics.io.exposition": {
        "ExpositionServer",
        "FamilyType",
        "MetricFamily",
        "OPENMETRICS_CONTENT_TYPE",
        "PROMETHEUS_CONTENT_TYPE",
        "Sample",
        "analytics_families",
        "escape_label_value",
        "format_value",
        "render",
        "timestamp_ms",
    },
    "backend.analytics.report": {"render_report", "write_report"},
    "backend.analytics.cli": {"COMMANDS", "build_parser", "main"},
    "backend.analytics.evaluation": EVALUATION,  # pinned in test_evaluation_exports
    "backend.analytics.testing": {
        "CHECK_NAMES",
        "CheckOutcome",
        "EngineConformanceError",
        "check_engine",
        "engine_threshold",
        "make_test_series",
        "planted_anomalies",
        "run_checks",
    },
    "backend.analytics.aggregation": {"AggregationPipeline", "AggregationStrategy", "FleetScores", "p95"},
    "backend.analytics.explain": {"AnomalyType", "ExplanationClassifier"},
    "backend.analytics.errors": {
        "EngineCreateError",
        "EngineLoadError",
        "InsufficientHistoryWarning",
        "StoreError",
        "UnknownEngineError",
        "UnscoredPointsWarning",
    },
    "backend.analytics.validators": {
        "MAX_POINTS",
        "check_bool",
        "check_non_negative_int",
        "check_points",
        "check_positive_int",
        "check_positive_real",
        "check_real",
        "fail_type",
        "fail_value",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLISHED))
def test_all_is_exactly_the_published_surface(module_name: str) -> None:
    """``__all__`` holds exactly the published names, without repeats, and each one resolves."""
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ repeats a name"
    assert set(exported) == PUBLISHED[module_name], (
        f"{module_name}.__all__ changed: added {sorted(set(exported) - PUBLISHED[module_name])}, "
        f"dropped {sorted(PUBLISHED[module_name] - set(exported))}"
    )
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ lists {name!r}, which the module lacks"


@pytest.mark.parametrize("module_name", sorted(PUBLISHED))
def test_public_definitions_are_exported(module_name: str) -> None:
    """A public class or function defined in the module itself is in its ``__all__`` (no hidden API)."""
    module = importlib.import_module(module_name)
    defined = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == module_name
    }
    missing = sorted(defined - set(module.__all__))
    assert not missing, f"{module_name} defines public {missing} outside __all__: export them or prefix _"


def test_every_public_exception_survives_pickling() -> None:
    """A process pool sends a worker's error back pickled: each comes back with its message and fields.

    (An exception whose constructor takes other arguments than its ``args`` failed to unpickle, and
    ``detect_fleet``'s process pool reported every partition as a BrokenProcessPool instead.)
    """
    import pickle

    from backend.analytics.errors import EngineCreateError, EngineLoadError, UnknownEngineError
    from backend.analytics.io import LoadError, LoadIssue
    from backend.analytics.io.prometheus import PrometheusError
    from backend.analytics.store import SeriesKey, SeriesNotFoundError
    from backend.analytics.testing import CheckOutcome, EngineConformanceError

    errors: list[BaseException] = [
        UnknownEngineError("nope", ["zscore", "combined"]),
        EngineLoadError("x", "x = pkg:Engine", "pkg 1.0", ImportError("no module named pkg")),
        EngineCreateError("x", "built-in", RuntimeError("boom")),
        LoadError("f.csv", LoadIssue(17, "line 17", "refused", "value 'abc' is not a number")),
        PrometheusError("HTTP 400", url="http://127.0.0.1:9090", query="up", status=400, error="bad"),
        SeriesNotFoundError(SeriesKey("t", "c", "n", "m")),
        EngineConformanceError("x", [CheckOutcome("causality", "failed", "score 3 changed")]),
    ]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error), error
        assert {k: v for k, v in vars(back).items()} == vars(error), error
