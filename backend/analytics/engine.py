"""Engines: the ``AnomalyDetectionEngine`` ABC, the ``EngineRegistry`` and a batch runner.

An engine is one class with two abstract methods, ``detect`` and ``explain``,
plus two class attributes, ``name`` and ``causal``. Engines are configured by
keyword arguments to their constructor; every engine that scores windows
accepts ``window_size_points`` and ``stride_points``.

The registry knows the built-in engines without installation and every engine
published by an installed distribution under the entry-point group
``backend.analytics.engines`` (name = engine name, value = ``module:Class``).
Each entry point is loaded in its own ``try``/``except Exception``: a broken
plugin never takes the registry down; asking for it raises
:class:`~backend.analytics.errors.EngineLoadError`, which names the entry
point, its distribution and the cause.

>>> registry = EngineRegistry.default()
>>> "zscore" in registry.names()
True
>>> engine = registry.create("zscore", window_size_points=5, stride_points=5)
>>> engine.name
'zscore'
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any, ClassVar

from .errors import EngineLoadError, UnknownEngineError
from .types import AnomalyResult, MetricSeries

__all__ = [
    "ENTRY_POINT_GROUP",
    "AnomalyDetectionEngine",
    "BatchReport",
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
    #: Points of history an engine needs before a window can be anomalous, on a
    #: regular series; before that its windows are NORMAL with low scores.
    #: Engines set it per instance when it depends on their settings.
    warmup_points: int = 0

    @abstractmethod
    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score the windows of ``time_series``; results ordered by ``window_start``."""

    @abstractmethod
    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One plain sentence about ``result`` (a result of ``detect`` on ``time_series``)."""


def _dist_label(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    try:
        return f"{dist.metadata['Name']} {dist.version}"
    except Exception:  # a malformed METADATA must not break the registry either
        return "unknown distribution"


def _check_engine_class(obj: object, expected_name: str) -> type[AnomalyDetectionEngine]:
    """Return ``obj`` if it is a concrete engine class named ``expected_name``; else raise TypeError."""
    if not isinstance(obj, type) or not issubclass(obj, AnomalyDetectionEngine):
        raise TypeError(f"expected a subclass of backend.analytics.AnomalyDetectionEngine, got {obj!r}")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise TypeError(f"{obj.__qualname__} is abstract (missing: {missing})")
    declared = getattr(obj, "name", None)
    if declared != expected_name:
        raise TypeError(
            f"{obj.__qualname__}.name is {declared!r}, but it is registered as {expected_name!r}; "
            "the entry-point name must equal the engine's name"
        )
    if not isinstance(getattr(obj, "causal", None), bool):
        raise TypeError(f"{obj.__qualname__}.causal must be a bool, got {obj.causal!r}")
    return obj


class EngineRegistry:
    """Engines by name: built-ins, installed plugins, and engines registered in code.

    ``EngineRegistry()`` is empty; :meth:`default` holds the built-ins and the
    installed plugins.
    """

    def __init__(self) -> None:
        self._engines: dict[str, type[AnomalyDetectionEngine]] = {}
        self._broken: dict[str, EngineLoadError] = {}

    @classmethod
    def default(cls) -> EngineRegistry:
        """A registry with the built-in engines and every installed plugin engine."""
        registry = cls()
        for name, target in _BUILTINS.items():
            module_name, _, attr = target.partition(":")
            registry.register(name, getattr(import_module(module_name), attr))
        registry.load_entry_points()
        return registry

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every engine published under ``group``; failures are recorded, not raised.

        Entry points are visited sorted by (name, distribution) so the outcome
        does not depend on the order of ``sys.path``. A name already taken by
        another class is a conflict and is recorded as a failure of that entry
        point; the engine already registered stays.
        """
        eps = sorted(metadata.entry_points(group=group), key=lambda e: (e.name, _dist_label(e)))
        for ep in eps:
            label = f"{ep.name} = {ep.value}"
            try:
                engine_cls = _check_engine_class(ep.load(), ep.name)
            except Exception as exc:  # a broken plugin must not take the registry down
                error = EngineLoadError(ep.name, label, _dist_label(ep), exc)
                error.__cause__ = exc
                logger.warning("%s", error)
                if ep.name not in self._engines:
                    self._broken.setdefault(ep.name, error)
                continue
            known = self._engines.get(ep.name)
            if known is engine_cls:
                continue  # the same class seen twice (for example a built-in that is also installed)
            if known is not None:
                conflict = ValueError(
                    f"name {ep.name!r} is already registered for {known.__module__}.{known.__qualname__}"
                )
                error = EngineLoadError(ep.name, label, _dist_label(ep), conflict)
                error.__cause__ = conflict
                logger.warning("%s", error)
                continue
            self._engines[ep.name] = engine_cls
            self._broken.pop(ep.name, None)

    def register(self, name: str, cls: type[AnomalyDetectionEngine], *, replace: bool = False) -> None:
        """Register ``cls`` under ``name`` (which must equal ``cls.name``).

        Raises ``TypeError`` if ``cls`` is not a concrete engine class and
        ``ValueError`` if the name is taken by another class (unless ``replace``).
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"EngineRegistry.register: name must be a non-empty str, got {name!r}")
        try:
            engine_cls = _check_engine_class(cls, name)
        except TypeError as exc:
            raise TypeError(f"EngineRegistry.register({name!r}): {exc}") from None
        known = self._engines.get(name)
        if known is not None and known is not engine_cls and not replace:
            raise ValueError(
                f"EngineRegistry.register: name {name!r} is already registered for "
                f"{known.__module__}.{known.__qualname__}; pass replace=True to replace it"
            )
        self._engines[name] = engine_cls
        self._broken.pop(name, None)

    def names(self) -> list[str]:
        """The names of the engines that can be created, sorted."""
        return sorted(self._engines)

    def failures(self) -> dict[str, EngineLoadError]:
        """Engines that were found but could not be loaded, by name."""
        return dict(sorted(self._broken.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._engines

    def get(self, name: str) -> type[AnomalyDetectionEngine]:
        """The engine class registered as ``name``.

        Raises :class:`UnknownEngineError` (a ``KeyError``) listing the known
        names, or :class:`EngineLoadError` (chained from the cause) for a
        plugin that was found but could not be loaded.
        """
        try:
            return self._engines[name]
        except (KeyError, TypeError):
            pass
        broken = self._broken.get(name)
        if broken is not None:
            raise broken from broken.__cause__
        raise UnknownEngineError(name, list(self._engines) + list(self._broken))

    def create(self, name: str, **config: Any) -> AnomalyDetectionEngine:
        """Build engine ``name`` with keyword configuration ``config``.

        Unknown keywords raise ``TypeError`` naming them and the accepted ones;
        bad values raise the engine's own ``ValueError``/``TypeError``.
        """
        engine_cls = self.get(name)
        accepted = _accepted_keywords(engine_cls)
        if accepted is not None:
            unknown = sorted(set(config) - accepted)
            if unknown:
                raise TypeError(
                    f"engine {name!r}: unknown configuration keyword(s) {', '.join(map(repr, unknown))}; "
                    f"accepted: {', '.join(sorted(accepted)) or '(none)'}"
                )
        return engine_cls(**config)


def _accepted_keywords(cls: type) -> set[str] | None:
    """Keyword names ``cls(...)`` accepts, or ``None`` if it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: let the call decide
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }


@dataclass(frozen=True, slots=True)
class SeriesFailure:
    """One series an engine could not process in a batch, with the error."""

    ids: tuple[str, str, str, str]
    error: Exception

    def __str__(self) -> str:
        tenant, cluster, node, metric = self.ids
        return (
            f"{metric} on node {node} (cluster {cluster}, tenant {tenant}): "
            f"{type(self.error).__name__}: {self.error}"
        )


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

    Each failure is logged and reported with the series' ids and the exception
    (``Exception`` subclasses only: ``KeyboardInterrupt`` still stops the run).
    Results keep the input order of the series.
    """
    results: list[AnomalyResult] = []
    failures: list[SeriesFailure] = []
    ok = 0
    for item in series:
        try:
            out = engine.detect(item)
        except Exception as exc:  # isolate the failing series, report it, go on
            failure = SeriesFailure(item.ids, exc)
            logger.warning("engine %r failed on %s", getattr(engine, "name", engine), failure)
            failures.append(failure)
            continue
        results.extend(out)
        ok += 1
    return BatchReport(results, failures, ok)
