"""Conformance kit: every contract check on an engine, in one call.

A plugin author puts one line in their own tests::

    from backend.analytics.testing import check_engine

    def test_my_engine_conforms() -> None:
        check_engine(MyEngine)                          # the class itself is a factory
        check_engine(MyEngine, config={"z_threshold": 4.0})
        check_engine(lambda **kw: MyEngine(model="x", **kw))  # a preset

``check_engine`` runs every check, collects *all* failures and raises one
:class:`EngineConformanceError` (an ``AssertionError``, so any test runner
reports it as a failed test) that lists each failure with its reason. It
returns the list of :class:`CheckOutcome` when everything passed, so skipped
checks and their reasons stay visible. :func:`run_checks` returns the same list
without raising. The kit uses only the standard library and never imports a
test runner.

>>> from backend.analytics.engines import ZScoreEngine
>>> outcomes = check_engine(ZScoreEngine, config={"window_size_points": 20})
>>> sorted({o.status for o in outcomes})
['passed']
>>> [str(o) for o in run_checks(ZScoreEngine, checks=["ordered"])]
['construct: passed', 'ordered: passed']

The factory
    ``factory(**config)`` must return a fresh engine. An engine class is the
    simplest factory. A factory that takes no keyword arguments is accepted:
    then ``config`` must be empty and the bad-configuration check is skipped
    (with the reason), because the kit cannot pass a bad argument to it.

The checks (``CHECK_NAMES``, in the order they run)
    ``construct``: the factory builds an ``AnomalyDetectionEngine`` whose
    ``name`` is a non-empty ``str`` and whose ``causal`` is a ``bool``; a
    ``PointScoringEngine`` keeps every keyword of its ``__init__`` as an
    attribute of that name (its ``repr`` and checkpoints read them so).
    ``results``: ``detect`` returns a ``list`` of ``AnomalyResult``.
    ``ids``: every result carries the series' four ids.
    ``ordered``: results are ordered by ``window_start``.
    ``within_series``: every window lies between the series' first and last timestamp.
    ``scores``: ``anomaly_score`` and ``magnitude`` (when not ``None``) are finite, in [0, 1].
    ``labels``: every ``anomaly_label`` is an ``AnomalyType`` member.
    ``threshold``: the engine's ``score_threshold`` is 0.5 (the one alarm
    line of CONTRACT.md) and the label is ``NORMAL`` exactly when
    ``anomaly_score < 0.5``.
    ``detects``: the main series carries a planted spike and a planted level
    shift after the engine's declared warm-up (``min_history_points``); some window
    holding one of them must score above every window of the warm-up and
    above the median window. An engine that scores nothing, or scores noise
    as high as the plants, fails here with the figures.
    ``stream``: when the engine has ``stream(...)`` (and is causal), feeding the
    main series to it in uneven chunks gives exactly ``detect``'s results.
    ``determinism``: the same series gives equal results twice on one engine and
    on a second engine built from the same configuration.
    ``causality``: when ``causal`` is true, cutting the series after a window
    (keeping the points up to its ``window_end``) leaves that window's result
    unchanged (scores and magnitudes within ``1e-9``, label and explanation
    equal); a sample, checked for
    up to ``causal_windows`` windows spread over the series, including the
    highest-scoring one. Skipped, with the reason, for an engine that declares
    ``causal = False``.
    ``empty_series``: an empty series gives ``[]``.
    ``short_series``: prefixes of the main series of 1, 2, 4, 8, ... points,
    and of one point less, as many and one more than ``window_size_points``
    (when the engine exposes it) and its warm-up, give valid results without
    raising (an engine that needs some number of points to fit must not raise
    below it); those shorter than ``window_size_points`` give ``[]``.
    ``constant_series``: constant series (at 0, 1e-300, 42.5, -7 and 1e308) give
    valid results, all ``NORMAL``, without raising.
    ``extreme_scales``: the main series rescaled to about 1e-300 and 1e308 (also
    negated), flat at 0 / 1e-300 / -1e308 then a jump to 1e308, give valid
    results with finite scores in [0, 1], without raising.
    ``explain``: ``explain(series, result)`` returns a non-empty ``str`` for the
    highest-scoring result.
    ``bad_config``: ``window_size_points=0``, ``window_size_points=-1``,
    ``stride_points=0`` (``ValueError``), ``window_size_points="10"`` and an
    unknown keyword (``TypeError``) are each rejected with ``TypeError`` or
    ``ValueError`` whose message names the argument; plus any ``bad_configs``
    the caller adds.

Test data is generated inside the kit from ``random.Random(seed)`` and sized
from the engine's declared warm-up (240 points after ``min_history_points``,
or after ``min_history_span`` at the kit's 1-minute steps if longer), so the checks look
at scored output, never only at the warm-up; pass your own ``series`` (a
``MetricSeries``) when the engine needs a particular history.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import bisect
import contextlib
import inspect
import logging
import math
import pickle
import random
import statistics
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from ._kinds import AnomalyType
from .engine import AnomalyDetectionEngine
from .errors import InsufficientHistoryWarning
from .scoring import PointScoringEngine
from .types import AnomalyResult, MetricSeries, datetime_to_epoch_us

__all__ = [
    "CHECK_NAMES",
    "CheckOutcome",
    "EngineConformanceError",
    "check_engine",
    "engine_threshold",
    "make_test_series",
    "planted_anomalies",
    "run_checks",
]

#: The alarm line every engine shares (CONTRACT.md).
ALARM = 0.5

_log = logging.getLogger(__name__)

CHECK_NAMES: tuple[str, ...] = (
    "construct",
    "results",
    "ids",
    "ordered",
    "within_series",
    "scores",
    "labels",
    "threshold",
    "detects",
    "stream",
    "update_many",
    "checkpoint",
    "determinism",
    "causality",
    "empty_series",
    "short_series",
    "constant_series",
    "extreme_scales",
    "explain",
    "bad_config",
)

_IDS = ("kit-tenant", "kit-cluster", "kit-node", "kit_metric")
_T0_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
_STEP_US = 60_000_000  # one point a minute
_KIT_STEP = timedelta(microseconds=_STEP_US)
_CAUSAL_TOL = 1e-9

Status = Literal["passed", "failed", "skipped"]
EngineFactory = Callable[..., AnomalyDetectionEngine]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """The outcome of one check: ``status`` is ``"passed"``, ``"failed"`` or ``"skipped"``.

    ``message`` says why it failed or was skipped (empty when it passed).
    """

    check: str
    status: Status
    message: str = ""

    def __str__(self) -> str:
        return f"{self.check}: {self.status}" + (f" - {self.message}" if self.message else "")


class EngineConformanceError(AssertionError):
    """One or more contract checks failed; ``failures`` lists each of them.

    The message has one line per failed check: ``"<check>: <reason>"``.
    """

    def __init__(self, engine_label: str, outcomes: Sequence[CheckOutcome]) -> None:
        self.engine_label = engine_label
        self.outcomes: tuple[CheckOutcome, ...] = tuple(outcomes)
        self.failures: tuple[CheckOutcome, ...] = tuple(o for o in outcomes if o.status == "failed")
        lines = [f"{engine_label} failed {len(self.failures)} conformance check(s):"]
        lines += [f"  - {o.check}: {o.message}" for o in self.failures]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its own arguments (pytest-xdist and process pools send errors between processes).
        return (type(self), (self.engine_label, self.outcomes))


class _CheckFailedError(Exception):
    """Internal: a check found a violation (the message says which)."""


class _CheckSkippedError(Exception):
    """Internal: a check does not apply (the message says why)."""


def make_test_series(
    n: int = 240,
    *,
    seed: int = 0,
    ids: tuple[str, str, str, str] = _IDS,
    step_seconds: int = 60,
    warmup_points: int = 0,
    amplitude: float = 2.0,
) -> MetricSeries:
    """The kit's main series: ``warmup_points + n`` points of a noisy sine with a spike and a level shift.

    Values are about 10 + ``amplitude`` sin(2 pi i / 60) plus Gaussian noise
    (sd 0.3) drawn from ``random.Random(seed)`` (``amplitude=0``: flat noise).
    After the first ``warmup_points`` points come ``n`` more, with a spike of
    +8 at 70 % of them and a level shift of +4 from 85 %
    (:func:`planted_anomalies` gives their indices). Timestamps start
    2024-01-01T00:00Z, one every ``step_seconds``. Same arguments, same series.
    """
    for name, value, least in (
        ("n", n, 0),
        ("seed", seed, None),
        ("step_seconds", step_seconds, 1),
        ("warmup_points", warmup_points, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"make_test_series: {name} must be an int, got {value!r}")
        if least is not None and value < least:
            raise ValueError(f"make_test_series: {name} must be >= {least}, got {value!r}")
    spike, shift = planted_anomalies(n, warmup_points)
    rng = random.Random(seed)
    values = []
    for i in range(warmup_points + n):
        v = 10.0 + amplitude * math.sin(2.0 * math.pi * i / 60.0) + rng.gauss(0.0, 0.3)
        if i == spike:
            v += 8.0
        if i >= shift:
            v += 4.0
        values.append(v)
    return _series(values, ids=ids, step_us=step_seconds * 1_000_000)


def planted_anomalies(n: int = 240, warmup_points: int = 0) -> tuple[int, int]:
    """Indices of the spike and of the level shift's onset in :func:`make_test_series`."""
    return warmup_points + int(n * 0.7), warmup_points + int(n * 0.85)


def _series(
    values: Sequence[float], *, ids: tuple[str, str, str, str] = _IDS, step_us: int = _STEP_US
) -> MetricSeries:
    us = [_T0_US + i * step_us for i in range(len(values))]
    return MetricSeries.from_arrays(*ids, us, values)


def _with_values(template: MetricSeries, values: Sequence[float]) -> MetricSeries:
    return MetricSeries.from_arrays(*template.ids, list(template.epoch_us), values)


def engine_threshold(engine: object) -> float | None:
    """The engine's score threshold, or ``None`` when it exposes none.

    An engine exposes it as an attribute ``score_threshold``: a real number in
    [0, 1] such that a result is labelled ``NORMAL`` exactly when its
    ``anomaly_score`` is below it. Raises ``TypeError``/``ValueError`` when the
    attribute exists but is not such a number.
    """
    value = getattr(engine, "score_threshold", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{type(engine).__name__}: score_threshold must be a float in [0, 1], got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{type(engine).__name__}: score_threshold must be a float in [0, 1], got {value!r}")
    return float(value)


def _accepts_keywords(factory: Callable[..., object]) -> bool:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: assume keywords work
        return True
    return any(
        p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_KEYWORD) for p in sig.parameters.values()
    )


def _fmt_exc(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Runner:
    """Runs the checks against one factory/configuration; one instance per call."""

    def __init__(
        self,
        factory: EngineFactory,
        config: Mapping[str, Any],
        series: MetricSeries | None,
        seed: int,
        causal_windows: int,
        bad_configs: Sequence[tuple[Mapping[str, Any], str]],
    ) -> None:
        self.factory = factory
        self.config = dict(config)
        # The main series: the caller's, or the kit's, sized from the engine's warm-up once built.
        self.given = series is not None
        self.series = series if series is not None else make_test_series(seed=seed)
        self.warmup = 0
        self.planted: tuple[int, int] | None = None if series is not None else planted_anomalies()
        self.seed = seed
        self.causal_windows = causal_windows
        self.bad_configs = list(bad_configs)
        self.engine: AnomalyDetectionEngine | None = None
        self.results: list[AnomalyResult] | None = None
        self.detect_error: str | None = None

    # -- helpers ---------------------------------------------------------
    def build(self) -> AnomalyDetectionEngine:
        return self.factory(**self.config)

    def detect(
        self, engine: AnomalyDetectionEngine, series: MetricSeries, what: str, *, scores: bool = True
    ) -> list[AnomalyResult]:
        try:
            with warnings.catch_warnings():
                # The kit's short series are short on purpose: the warning is for users.
                warnings.simplefilter("ignore", InsufficientHistoryWarning)
                out = engine.detect(series)
        except Exception as exc:
            raise _CheckFailedError(f"detect() raised on {what}: {_fmt_exc(exc)}") from exc
        problem = _result_problem(out, scores=scores)
        if problem is not None:
            raise _CheckFailedError(f"on {what}: {problem}")
        return out

    def need_results(self) -> list[AnomalyResult]:
        if self.results is None and self.detect_error is None:
            with contextlib.suppress(_CheckFailedError):  # 'results' not selected: compute them now
                self.check_results()
        if self.results is None:
            raise _CheckSkippedError(f"needs the main results, but {self.detect_error}")
        return self.results

    def need_engine(self) -> AnomalyDetectionEngine:
        if self.engine is None:
            raise _CheckSkippedError("the engine could not be built (see 'construct')")
        return self.engine

    # -- checks ----------------------------------------------------------
    def need_stream_factory(self) -> Callable[..., Any]:
        """The engine's ``stream`` method; a skip where it has none or is not causal."""
        engine = self.need_engine()
        make_stream = getattr(engine, "stream", None)
        if make_stream is None or not getattr(type(engine), "causal", False):
            raise _CheckSkippedError(f"{type(engine).__name__} has no stream() (or is not causal)")
        return make_stream  # type: ignore[no-any-return]

    def check_construct(self) -> None:
        if self.config and not _accepts_keywords(self.factory):
            raise _CheckFailedError(
                f"config {self.config!r} given, but the factory takes no keyword arguments"
            )
        try:
            engine = self.build()
        except Exception as exc:
            raise _CheckFailedError(f"factory(**{self.config!r}) raised {_fmt_exc(exc)}") from exc
        if not isinstance(engine, AnomalyDetectionEngine):
            raise _CheckFailedError(
                f"factory returned {type(engine).__name__!s}, expected an AnomalyDetectionEngine subclass"
            )
        name = getattr(type(engine), "name", None)
        causal = getattr(type(engine), "causal", None)
        problems = []
        if not isinstance(name, str) or not name:
            problems.append(f"class attribute name must be a non-empty str, got {name!r}")
        if not isinstance(causal, bool):
            problems.append(f"class attribute causal must be a bool, got {causal!r}")
        warmup = getattr(engine, "min_history_points", 0)
        if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup <= 1_000_000:
            problems.append(f"min_history_points must be an int in [0, 1000000], got {warmup!r}")
            warmup = 0
        span = getattr(engine, "min_history_span", timedelta(0))
        if not isinstance(span, timedelta) or not timedelta(0) <= span <= 1_000_000 * _KIT_STEP:
            problems.append(f"min_history_span must be a timedelta in [0, 1000000 minutes], got {span!r}")
        else:
            # (the kit's series are at 1-minute steps: the warm-up in time, in points)
            warmup = max(warmup, -(-span // _KIT_STEP))
        if isinstance(engine, PointScoringEngine):
            problems.extend(_unkept_settings(engine))
        self.engine = engine
        self.warmup = warmup
        if not self.given:
            self.series = make_test_series(seed=self.seed, warmup_points=warmup)
            self.planted = planted_anomalies(warmup_points=warmup)
        if problems:
            raise _CheckFailedError("; ".join(problems))

    def check_results(self) -> None:
        engine = self.need_engine()
        try:
            self.results = self.detect(engine, self.series, "the main series", scores=False)
        except _CheckFailedError as exc:
            self.detect_error = str(exc)
            raise
        if not self.results:
            _log.info("engine gave no results on the main series (%d points)", len(self.series))

    def check_ids(self) -> None:
        want = self.series.ids
        for i, r in enumerate(self.need_results()):
            got = (r.tenant_id, r.cluster_id, r.node_id, r.metric_name)
            if got != want:
                raise _CheckFailedError(f"results[{i}] ids: expected {want!r}, got {got!r}")

    def check_ordered(self) -> None:
        results = self.need_results()
        for i in range(1, len(results)):
            if results[i].window_start < results[i - 1].window_start:
                raise _CheckFailedError(
                    f"results[{i}].window_start {results[i].window_start.isoformat()} is before "
                    f"results[{i - 1}].window_start {results[i - 1].window_start.isoformat()}"
                )

    def check_within_series(self) -> None:
        results = self.need_results()
        if not results:
            return
        first, last = self.series.timestamps[0], self.series.timestamps[-1]
        for i, r in enumerate(results):
            if r.window_start < first or r.window_end > last or r.window_start > r.window_end:
                raise _CheckFailedError(
                    f"results[{i}] window {r.window_start.isoformat()}..{r.window_end.isoformat()} "
                    f"is not inside the series {first.isoformat()}..{last.isoformat()}"
                )

    def check_scores(self) -> None:
        for i, r in enumerate(self.need_results()):
            problem = _score_problem(i, r)
            if problem:
                raise _CheckFailedError(problem)

    def check_labels(self) -> None:
        for i, r in enumerate(self.need_results()):
            if not isinstance(r.anomaly_label, AnomalyType):
                raise _CheckFailedError(
                    f"results[{i}].anomaly_label: expected an AnomalyType, got {r.anomaly_label!r} "
                    f"({type(r.anomaly_label).__name__})"
                )

    def check_threshold(self) -> None:
        engine = self.need_engine()
        try:
            threshold = engine_threshold(engine)
        except (TypeError, ValueError) as exc:
            raise _CheckFailedError(str(exc)) from exc
        if threshold != ALARM:
            raise _CheckFailedError(
                f"score_threshold is {threshold!r}; every engine alarms at anomaly_score >= {ALARM} "
                "(CONTRACT.md): calibrate the scores to that line"
            )
        results = self.need_results()
        for i, r in enumerate(results):
            anomalous = r.anomaly_label is not AnomalyType.NORMAL
            if anomalous != (r.anomaly_score >= ALARM):
                raise _CheckFailedError(
                    f"results[{i}]: anomaly_score {r.anomaly_score!r} vs the alarm line {ALARM} "
                    f"says {'anomalous' if not anomalous else 'not anomalous'}, but the label is "
                    f"{r.anomaly_label!r}"
                )

    def check_detects(self) -> None:
        if self.planted is None:
            raise _CheckSkippedError("a series was passed in: the kit does not know where its anomalies are")
        results = self.need_results()
        if not results:
            raise _CheckFailedError(
                f"no result on the main series ({len(self.series)} points, warm-up {self.warmup} points)"
            )
        stamps = list(self.series.epoch_us)
        warm_end = stamps[self.warmup - 1] if 0 < self.warmup <= len(stamps) else None
        spike, shift = (stamps[i] for i in self.planted)

        def holds_planted(r: AnomalyResult) -> bool:
            start, end = datetime_to_epoch_us(r.window_start), datetime_to_epoch_us(r.window_end)
            return start <= spike <= end or start <= shift <= end

        planted, warm, normal = [], [], []
        for r in results:
            if holds_planted(r):
                planted.append(r.anomaly_score)
            elif warm_end is not None and datetime_to_epoch_us(r.window_end) <= warm_end:
                warm.append(r.anomaly_score)
            else:
                normal.append(r.anomaly_score)
        if not planted:
            raise _CheckFailedError("no window holds the planted spike or the level shift's onset")
        best = max(planted)
        bar = max([*warm, statistics.median(normal) if normal else 0.0])
        if not best > bar:
            raise _CheckFailedError(
                f"the planted spike (+27 noise sd) and level shift (+13 sd) score at most {best!r}, "
                f"not above the warm-up's highest window or the median window ({bar!r}): the engine "
                "does not see them"
            )
        # Seeing them is not enough: on the same series without its sine (flat noise, the same
        # timestamps), the planted events must reach the alarm line, or the engine ranks anomalies
        # but never raises one.
        flat = make_test_series(seed=self.seed, warmup_points=self.warmup, amplitude=0.0)
        on_flat = self.detect(self.build(), flat, "the main series without its sine", scores=False)
        loudest = max((r.anomaly_score for r in on_flat if holds_planted(r)), default=0.0)
        if loudest < ALARM:
            raise _CheckFailedError(
                f"on the main series without its sine (flat noise), the planted spike (+27 noise sd) and "
                f"level shift (+13 sd) score at most {loudest!r}, below the alarm line {ALARM}: the engine "
                "never alarms on them (calibrate its scores so that what it finds reaches 0.5)"
            )

    def check_stream(self) -> None:
        make_stream = self.need_stream_factory()
        expected = self.need_results()
        try:
            stream = make_stream(*self.series.ids)
            got: list[AnomalyResult] = []
            pos, n, k = 0, len(self.series), 0
            while pos < n:
                size = (1, 7, 64, 3)[k % 4]
                got.extend(stream.update(self.series.slice(pos, pos + size)))
                pos += size
                k += 1
        except Exception as exc:
            raise _CheckFailedError(f"the stream raised {_fmt_exc(exc)}") from exc
        if got != expected:
            raise _CheckFailedError(
                f"the stream fed in chunks differs from detect: {_first_diff(expected, got)}"
            )

    def check_update_many(self) -> None:
        engine = self.need_engine()
        make_scorer = getattr(engine, "scorer", None)
        if not callable(make_scorer):
            raise _CheckSkippedError(f"{type(engine).__name__} has no scorer() (not a PointScoringEngine)")
        if not getattr(type(engine), "causal", False):
            raise _CheckSkippedError(
                f"{type(engine).__name__} declares causal = False (its update_many may read the whole series)"
            )
        values, stamps = self.series.values.tolist(), list(self.series.epoch_us)
        try:
            many = make_scorer().update_many(values, stamps)
            one_by_one = []
            single = make_scorer()
            for x, t in zip(values, stamps, strict=True):
                one_by_one.append(single.update(x, t))
        except Exception as exc:
            raise _CheckFailedError(f"the scorer raised {_fmt_exc(exc)}") from exc
        if len(many) != len(values):
            raise _CheckFailedError(f"update_many returned {len(many)} scores for {len(values)} values")
        for i, (a, b) in enumerate(zip(many, one_by_one, strict=True)):
            if not (a == b or (math.isnan(a) and math.isnan(b))):
                raise _CheckFailedError(
                    f"update_many and update differ at point {i} ({self.series.timestamps[i].isoformat()}): "
                    f"{a!r} against {b!r}; update_many must give update's scores (a batch path that reads "
                    "later points is not causal)"
                )

    def check_checkpoint(self) -> None:
        make_stream = self.need_stream_factory()
        expected = self.need_results()
        half = len(self.series) // 2
        try:
            stream = make_stream(*self.series.ids)
            got: list[AnomalyResult] = list(stream.update(self.series.slice(0, half)))
        except Exception as exc:
            raise _CheckFailedError(f"the stream raised {_fmt_exc(exc)}") from exc
        try:
            stream = pickle.loads(pickle.dumps(stream))
        except Exception as exc:
            raise _CheckFailedError(
                f"a stream after {half} points does not pickle ({_fmt_exc(exc)}): LiveDetector's "
                "checkpoints pickle every series' stream"
            ) from exc
        try:
            got.extend(stream.update(self.series.slice(half, len(self.series))))
        except Exception as exc:
            raise _CheckFailedError(f"the stream restored from its pickle raised {_fmt_exc(exc)}") from exc
        if got != expected:
            raise _CheckFailedError(
                f"a stream pickled after {half} points and restored differs from detect: "
                f"{_first_diff(expected, got)}"
            )

    def check_determinism(self) -> None:
        engine = self.need_engine()
        first = self.need_results()
        again = self.detect(engine, self.series, "the main series (second call)", scores=False)
        if again != first:
            raise _CheckFailedError(
                f"a second detect() on the same engine differs: {_first_diff(first, again)}"
            )
        try:
            fresh = self.build()
        except Exception as exc:
            raise _CheckFailedError(f"building a second engine raised {_fmt_exc(exc)}") from exc
        other = self.detect(fresh, self.series, "the main series (fresh engine)", scores=False)
        if other != first:
            raise _CheckFailedError(
                f"a second engine with the same config differs: {_first_diff(first, other)}"
            )

    def check_causality(self) -> None:
        engine = self.need_engine()
        if not getattr(type(engine), "causal", False):
            raise _CheckSkippedError(f"{type(engine).__name__} declares causal = False")
        results = self.need_results()
        if not results:
            raise _CheckSkippedError("the engine gave no results on the main series; pass a longer series=")
        picks = _spread(len(results), self.causal_windows)
        best = max(range(len(results)), key=lambda i: (results[i].anomaly_score, -i))
        if best not in picks:
            picks.append(best)
        stamps = list(self.series.timestamps)
        for i in sorted(picks):
            r = results[i]
            cut = bisect.bisect_right(stamps, r.window_end)
            truncated = self.series.slice(0, cut)
            fresh = self.build()
            what = f"the series cut after results[{i}] (window_end {r.window_end.isoformat()}, {cut} points)"
            again = self.detect(fresh, truncated, what, scores=False)
            match = [x for x in again if x.window_start == r.window_start and x.window_end == r.window_end]
            if not match:
                raise _CheckFailedError(f"results[{i}] ({_window_text(r)}) is missing on {what}")
            diff = _result_diff(r, match[0])
            if diff:
                raise _CheckFailedError(f"results[{i}] ({_window_text(r)}) changed on {what}: {diff}")

    def check_empty_series(self) -> None:
        engine = self.need_engine()
        empty = MetricSeries(*self.series.ids, [], [])
        out = self.detect(engine, empty, "an empty series")
        if out != []:
            raise _CheckFailedError(f"an empty series must give [], got {len(out)} result(s)")

    def check_short_series(self) -> None:
        engine = self.need_engine()
        size = getattr(engine, "window_size_points", None)
        # Prefixes of every order of length (1, 2, 4, ...) and either side of the window size and the
        # warm-up: an engine that needs some number of points to fit must still not raise below it.
        total = len(self.series)
        lengths = {1, 2, *(2**k for k in range(total.bit_length()) if 2**k < total)}
        for edge in (size, self.warmup):
            if isinstance(edge, int) and not isinstance(edge, bool) and edge > 0:
                lengths.update(n for n in (edge - 1, edge, edge + 1) if 0 < n < total)
        for n in sorted(lengths):
            short = self.series.slice(0, n)
            out = self.detect(engine, short, f"a {n}-point series")
            if isinstance(size, int) and not isinstance(size, bool) and n < size and out:
                raise _CheckFailedError(
                    f"a {n}-point series is shorter than window_size_points={size} and must give [], "
                    f"got {len(out)} result(s)"
                )

    def check_constant_series(self) -> None:
        engine = self.need_engine()
        n = len(self.series)
        for level in (0.0, 1e-300, 42.5, -7.0, 1e308):
            const = _with_values(self.series, [level] * n)
            out = self.detect(engine, const, f"a constant series at {level!r}")
            for i, r in enumerate(out):
                if r.anomaly_label is not AnomalyType.NORMAL:
                    raise _CheckFailedError(
                        f"constant series at {level!r}: results[{i}] ({_window_text(r)}) is labelled "
                        f"{r.anomaly_label!r} (score {r.anomaly_score!r}), expected NORMAL"
                    )

    def check_extreme_scales(self) -> None:
        engine = self.need_engine()
        base = self.series.values.tolist()
        n = len(base)
        peak = max((abs(v) for v in base), default=1.0) or 1.0
        cases: list[tuple[str, list[float]]] = []
        for scale in (1e-300, 1e308):
            cases.append((f"the main series scaled to {scale!r}", [v / peak * scale for v in base]))
            cases.append((f"the main series scaled to {-scale!r}", [-v / peak * scale for v in base]))
        half = n // 2
        for low in (0.0, 1e-300, -1e308):
            cases.append((f"flat at {low!r} then a jump to 1e308", [low] * half + [1e308] * (n - half)))
        for what, values in cases:
            self.detect(engine, _with_values(self.series, values), what)

    def check_explain(self) -> None:
        engine = self.need_engine()
        results = self.need_results()
        if not results:
            raise _CheckSkippedError("the engine gave no results on the main series; pass a longer series=")
        best = max(results, key=lambda r: r.anomaly_score)
        try:
            text = engine.explain(self.series, best)
        except Exception as exc:
            raise _CheckFailedError(f"explain() raised {_fmt_exc(exc)}") from exc
        if not isinstance(text, str) or not text.strip():
            raise _CheckFailedError(f"explain() must return a non-empty str, got {text!r}")

    def check_bad_config(self) -> None:
        if not _accepts_keywords(self.factory):
            raise _CheckSkippedError(
                "the factory takes no keyword arguments; pass the engine class or a factory(**config) "
                "to check that bad configuration is rejected"
            )
        cases: list[tuple[Mapping[str, Any], str]] = [
            ({"window_size_points": 0}, "window_size_points"),
            ({"window_size_points": -1}, "window_size_points"),
            ({"window_size_points": "10"}, "window_size_points"),
            ({"stride_points": 0}, "stride_points"),
            ({"no_such_option_xyz": 1}, "no_such_option_xyz"),
            *self.bad_configs,
        ]
        problems = []
        for bad, name in cases:
            kwargs = {**self.config, **bad}
            try:
                self.factory(**kwargs)
            except (TypeError, ValueError) as exc:
                if name not in str(exc):
                    problems.append(f"{bad!r} raised {_fmt_exc(exc)}, whose message does not name {name!r}")
            except Exception as exc:
                problems.append(f"{bad!r} raised {_fmt_exc(exc)}, expected TypeError or ValueError")
            else:
                problems.append(f"{bad!r} was accepted, expected TypeError or ValueError naming {name!r}")
        if problems:
            raise _CheckFailedError("; ".join(problems))


def _unkept_settings(engine: PointScoringEngine) -> list[str]:
    """The keywords of the engine's ``__init__`` it does not keep as attributes of the same name."""
    try:
        params = inspect.signature(type(engine).__init__).parameters.values()
    except (TypeError, ValueError):  # (no signature to read: nothing to check)
        return []
    return [
        f"setting {p.name!r} (a keyword of {type(engine).__name__}.__init__) is not kept as "
        f"engine.{p.name}: PointScoringEngine's repr (which LiveDetector compares before resuming a "
        f"checkpoint) and its MAX_POINTS bound read each setting under its keyword's name"
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not hasattr(engine, p.name)
    ]


def _spread(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(j * (n - 1) / (k - 1)) for j in range(k)}) if k > 1 else [n - 1]


def _window_text(r: AnomalyResult) -> str:
    return f"window {r.window_start.isoformat()}..{r.window_end.isoformat()}"


def _score_problem(i: int, r: AnomalyResult) -> str | None:
    for field in ("anomaly_score", "magnitude"):
        value = getattr(r, field)
        if value is None and field == "magnitude":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"results[{i}].{field}: expected a float in [0, 1], got {value!r}"
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            return f"results[{i}].{field}: expected a finite float in [0, 1], got {value!r}"
    return None


def _result_problem(out: object, *, scores: bool) -> str | None:
    """Why ``out`` is not a list of valid results (type-level only), or ``None``."""
    if not isinstance(out, list):
        return f"detect() must return a list, got {type(out).__name__}"
    for i, r in enumerate(out):
        if not isinstance(r, AnomalyResult):
            return f"results[{i}]: expected an AnomalyResult, got {type(r).__name__}"
        problem = _score_problem(i, r) if scores else None
        if problem:
            return problem
    return None


def _result_diff(a: AnomalyResult, b: AnomalyResult) -> str:
    parts = []
    for field in ("anomaly_score", "magnitude"):
        x, y = getattr(a, field), getattr(b, field)
        if (x is None) != (y is None) or (
            x is not None
            and y is not None
            and not math.isclose(x, y, rel_tol=_CAUSAL_TOL, abs_tol=_CAUSAL_TOL)
        ):
            parts.append(f"{field} {x!r} -> {y!r}")
    if a.anomaly_label != b.anomaly_label:
        parts.append(f"anomaly_label {a.anomaly_label!r} -> {b.anomaly_label!r}")
    if a.explanation != b.explanation:
        parts.append(f"explanation {a.explanation!r} -> {b.explanation!r}")
    return ", ".join(parts)


def _first_diff(a: Sequence[AnomalyResult], b: Sequence[AnomalyResult]) -> str:
    if len(a) != len(b):
        return f"{len(a)} results, then {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            fields = [
                f"{name} {getattr(x, name)!r} -> {getattr(y, name)!r}"
                for name in AnomalyResult.__dataclass_fields__
                if getattr(x, name) != getattr(y, name)
            ]
            return f"results[{i}] ({_window_text(x)}): {', '.join(fields)}"
    return "results differ"  # pragma: no cover - lists differ, so some item does


def run_checks(
    factory: EngineFactory,
    *,
    series: MetricSeries | None = None,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    causal_windows: int = 5,
    bad_configs: Iterable[tuple[Mapping[str, Any], str]] = (),
    checks: Iterable[str] | None = None,
) -> list[CheckOutcome]:
    """Run the contract checks and return one :class:`CheckOutcome` per check, never raising.

    ``factory(**config)`` builds the engine (see the module docstring).
    ``series``: the main series (default :func:`make_test_series` with ``seed``).
    ``causal_windows``: how many windows the causality check cuts after (>= 1).
    ``bad_configs``: extra ``(kwargs, argument_name)`` pairs that the factory must
    reject with ``TypeError``/``ValueError`` naming ``argument_name``.
    ``checks``: run only these (names from ``CHECK_NAMES``; ``construct`` always runs).
    """
    if not callable(factory):
        raise TypeError(f"run_checks: factory must be callable, got {factory!r}")
    if series is not None and not isinstance(series, MetricSeries):
        raise TypeError(f"run_checks: series must be a MetricSeries or None, got {type(series).__name__}")
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"run_checks: config must be a mapping or None, got {config!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"run_checks: seed must be an int, got {seed!r}")
    if isinstance(causal_windows, bool) or not isinstance(causal_windows, int):
        raise TypeError(f"run_checks: causal_windows must be a positive int, got {causal_windows!r}")
    if causal_windows < 1:
        raise ValueError(f"run_checks: causal_windows must be a positive int, got {causal_windows!r}")
    extra = list(bad_configs)
    for j, item in enumerate(extra):
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], Mapping)
            and isinstance(item[1], str)
        ):
            raise TypeError(f"run_checks: bad_configs[{j}] must be a (mapping, str) pair, got {item!r}")
    wanted = set(CHECK_NAMES) if checks is None else {*checks, "construct"}
    unknown = sorted(wanted - set(CHECK_NAMES))
    if unknown:
        raise ValueError(f"run_checks: checks must be names from {', '.join(CHECK_NAMES)}; got {unknown!r}")
    runner = _Runner(factory, config or {}, series, seed, causal_windows, extra)
    outcomes: list[CheckOutcome] = []
    for name in CHECK_NAMES:
        if name not in wanted:
            continue
        method: Callable[[], None] = getattr(runner, f"check_{name}")
        try:
            method()
        except _CheckSkippedError as exc:
            outcomes.append(CheckOutcome(name, "skipped", str(exc)))
        except _CheckFailedError as exc:
            outcomes.append(CheckOutcome(name, "failed", str(exc)))
        except Exception as exc:  # a crash inside a check is a failure of that check, not of the kit
            outcomes.append(CheckOutcome(name, "failed", f"unexpected {_fmt_exc(exc)}"))
        else:
            outcomes.append(CheckOutcome(name, "passed"))
    for o in outcomes:
        if o.status == "skipped":
            _log.warning("check %s skipped: %s", o.check, o.message)
    return outcomes


def check_engine(
    factory: EngineFactory,
    *,
    series: MetricSeries | None = None,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    causal_windows: int = 5,
    bad_configs: Iterable[tuple[Mapping[str, Any], str]] = (),
    checks: Iterable[str] | None = None,
) -> list[CheckOutcome]:
    """Run every contract check; raise :class:`EngineConformanceError` listing all failures.

    Arguments as for :func:`run_checks`. Returns the outcomes (passed and
    skipped, each skip with its reason) when nothing failed.
    """
    outcomes = run_checks(
        factory,
        series=series,
        config=config,
        seed=seed,
        causal_windows=causal_windows,
        bad_configs=bad_configs,
        checks=checks,
    )
    if any(o.status == "failed" for o in outcomes):
        label = getattr(factory, "__qualname__", repr(factory))
        if config:
            label += f"(**{dict(config)!r})"
        raise EngineConformanceError(label, outcomes)
    return outcomes
