"""backend.analytics: find what is wrong in a fleet's metrics, for many tenants at once.

The core is stdlib-only. Public names are re-exported here; everything else
lives in private modules or in documented submodules
(:mod:`backend.analytics.engines`, :mod:`backend.analytics.evaluation`,
:mod:`backend.analytics.testing`, :mod:`backend.analytics.store`).
"""

from .aggregation import AggregationPipeline, AggregationStrategy
from .engine import AnomalyDetectionEngine, EngineRegistry
from .errors import EngineLoadError, UnknownEngineError
from .explain import AnomalyType, ExplanationClassifier
from .types import AggregatedAnomalyScore, AnomalyResult, MetricSeries
from .windows import SlidingWindowExtractor, TimeBasedWindowExtractor, TimeWindow

__all__ = [
    "AggregatedAnomalyScore",
    "AggregationPipeline",
    "AggregationStrategy",
    "AnomalyDetectionEngine",
    "AnomalyResult",
    "AnomalyType",
    "EngineLoadError",
    "EngineRegistry",
    "ExplanationClassifier",
    "MetricSeries",
    "SlidingWindowExtractor",
    "TimeBasedWindowExtractor",
    "TimeWindow",
    "UnknownEngineError",
]

__version__ = "0.1.0"
