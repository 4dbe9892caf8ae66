"""The two small enumerations shared by the data contracts and the pipeline.

``AnomalyType`` (re-exported by :mod:`backend.analytics.explain`) names what a
window looks like; ``AggregationStrategy`` (re-exported by
:mod:`backend.analytics.aggregation`) names how scores are combined. They live
here, apart from their public homes, so that :mod:`backend.analytics.types` can
validate against them without importing the modules that use the types.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["AggregationStrategy", "AnomalyType"]


class AnomalyType(str, Enum):
    """What a window looks like compared with the history before it.

    ``SPIKE``: a short excursion far from the expected level, after which the
    series returns. ``TREND``: a sustained directional change (ramp or level
    shift) that persists to the end of the window. ``SEASONAL``: the history is
    periodic and the window departs from the expected seasonal shape while
    staying inside the historical range. ``NORMAL``: consistent with history.
    """

    SPIKE = "spike"
    TREND = "trend"
    SEASONAL = "seasonal"
    NORMAL = "normal"

    def __str__(self) -> str:
        return self.value


class AggregationStrategy(str, Enum):
    """How scores are combined at each level of the hierarchy.

    ``MAX``: the largest score. ``MEAN``: the arithmetic mean. ``WEIGHTED``: a
    weighted mean (weights by metric name at node level; see
    :class:`~backend.analytics.aggregation.AggregationPipeline` for the levels
    above). ``P95``: the 95th percentile, linear interpolation between closest
    ranks (``statistics.quantiles(..., n=100, method="inclusive")[94]``).
    """

    MAX = "max"
    MEAN = "mean"
    WEIGHTED = "weighted"
    P95 = "p95"

    def __str__(self) -> str:
        return self.value
