"""Engines: the ``AnomalyDetectionEngine`` ABC, the ``EngineRegistry`` and a batch runner.

An engine is one class with two abstract methods, ``detect`` and ``explain``,
plus two class attributes, ``name`` and ``causal``. Engines are configured by
keyword arguments to their constructor; every engine that scores windows
accepts ``window_size_points`` and ``stride_points``.

The registry knows the built-in engines without installation and every engine
published by an installed distribution under the entry-point group
``backend.analytics.engines`` (name = engine name, value = ``module:Class``).
Each entry point is loaded in its own ``try``: a broken plugin never takes the
registry down; asking for it raises
:class:`~backend.analytics.errors.EngineLoadError`, which names the entry
point, its distribution and the cause. The registry is in
:mod:`backend.analytics._registry` (discovery, caching, isolation).

>>> registry = EngineRegistry.default()
>>> "zscore" in registry.names()
True
>>> engine = registry.create("zscore", window_size_points=5, stride_points=5)
>>> engine.name
'zscore'
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

from .types import AnomalyResult, MetricSeries

__all__ = [
    "ENTRY_POINT_GROUP",
    "AnomalyDetectionEngine",
    "BatchReport",
    "EngineInfo",
    "EngineRegistry",
    "SeriesFailure",
    "detect_batch",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "backend.analytics.engines"

# Built-in engines: name -> "module:Class", imported lazily so that importing
# the registry stays cheap.
_BUILTINS: dict[str, str] = {
    "combined": "backend.analytics.engines.combined:CombinedEngine",
    "contextual": "backend.analytics.engines.contextual:ContextualEngine",
    "novelty": "backend.analytics.engines.novelty:NoveltyEngine",
    "zscore": "backend.analytics.engines.zscore:ZScoreEngine",
}


class AnomalyDetectionEngine(ABC):
    """Scores windows of a :class:`MetricSeries`; one subclass per detection method.

    Contract: results carry the series' four ids and are ordered by
    ``window_start``; an empty or too-short series gives ``[]``; any valid
    series (whatever its scale, constant, flat then a jump) gives finite scores
    in [0, 1] and never raises; windows of a constant series are NORMAL. A
    ``causal`` engine's result for a window depends only on points up to the
    window's end. :func:`backend.analytics.testing.check_engine` checks all of
    it.
    """

    name: ClassVar[str]
    causal: ClassVar[bool] = False
    #: The alarm line: a result is anomalous (its label not NORMAL) exactly when
    #: ``anomaly_score >= score_threshold``. It is 0.5 for every engine
    #: (CONTRACT.md); engines calibrate their scores to it.
    score_threshold: ClassVar[float] = 0.5
    #: Points of history an engine needs before a window can be anomalous (at
    #: most, on a regular series); before that its windows are NORMAL with low
    #: scores. Engines set it per instance when it depends on their settings;
    #: the conformance kit sizes its test series from it.
    min_history_points: int = 0
    #: Time from a series' first point during which every window is NORMAL
    #: with a low score, at any step (zero: none): the novelty engines' quiet
    #: first day. A series that spans less scores 0 throughout.
    min_history_span: timedelta = timedelta(0)

    @abstractmethod
    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score the windows of ``time_series``; results ordered by ``window_start``."""

    @abstractmethod
    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One plain sentence about ``result`` (a result of ``detect`` on ``time_series``)."""


@dataclass(frozen=True, slots=True)
class SeriesFailure:
    """One series an engine could not process in a batch, with the error.

    ``position`` is the item's place in the batch (0-based). An item that is
    not a :class:`MetricSeries` has no ids: ``ids`` is then four empty
    strings, and the message names its position and type.
    """

    ids: tuple[str, str, str, str]
    error: Exception
    position: int | None = None

    def __str__(self) -> str:
        tenant, cluster, node, metric = self.ids
        cause = f"{type(self.error).__name__}: {self.error}"
        if not any(self.ids):
            return f"item {self.position} of the batch: {cause}"
        return f"{metric} on node {node} (cluster {cluster}, tenant {tenant}): {cause}"


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What :func:`detect_batch` produced: results of the series that worked, failures of the rest."""

    results: list[AnomalyResult] = field(default_factory=list)
    failures: list[SeriesFailure] = field(default_factory=list)
    series_ok: int = 0

    @property
    def ok(self) -> bool:
        """True when every series was processed."""
        return not self.failures


def detect_batch(engine: AnomalyDetectionEngine, series: Iterable[MetricSeries]) -> BatchReport:
    """Run ``engine.detect`` on every series; one series' error never stops the others.

    Each failure is logged and reported with the series' ids, its position in
    the batch and the exception (``Exception`` subclasses only:
    ``KeyboardInterrupt`` still stops the run); an item that is not a series
    (a ``None`` from a failed load) is a failure like another.
    Results keep the input order of the series.
    """
    results: list[AnomalyResult] = []
    failures: list[SeriesFailure] = []
    ok = 0
    for position, item in enumerate(series):
        try:
            out = engine.detect(item)
        except Exception as exc:  # isolate the failing series, report it, go on
            # (An item that is not a series, a None from a failed load, has no ids to report.)
            ids = item.ids if isinstance(item, MetricSeries) else ("", "", "", "")
            failure = SeriesFailure(ids, exc, position)
            logger.warning("engine %r failed on %s", getattr(engine, "name", engine), failure)
            failures.append(failure)
            continue
        results.extend(out)
        ok += 1
    return BatchReport(results, failures, ok)


# The registry lives in its own module; it needs the ABC above, hence the import at the end.
from ._registry import EngineInfo, EngineRegistry  # noqa: E402
