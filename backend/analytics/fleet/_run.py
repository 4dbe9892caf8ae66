"""``detect_fleet``: one engine over every series of a source, partitioned across an executor.

The client lists the source's keys, cuts them into contiguous partitions and
keeps at most ``max_in_flight`` of them submitted at once. Each task carries
the source (a small description) and its partition's keys; the worker loads
those series itself, runs the engine on each, and sends back only the
results. The client files each partition's results under its position as it
completes, so the final order is the keys' order whatever the completion
order, and the client never holds more than ``max_in_flight`` partitions of
work in the air (it holds no points at all, unless the source is a
:class:`~backend.analytics.fleet.ListSource`).
"""

from __future__ import annotations

import logging
import math
from array import array
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .._kinds import AnomalyType
from .._validate import check_id, check_positive_int, fail_type, fail_value
from ..aggregation import AggregationPipeline, FleetScores
from ..engine import AnomalyDetectionEngine, EngineRegistry
from ..errors import UnknownEngineError
from ..store import SeriesKey
from ..types import AnomalyResult, datetime_to_epoch_us, epoch_us_to_datetime
from ._executors import executor_width, local_executor
from ._sources import SeriesSource

__all__ = ["FleetProgress", "FleetRun", "detect_fleet"]

logger = logging.getLogger(__name__)

_OWNER = "detect_fleet"
# Series per partition when ``partitions`` is not given: at most this many, and at
# least eight partitions per worker so that a slow partition does not idle the others.
_MAX_PARTITION_SERIES = 256


@dataclass(frozen=True, slots=True)
class FleetProgress:
    """Where a fleet run stands, passed to the ``progress`` callback after each partition."""

    series_done: int
    series_total: int
    series_failed: int
    points: int
    partitions_done: int
    partitions_total: int

    def __str__(self) -> str:
        share = self.series_done / self.series_total if self.series_total else 1.0
        return (
            f"{self.series_done:,}/{self.series_total:,} series ({share:.0%}), {self.points:,} points, "
            f"{self.series_failed:,} failed, partition {self.partitions_done}/{self.partitions_total}"
        )


@dataclass(frozen=True, slots=True)
class FleetRun:
    """What :func:`detect_fleet` produced.

    ``results``: every result, series in the source's key order, each
    series' windows in time order (the same list a one-process loop of
    ``engine.detect`` gives). ``aggregates``: node, cluster and tenant
    scores of ``results`` by the run's :class:`AggregationPipeline`.
    ``failures``: series key -> ``"ErrorType: message"`` for every series
    that could not be loaded or detected (its results are absent, the rest
    of the run is complete). ``points``: points detected on.
    """

    engine: str
    results: tuple[AnomalyResult, ...]
    aggregates: FleetScores
    failures: Mapping[SeriesKey, str]
    series_total: int
    points: int

    @property
    def ok(self) -> bool:
        """True when every series was processed."""
        return not self.failures

    @property
    def series_ok(self) -> int:
        """Series processed without failure."""
        return self.series_total - len(self.failures)


# One series' results in columns, the form they travel back in (a fifth of the pickled size of the
# objects, and cheaper to pickle and unpickle): ids, window starts and ends (epoch us), scores,
# label indexes, magnitudes (NaN for None) and explanations.
_Packed = tuple[
    tuple[str, str, str, str],
    "array[int]",
    "array[int]",
    "array[float]",
    bytes,
    "array[float]",
    list[str | None],
]
_LABELS = tuple(AnomalyType)
_LABEL_INDEX = {label: i for i, label in enumerate(_LABELS)}


def _pack(ids: tuple[str, str, str, str], results: list[AnomalyResult]) -> _Packed:
    to_us = datetime_to_epoch_us
    nan = math.nan
    return (
        ids,
        array("q", [to_us(r.window_start) for r in results]),
        array("q", [to_us(r.window_end) for r in results]),
        array("d", [r.anomaly_score for r in results]),
        bytes(_LABEL_INDEX[r.anomaly_label] for r in results),
        array("d", [nan if r.magnitude is None else r.magnitude for r in results]),
        [r.explanation for r in results],
    )


def _unpack(packed: _Packed) -> list[AnomalyResult]:
    ids, starts, ends, scores, labels, magnitudes, texts = packed
    to_dt = epoch_us_to_datetime
    trusted = AnomalyResult._trusted
    return [
        trusted(ids, to_dt(a), to_dt(b), score, _LABELS[k], None if math.isnan(mag) else mag, text)
        for a, b, score, k, mag, text in zip(starts, ends, scores, labels, magnitudes, texts, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A partition's answer: packed results per key (key order; None for a failed key), failures, points."""

    results: list[_Packed | None]
    failures: list[tuple[SeriesKey, str]]
    points: int


# Engines built in this worker process, by (name, settings): built once per process.
_ENGINES: dict[tuple[str, str], AnomalyDetectionEngine] = {}


def _engine_for(spec: AnomalyDetectionEngine | tuple[str, dict[str, Any]]) -> AnomalyDetectionEngine:
    if isinstance(spec, AnomalyDetectionEngine):
        return spec
    name, config = spec
    cache_key = (name, repr(sorted(config.items())))
    engine = _ENGINES.get(cache_key)
    if engine is None:
        engine = _ENGINES[cache_key] = EngineRegistry.default().create(name, **config)
    return engine


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if not text and "Cancelled" in type(exc).__name__:
        text = "the task was cancelled on the executor (a cluster restart or shutdown?); run it again"
    return f"{type(exc).__name__}: {text or '(no message)'}"


def _run_partition(
    source: SeriesSource,
    spec: AnomalyDetectionEngine | tuple[str, dict[str, Any]],
    keys: tuple[SeriesKey, ...],
) -> _Outcome:
    """In a worker: load the partition's series and detect on each; one series' error never stops the rest."""
    engine = _engine_for(spec)
    loaded = source.load(keys)
    results: list[_Packed | None] = []
    failures: list[tuple[SeriesKey, str]] = []
    points = 0
    for key in keys:
        series = loaded.get(key)
        if series is None:
            failures.append((key, "LookupError: the source returned no series for this key"))
            results.append(None)
            continue
        try:
            packed = _pack(series.ids, _checked(engine, series.ids, engine.detect(series)))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: reported with the key; the partition goes on
            failures.append((key, _describe(exc)))
            results.append(None)
            continue
        results.append(packed)
        points += len(series)
    return _Outcome(results, failures, points)


def _checked(
    engine: AnomalyDetectionEngine, ids: tuple[str, str, str, str], out: object
) -> list[AnomalyResult]:
    """``out`` if it is a list of AnomalyResult of the series ``ids``; else TypeError/ValueError saying so."""
    name = getattr(engine, "name", type(engine).__name__)
    if not isinstance(out, list):
        fail_type(f"engine {name!r}: detect()", "return value", "a list of AnomalyResult", out)
    for i, r in enumerate(out):
        if not isinstance(r, AnomalyResult):
            fail_type(f"engine {name!r}: detect()", f"result [{i}]", "an AnomalyResult", r)
        if (r.tenant_id, r.cluster_id, r.node_id, r.metric_name) != ids:
            raise ValueError(
                f"engine {name!r}: detect() of {'/'.join(ids)} returned result [{i}] of another series, "
                f"{r.tenant_id}/{r.cluster_id}/{r.node_id}/{r.metric_name}"
            )
    return out


def _check_keys(keys: object) -> list[SeriesKey]:
    if not isinstance(keys, list):
        fail_type(_OWNER, "source.keys()", "a list of SeriesKey", keys)
    out: list[SeriesKey] = []
    seen: set[SeriesKey] = set()
    for i, key in enumerate(keys):
        if not isinstance(key, tuple) or len(key) != 4:
            fail_type(_OWNER, f"source.keys()[{i}]", "a SeriesKey of four non-empty str", key)
        parts = zip(SeriesKey._fields, key, strict=True)
        skey = SeriesKey(*(check_id(_OWNER, f"source.keys()[{i}].{name}", part) for name, part in parts))
        if skey in seen:
            fail_value(_OWNER, f"source.keys()[{i}]", "a key listed once", key)
        seen.add(skey)
        out.append(skey)
    return out


def _split(keys: list[SeriesKey], partitions: int) -> list[tuple[SeriesKey, ...]]:
    n = len(keys)
    parts = min(partitions, n)
    if parts == 0:
        return []
    size, extra = divmod(n, parts)
    out, at = [], 0
    for i in range(parts):
        step = size + (1 if i < extra else 0)
        out.append(tuple(keys[at : at + step]))
        at += step
    return out


def detect_fleet(
    source: SeriesSource,
    engine: str | AnomalyDetectionEngine,
    config: Mapping[str, Any] | None = None,
    *,
    executor: Executor | None = None,
    partitions: int | None = None,
    progress: Callable[[FleetProgress], object] | None = None,
    max_in_flight: int | None = None,
    pipeline: AggregationPipeline | None = None,
) -> FleetRun:
    """Run ``engine`` over every series of ``source``: results, aggregates, failures in a :class:`FleetRun`.

    ``engine``: a registered engine name, built with ``config`` (keyword
    settings) in each worker, or an engine instance (then ``config`` must
    be None, and the instance must pickle). ``executor``: where partitions
    run; default a :func:`local_executor` sized to the cores, made and shut
    down here. An executor passed in is left running. ``partitions``: how
    many partitions to cut the keys into (default: eight per worker, at most
    256 series each). ``max_in_flight``: partitions submitted and not yet
    collected (default: twice the executor's workers); the client's memory is
    bounded by it. ``progress``: called with a :class:`FleetProgress` after
    every partition. ``pipeline``: the aggregation (default
    ``AggregationPipeline()``, MAX).

    The results and aggregates are those of a one-process loop of
    ``engine.detect`` over the keys, whatever the executor, partitioning or
    completion order. A series whose load or detection raised is in
    ``failures`` with its error; a partition whose task failed as a whole
    (its load raised, its worker died) puts each of its keys there.
    """
    if not isinstance(source, SeriesSource):
        fail_type(_OWNER, "source", "a SeriesSource (with keys() and load(keys))", source)
    spec: AnomalyDetectionEngine | tuple[str, dict[str, Any]]
    if isinstance(engine, AnomalyDetectionEngine):
        if config is not None:
            fail_value(_OWNER, "config", "None when engine is an engine instance", config)
        spec, name = engine, engine.name
    elif isinstance(engine, str):
        if config is not None and not isinstance(config, Mapping):
            fail_type(_OWNER, "config", "a mapping of engine settings or None", config)
        settings = dict(config or {})
        EngineRegistry.default().create(engine, **settings)  # fail here, not in every worker
        spec, name = (engine, settings), engine
    else:
        fail_type(_OWNER, "engine", "an engine name or an AnomalyDetectionEngine", engine)
    if executor is not None and not isinstance(executor, Executor):
        fail_type(_OWNER, "executor", "a concurrent.futures.Executor or None", executor)
    if partitions is not None:
        check_positive_int(_OWNER, "partitions", partitions)
    if max_in_flight is not None:
        check_positive_int(_OWNER, "max_in_flight", max_in_flight)
    if progress is not None and not callable(progress):
        fail_type(_OWNER, "progress", "a callable taking a FleetProgress, or None", progress)
    if pipeline is not None and not isinstance(pipeline, AggregationPipeline):
        fail_type(_OWNER, "pipeline", "an AggregationPipeline or None", pipeline)

    keys = _check_keys(source.keys())
    own = executor is None
    pool = local_executor() if executor is None else executor
    try:
        width = executor_width(pool)
        if partitions is None:
            partitions = max(8 * width, math.ceil(len(keys) / _MAX_PARTITION_SERIES))
        parts = _split(keys, partitions)
        in_flight = max_in_flight if max_in_flight is not None else 2 * width
        by_part, failures, points = _collect(pool, source, spec, parts, in_flight, progress, len(keys))
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    results = tuple(r for i in range(len(parts)) for per_key in by_part[i] for r in per_key)
    ordered = {key: failures[key] for key in keys if key in failures}
    aggregates = (pipeline or AggregationPipeline()).run(results)
    return FleetRun(name, results, aggregates, MappingProxyType(ordered), len(keys), points)


def _collect(
    pool: Executor,
    source: SeriesSource,
    spec: AnomalyDetectionEngine | tuple[str, dict[str, Any]],
    parts: Sequence[tuple[SeriesKey, ...]],
    in_flight: int,
    progress: Callable[[FleetProgress], object] | None,
    total: int,
) -> tuple[dict[int, list[list[AnomalyResult]]], dict[SeriesKey, str], int]:
    """Submit partitions, at most ``in_flight`` at a time; file each answer under its index as it lands."""
    by_part: dict[int, list[list[AnomalyResult]]] = {}
    failures: dict[SeriesKey, str] = {}
    points = done_series = done_parts = 0
    pending: dict[Future[_Outcome], int] = {}
    upcoming = iter(range(len(parts)))
    try:
        while True:
            for index in upcoming:
                try:
                    future = pool.submit(_run_partition, source, spec, parts[index])
                except Exception as exc:  # a broken or shut-down executor: the partition fails, reported
                    future = Future()
                    future.set_exception(exc)
                pending[future] = index
                if len(pending) >= in_flight:
                    break
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=pending.__getitem__):
                index = pending.pop(future)
                keys = parts[index]
                try:
                    outcome = future.result()
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # the whole task failed: each of its series is reported
                    message = _describe(exc)
                    if isinstance(exc, UnknownEngineError) and isinstance(spec, tuple):
                        message += (
                            f" (this process has engine {spec[0]!r}: install its distribution where the "
                            "partitions run too, on every worker of a cluster)"
                        )
                    logger.warning("fleet partition %d (%d series) failed: %s", index, len(keys), message)
                    by_part[index] = []
                    failures.update((key, message) for key in keys)
                else:
                    by_part[index] = [[] if p is None else _unpack(p) for p in outcome.results]
                    for key, message in outcome.failures:
                        logger.warning("fleet series %s failed: %s", "/".join(key), message)
                        failures[key] = message
                    points += outcome.points
                done_series += len(keys)
                done_parts += 1
                if progress is not None:
                    progress(FleetProgress(done_series, total, len(failures), points, done_parts, len(parts)))
    finally:
        for future in pending:
            future.cancel()
    return by_part, failures, points
