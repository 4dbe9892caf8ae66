"""The public import surface is exactly what CONTRACT.md promises (plus documented additions)."""

from __future__ import annotations

import subprocess
import sys

import backend.analytics as ba

CONTRACT_NAMES = {
    "MetricSeries",
    "AnomalyResult",
    "AggregatedAnomalyScore",
    "AnomalyDetectionEngine",
    "EngineRegistry",
    "SlidingWindowExtractor",
    "TimeBasedWindowExtractor",
    "TimeWindow",
    "AggregationPipeline",
    "AggregationStrategy",
    "ExplanationClassifier",
    "AnomalyType",
}


def test_all_is_pinned() -> None:
    """__all__ is sorted and holds the contract names plus the two error classes."""
    assert ba.__all__ == sorted(ba.__all__)
    assert set(ba.__all__) == CONTRACT_NAMES | {"EngineLoadError", "UnknownEngineError"}
    for name in ba.__all__:
        assert getattr(ba, name) is not None


def test_names_importable_from_their_modules() -> None:
    """Each contract name is importable from the module CONTRACT.md names."""
    from backend.analytics.aggregation import AggregationPipeline, AggregationStrategy
    from backend.analytics.engine import AnomalyDetectionEngine, EngineRegistry
    from backend.analytics.explain import AnomalyType, ExplanationClassifier
    from backend.analytics.types import AggregatedAnomalyScore, AnomalyResult, MetricSeries
    from backend.analytics.windows import SlidingWindowExtractor, TimeBasedWindowExtractor, TimeWindow

    assert AggregationPipeline is ba.AggregationPipeline and AggregationStrategy is ba.AggregationStrategy
    assert AnomalyDetectionEngine is ba.AnomalyDetectionEngine and EngineRegistry is ba.EngineRegistry
    assert AnomalyType is ba.AnomalyType and ExplanationClassifier is ba.ExplanationClassifier
    assert MetricSeries is ba.MetricSeries and AnomalyResult is ba.AnomalyResult
    assert AggregatedAnomalyScore is ba.AggregatedAnomalyScore and TimeWindow is ba.TimeWindow
    assert (
        SlidingWindowExtractor is ba.SlidingWindowExtractor
        and TimeBasedWindowExtractor is ba.TimeBasedWindowExtractor
    )


def test_anomaly_type_values() -> None:
    """AnomalyType is a str enum with the contract's values."""
    assert [t.value for t in ba.AnomalyType] == ["spike", "trend", "seasonal", "normal"]
    assert isinstance(ba.AnomalyType.SPIKE, str) and ba.AnomalyType("trend") is ba.AnomalyType.TREND


def test_core_imports_only_stdlib() -> None:
    """Importing every module under backend.analytics loads nothing outside the standard library."""
    code = (
        "import sys, pkgutil, importlib\n"
        "before = set(sys.modules)\n"
        "import backend.analytics as ba\n"
        "for m in pkgutil.walk_packages(ba.__path__, 'backend.analytics.'):\n"
        "    importlib.import_module(m.name)\n"
        "std = set(sys.stdlib_module_names)\n"
        "bad = sorted({n.split('.')[0] for n in set(sys.modules) - before} - std - {'backend'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
