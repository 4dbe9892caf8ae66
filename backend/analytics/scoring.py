"""The one way a point scorer becomes an engine: :class:`PointScorer` and :class:`PointScoringEngine`.

A **point scorer** is the river-style core of a detection method: it takes
one series' values in time order and returns one score per value,
``update(x, t) -> float`` in [0, 1], where **0.5 is the alarm line** (the
one line CONTRACT.md fixes for every engine and for ``AggregationPipeline``).
Before it has seen ``warmup_points`` values it scores below 0.5.

A :class:`PointScoringEngine` subclass names its scorer in one method,
:meth:`PointScoringEngine.scorer`, and gets everything else from the base:

- windows of ``window_size_points`` advancing by ``stride_points`` (as
  :class:`~backend.analytics.windows.SlidingWindowExtractor` cuts them), each
  scored by the highest point score inside it;
- the label: NORMAL exactly when the window's score is below 0.5; otherwise
  the :class:`~backend.analytics.explain.ExplanationClassifier`'s verdict on the
  window against its bounded history, or, where it sees nothing, the one
  fallback rule (TREND when the window's last two points are each at least
  half as far from the prior level as its peak, else SPIKE);
- ``magnitude`` of anomalous windows (``d / (d + s)``: 0.5 means the window
  moved by as much as the prior level, or its spread for a level near zero);
- one-sentence explanations, ``.stream()`` for live data (a
  :class:`ScoreStream`: the same results as ``detect``, whatever the
  chunking), and a ``repr`` that shows every setting.

>>> from datetime import datetime, timedelta, timezone
>>> from typing import ClassVar
>>> from backend.analytics import MetricSeries
>>> class JumpScorer(PointScorer):
...     warmup_points = 1
...     def __init__(self, jump: float) -> None:
...         self.jump, self.last = jump, None
...     def update(self, x: float, t: int) -> float:
...         before, self.last = self.last, x
...         return 0.0 if before is None else z_score_to_unit(abs(x - before), self.jump)
>>> class JumpEngine(PointScoringEngine):
...     name: ClassVar[str] = "jump"
...     causal: ClassVar[bool] = True
...     def __init__(self, *, jump: float = 5.0, window_size_points: int = 5, stride_points: int = 5):
...         self.jump = jump
...         super().__init__(window_size_points=window_size_points, stride_points=stride_points)
...     def scorer(self) -> JumpScorer:
...         return JumpScorer(self.jump)
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> stamps = [t0 + timedelta(minutes=i) for i in range(40)]
>>> s = MetricSeries("t", "c", "n", "m", stamps, [1.0] * 30 + [9.0] * 10)
>>> [(r.window_start.minute, r.anomaly_label.value) for r in JumpEngine().detect(s) if r.is_anomalous]
[(30, 'trend')]
>>> JumpEngine(jump=2.0)
JumpEngine(jump=2.0, window_size_points=5, stride_points=5)

.. versionchanged:: 0.2.0
   One extension point: ``PointScoringEngine.scorer()`` returning a
   :class:`PointScorer` replaces ``score_points``; scores are calibrated to the
   0.5 alarm line by the scorer.
"""

from __future__ import annotations

import inspect
import math
import warnings
from abc import ABC, abstractmethod
from array import array
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ._kinds import AnomalyType
from ._labels import (
    LABEL_CONTEXT,
    fallback_label,
    label_and_explain,
    make_classifier,
    new_memo,
    still_out,
    window_magnitude,
)
from ._sequences import _EPOCH, _ONE_US
from ._validate import (
    MAX_POINTS,
    check_aware_datetime,
    check_bool,
    check_points,
    check_positive_int,
    check_real,
    check_utc_offset,
    fail_type,
    fail_value,
)
from .engine import AnomalyDetectionEngine
from .errors import InsufficientHistoryWarning, UnscoredPointsWarning
from .explain import ExplanationClassifier
from .types import AnomalyResult, MetricSeries, epoch_us_to_datetime

__all__ = [
    "ALARM",
    "PointScorer",
    "PointScoringEngine",
    "RescaledScorer",
    "ScoreStream",
    "raw_to_unit",
    "z_score_to_unit",
]

#: The alarm line: a window is anomalous exactly when its score is at or above it.
ALARM = 0.5
#: Anomalous points beyond which an episode is no longer a spike but a sustained change.
SPIKE_POINTS = 4


def z_score_to_unit(z: float, z_threshold: float) -> float:
    """``z / (z + z_threshold)``: a deviation in sd mapped into [0, 1), 0.5 at ``z_threshold``; inf -> 1.

    >>> z_score_to_unit(3.0, 3.0), z_score_to_unit(0.0, 3.0), z_score_to_unit(math.inf, 3.0)
    (0.5, 0.0, 1.0)
    """
    if z >= math.inf:
        return 1.0
    return z / (z + z_threshold) if z > 0.0 else 0.0


def raw_to_unit(raw: float, raw_threshold: float) -> float:
    """A raw score in [0, 1] re-scaled so that ``raw_threshold`` lands on the alarm line 0.5.

    Piecewise linear and strictly increasing: ``[0, t] -> [0, 0.5]`` and
    ``[t, 1] -> [0.5, 1]``, so every ranking (and so every NAB score, whose
    threshold is optimised) is unchanged; only where the alarm line sits moves.

    >>> raw_to_unit(0.37, 0.37), raw_to_unit(0.0, 0.37), raw_to_unit(1.0, 0.37)
    (0.5, 0.0, 1.0)
    """
    if raw < raw_threshold:
        return ALARM * raw / raw_threshold
    if raw_threshold >= 1.0:
        return ALARM  # raw == raw_threshold == 1: the largest raw score is just at the line
    return ALARM + ALARM * (raw - raw_threshold) / (1.0 - raw_threshold)


class PointScorer(ABC):
    """The streaming core of a detection method for one series: values in, scores in [0, 1] out.

    Subclasses implement :meth:`update` and set ``warmup_points``; they may
    override :meth:`update_many` with a faster loop that gives the same
    scores. A scorer is fed the values of one series in time order, each with
    its timestamp as integer microseconds since the Unix epoch (UTC). Values
    arrive validated (finite floats) when an engine feeds them.

    The score of a value is in [0, 1]; higher is more anomalous and **0.5 is
    the alarm line**. A causal scorer's score for a value depends only on the
    values before it and itself.
    """

    #: Values taken before any score can reach 0.5 (on a regular series); the
    #: conformance kit sizes its test series from it.
    warmup_points: int = 0
    #: Time (microseconds) from the first value during which no score reaches
    #: 0.5, whatever the step (0: none). The novelty engines' quiet first day.
    warmup_us: int = 0

    @abstractmethod
    def update(self, x: float, t: int) -> float:
        """Take value ``x`` at time ``t`` (epoch microseconds); return its score in [0, 1]."""

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """Take ``values`` with their timestamps in order; return their scores (as :meth:`update` would)."""
        update = self.update
        return [update(x, t) for x, t in zip(values, stamps, strict=True)]


class RescaledScorer(PointScorer):
    """A scorer whose raw scores alarm at ``raw_threshold``, re-scaled to alarm at 0.5 (:func:`raw_to_unit`).

    For methods whose evidence has its own natural threshold (the novelty
    scorers'); the ranking of the scores is unchanged.
    """

    __slots__ = ("inner", "raw_threshold", "warmup_points")

    def __init__(self, inner: PointScorer, raw_threshold: float) -> None:
        self.inner = inner
        self.raw_threshold = raw_threshold
        self.warmup_points = inner.warmup_points

    @property
    def warmup_us(self) -> int:  # type: ignore[override]  # (the inner scorer's: a class attribute there)
        """The inner scorer's warm-up in time."""
        return self.inner.warmup_us

    def update(self, x: float, t: int) -> float:
        """The re-scaled score of ``x``."""
        return self.update_many((x,), (t,))[0]

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        """The re-scaled scores of ``values``."""
        thr = self.raw_threshold
        raws = self.inner.update_many(values, stamps)
        if thr >= 1.0:
            return [raw_to_unit(r, thr) for r in raws]
        # raw_to_unit inlined (the same operations, so the same floats): once per point.
        alarm, span = ALARM, 1.0 - thr
        return [alarm * r / thr if r < thr else alarm + alarm * (r - thr) / span for r in raws]


_BASE_POINT_SETTINGS = frozenset({"window_size_points", "stride_points", "classifier_history_points"})


def _point_settings(cls: type) -> list[str]:
    """The keyword-only constructor settings of ``cls`` counted in points (named ``*_points``)."""
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name.endswith("_points")]


def _check_setting(owner: str, field: str, value: object) -> int:
    """A positive int (that message for 0 or a wrong type) of at most ``MAX_POINTS`` points."""
    return check_points(owner, field, check_positive_int(owner, field, value))


class PointScoringEngine(AnomalyDetectionEngine):
    """Base of every engine built on a :class:`PointScorer`: subclasses implement :meth:`scorer`.

    Shared keyword-only settings, validated here: ``window_size_points``
    (default 1), ``stride_points`` (default 1), ``classify`` (default True:
    label and explain anomalous windows with the :class:`ExplanationClassifier`)
    and ``classifier_history_points`` (default None: the classifier's 12288;
    the points before a window it reads, which a live stream buffers); an
    engine whose week follows a local time passes ``utc_offset_minutes``
    (default 0) on to its classifier.
    Each of these, every other keyword setting of the subclass named
    ``*_points`` (checked before the scorer is built), and the scorer's
    ``warmup_points`` is at most :data:`~backend.analytics.validators.MAX_POINTS`
    (2**21) points, so a live stream's memory is bounded whatever the
    configuration asks.

    A subclass stores its own settings as attributes of the same names as its
    constructor's keywords (the ``repr`` reads them), then calls
    ``super().__init__(...)`` with the shared ones; the base builds one
    scorer there, so a bad setting fails at construction.
    """

    score_threshold: ClassVar[float] = ALARM

    def __init__(
        self,
        *,
        window_size_points: int = 1,
        stride_points: int = 1,
        classify: bool = True,
        classifier_history_points: int | None = None,
        utc_offset_minutes: int = 0,
    ) -> None:
        owner = type(self).__name__
        # Settings counted in points are bounded by MAX_POINTS: a stream buffers a small multiple
        # of them, so no configuration can make its memory grow with the series (issue 14).
        self.window_size_points = _check_setting(owner, "window_size_points", window_size_points)
        self.stride_points = _check_setting(owner, "stride_points", stride_points)
        if self.stride_points > self.window_size_points:
            size, stride = self.window_size_points, self.stride_points
            warnings.warn(
                f"{owner}: stride_points={stride} > window_size_points={size}: "
                f"{'the point' if stride - size == 1 else f'the {stride - size} points'} after each window "
                "fall in no window, so an anomaly there is never reported; use a stride no longer than "
                "the window",
                UnscoredPointsWarning,
                stacklevel=3,
            )
        self.classify = check_bool(owner, "classify", classify)
        if classifier_history_points is not None:
            _check_setting(owner, "classifier_history_points", classifier_history_points)
        self.classifier_history_points = classifier_history_points
        # The explanations read days of the week in UTC plus this (for engines that take it).
        check_utc_offset(owner, utc_offset_minutes)
        self._classifier = make_classifier(
            owner, classify, classifier_history_points, utc_offset_minutes=utc_offset_minutes
        )
        self._utc_offset_minutes = utc_offset_minutes  # (the explanations' week, with or without labels)
        if "utc_offset_minutes" not in vars(self):  # (a subclass taking it keeps its own setting)
            self.utc_offset_minutes = utc_offset_minutes  # (by its keyword's name, as every setting: repr)
        # The subclass's own settings in points (warmup_points, rest_points, ...), before a scorer
        # is built from them: a scorer may allocate its buffers up front.
        for name in _point_settings(type(self)):
            if name in _BASE_POINT_SETTINGS:  # checked above
                continue
            value = getattr(self, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_POINTS:
                fail_value(
                    owner, name, f"an int in [0, {MAX_POINTS}] (MAX_POINTS bounds settings in points)", value
                )
        probe = self.scorer()
        if not isinstance(probe, PointScorer):
            fail_type(f"{owner}.scorer()", "return value", "a PointScorer", probe)
        if not 0 <= probe.warmup_points <= MAX_POINTS:
            # A scorer holds its warm-up values until it has them all: bound them like a window.
            fail_value(
                owner, "warmup_points", f"at most {MAX_POINTS} points (MAX_POINTS)", probe.warmup_points
            )
        self.min_history_points = probe.warmup_points
        self.min_history_span = timedelta(microseconds=probe.warmup_us)

    @abstractmethod
    def scorer(self) -> PointScorer:
        """A fresh scorer with this engine's settings, for one series."""

    def accepts_value(self, x: float) -> bool:
        """Whether the scorer can take the finite value ``x`` (default: every finite value).

        An engine whose scorer refuses some finite values (``zscore`` with
        ``transform="log"``: values <= 0) says so here; ``LiveDetector``
        rejects and counts such points (``"out_of_domain"``) instead of feeding
        them. ``detect`` raises on them, as the scorer does.
        """
        return True

    @property
    def context_points(self) -> int:
        """Points before a window that its label, sentence and magnitude may read."""
        labels = self._classifier.history_points if self._classifier is not None else 0
        return max(labels, LABEL_CONTEXT)

    def __repr__(self) -> str:
        names = [
            p.name
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and hasattr(self, p.name)
        ]
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({settings})"

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score every full window of ``time_series``; see the module docs."""
        if not isinstance(time_series, MetricSeries):
            fail_type(f"{type(self).__name__}.detect", "time_series", "a MetricSeries", time_series)
        results = ScoreStream(self, *time_series.ids)._feed(time_series, whole=True)
        n = len(time_series)
        if not all(r.anomaly_score == 0.0 for r in results):
            return results
        us = time_series.epoch_us
        span = timedelta(microseconds=us[-1] - us[0]) if n else timedelta(0)
        if n < self.min_history_points:
            short = (
                f"has {n} points, fewer than the {self.min_history_points} this engine may need before "
                "it scores (its warm-up, min_history_points)"
            )
        elif span < self.min_history_span:
            short = (
                f"spans {span} ({n} points), less than the {self.min_history_span} this engine is quiet "
                "for from a series' first point, at any step (its warm-up, min_history_span)"
            )
        else:
            return results
        warnings.warn(
            f"{self.name}: {'/'.join(time_series.ids)} {short}; all {len(results)} windows scored 0, "
            "none could be anomalous",
            InsufficientHistoryWarning,
            stacklevel=2,
        )
        return results

    def stream(self, tenant_id: str, cluster_id: str, node_id: str, metric_name: str) -> ScoreStream:
        """An incremental detector for one live series with these ids (the same results as ``detect``).

        Only causal engines have one: a non-causal engine scores a series as a whole.
        """
        if not self.causal:
            raise TypeError(
                f"engine {self.name!r} is not causal: it scores a whole series at once and has no live form"
            )
        return ScoreStream(self, tenant_id, cluster_id, node_id, metric_name)

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One sentence about ``result``: its own explanation, else the classifier's."""
        if result.explanation is not None:
            return result.explanation
        return (self._classifier or ExplanationClassifier()).explain(time_series, result)

    def expected_band(
        self, time_series: MetricSeries, start_index: int, end_index: int
    ) -> tuple[list[float], list[float]] | None:
        """The values expected of ``time_series[start_index:end_index]``, for a plot (the report's band).

        The explanations' expectation of each point from the history before
        ``start_index``, give or take 3 of its spreads
        (:meth:`ExplanationClassifier.expected_band`): what the sentences
        measure a window against. ``None`` with fewer than 2 points before
        ``start_index``. With ``classify=False`` a classifier with the default
        settings (and this engine's week) reads it.
        """
        offset = getattr(self, "_utc_offset_minutes", 0)  # (an engine pickled before it kept the offset)
        classifier = self._classifier or ExplanationClassifier(utc_offset_minutes=offset)
        return classifier.expected_band(time_series, start_index, end_index)


class ScoreStream:
    """Incremental detection for one series: feed points, get the windows they complete.

    ``update(chunk)`` takes a :class:`MetricSeries` chunk with the stream's ids
    whose first timestamp is later than every point seen so far, and returns
    the results of the windows that the chunk completes; ``push(timestamp,
    value)`` takes one point. The concatenation of all returned lists equals
    ``engine.detect`` on the concatenated series, whatever the chunking.

    Memory: the scorer's state plus at most about ``2 * (engine.context_points
    + window_size_points + stride_points)`` buffered points, whatever the
    length of the series. A stream pickles (for checkpoints).
    """

    __slots__ = (
        "_base",
        "_classifier",
        "_engine",
        "_episode",
        "_held",
        "_ids",
        "_keep",
        "_memo",
        "_meta",
        "_n",
        "_next_start",
        "_scorer",
        "_scores",
        "_stride",
        "_us",
        "_vals",
        "_w",
    )

    def __init__(
        self,
        engine: PointScoringEngine,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
    ) -> None:
        if not isinstance(engine, PointScoringEngine):
            fail_type("ScoreStream", "engine", "a PointScoringEngine", engine)
        probe = MetricSeries.from_arrays(tenant_id, cluster_id, node_id, metric_name, [], [])
        self._ids = probe.ids
        self._meta = probe.metadata or {}
        self._engine = engine
        self._classifier = engine._classifier
        self._memo = new_memo(self._classifier)  # the series' cycle, found once per checkpoint
        self._scorer = engine.scorer()
        self._w = engine.window_size_points
        self._stride = engine.stride_points
        self._keep = engine.context_points
        self._us: array[int] = array("q")
        self._vals: array[float] = array("d")  # (8 bytes a point: a labelling stream buffers thousands)
        self._scores: array[float] = array("d")
        self._base = 0  # absolute index of the first buffered point
        self._n = 0  # points taken
        self._next_start = 0  # absolute index where the next window starts
        # The current episode of consecutive anomalous windows: (label, end index, anomalous points,
        # start index of its first window, sides it has held off its expectation and the index of the
        # history's end they are told against: label_and_explain).
        self._episode: tuple[AnomalyType, int, int, int, int, int] | None = None
        # The sides of the latest episode that held one, the end index of its last window that did, and
        # the index its sides were told against.
        self._held: tuple[int, int, int] = (0, 0, 0)

    @property
    def points_seen(self) -> int:
        """How many points the stream has taken so far."""
        return self._n

    @property
    def ids(self) -> tuple[str, str, str, str]:
        """``(tenant_id, cluster_id, node_id, metric_name)`` of the stream's series."""
        return self._ids

    @property
    def pending_points(self) -> int:
        """Points taken that no completed window covers yet (they wait for the next window to fill)."""
        if self._next_start == 0:
            return self._n
        covered = self._next_start - self._stride + self._w
        return max(0, self._n - covered)

    def export_state(self) -> dict[str, Any]:
        """The stream's state without its engine (for checkpoints); :meth:`from_state` rebuilds it.

        The engine is left out so that a checkpoint of many streams stores the
        engine once; the state is plain data (lists, arrays, numbers, the
        scorer) and pickles.
        """
        state = self.__getstate__()
        del state["_engine"], state["_classifier"]
        return state

    @classmethod
    def from_state(cls, engine: PointScoringEngine, state: dict[str, Any]) -> ScoreStream:
        """The stream that :meth:`export_state` described, bound to ``engine`` (the same settings)."""
        if not isinstance(engine, PointScoringEngine):
            fail_type("ScoreStream.from_state", "engine", "a PointScoringEngine", engine)
        expected = set(cls.__slots__) - {"_engine", "_classifier"}
        # (A state from before streams kept the sides their episodes held has no "_held".)
        if not isinstance(state, dict) or set(state) not in (expected, expected - {"_held"}):
            fail_type("ScoreStream.from_state", "state", "a dict from ScoreStream.export_state()", state)
        stream = cls.__new__(cls)
        stream.__setstate__({**state, "_engine": engine, "_classifier": engine._classifier})
        return stream

    def update(self, chunk: MetricSeries) -> list[AnomalyResult]:
        """Take the points of ``chunk``; return the results of the windows they complete."""
        owner = "ScoreStream.update"
        if not isinstance(chunk, MetricSeries):
            fail_type(owner, "chunk", "a MetricSeries", chunk)
        if chunk.ids != self._ids:
            raise ValueError(f"{owner}: chunk ids {chunk.ids!r} differ from the stream's {self._ids!r}")
        if len(chunk):
            self._check_after(owner, "chunk.timestamps[0]", chunk.epoch_us[0])
        return self._feed(chunk, whole=False)

    def push(self, timestamp: datetime, value: float) -> list[AnomalyResult]:
        """Take one point; return the results of the windows it completes.

        Errors name ``push`` and its arguments: ``value`` must be a finite real
        number, ``timestamp`` a timezone-aware datetime later than every point
        the stream has seen.
        """
        owner = "ScoreStream.push"
        value = check_real(owner, "value", value)
        check_aware_datetime(owner, "timestamp", timestamp)
        chunk = MetricSeries(*self._ids, [timestamp], [value])
        self._check_after(owner, "timestamp", chunk.epoch_us[0])
        return self._feed(chunk, whole=False)

    def _check_after(self, owner: str, field: str, first_us: int) -> None:
        """Refuse a point at ``first_us`` (epoch µs) not later than every point seen so far."""
        if self._n and first_us <= self._us[-1]:
            raise ValueError(
                f"{owner}: {field} must be later than the last point seen "
                f"({epoch_us_to_datetime(self._us[-1]).isoformat()}), "
                f"got {epoch_us_to_datetime(first_us).isoformat()}"
            )

    def _feed(self, chunk: MetricSeries, *, whole: bool) -> list[AnomalyResult]:
        new_vals = chunk.values.tolist()
        if not new_vals:
            return []
        new_us = chunk.epoch_us
        try:
            new_scores = self._scorer.update_many(new_vals, new_us)
        except ValueError as exc:  # (a value the scorer cannot take: say which series it is in)
            raise ValueError(f"{'/'.join(self._ids)}: {exc}") from exc
        _check_scores(self._engine, new_scores, len(new_vals))
        self._us.extend(new_us)
        self._vals.extend(new_vals)
        self._scores.extend(new_scores)
        self._n += len(new_vals)
        w, stride, base = self._w, self._stride, self._base
        scores, us = self._scores, self._us
        epoch, one_us = _EPOCH, _ONE_US  # (epoch_us_to_datetime, inlined: once per window)
        trusted = AnomalyResult._trusted
        ids = self._ids
        normal = AnomalyType.NORMAL
        out: list[AnomalyResult] = []
        append = out.append
        starts = range(self._next_start, self._n - w + 1, stride)  # every window that ends by now
        for start in starts:
            lo = start - base
            if w == 1:
                score = scores[lo]
                t_start = t_end = epoch + one_us * us[lo]
            else:
                score = max(scores[lo : lo + w])
                t_start, t_end = epoch + one_us * us[lo], epoch + one_us * us[lo + w - 1]
            if score >= ALARM:
                append(self._anomalous(start, t_start, t_end, score))
            else:
                self._episode = None
                append(trusted(ids, t_start, t_end, score, normal, None, None))
        if starts:
            self._next_start = starts[-1] + stride
        if not whole:
            self._trim()
        return out

    def _trim(self) -> None:
        """Forget points no window or label can need once they fill half the buffer (O(1) amortised)."""
        drop = self._next_start - self._keep - self._base
        if drop > 0 and drop * 2 >= len(self._vals):
            del self._vals[:drop]
            del self._us[:drop]
            del self._scores[:drop]
            self._base += drop

    def _anomalous(self, start: int, t_start: datetime, t_end: datetime, score: float) -> AnomalyResult:
        """The result of an anomalous window: its label, magnitude and sentence.

        The first window of an episode (a run of consecutive anomalous windows)
        is labelled by the classifier against the history before it (or by the
        fallback rule). Later windows of the episode keep the episode's label,
        because their history already holds the anomaly; a SPIKE episode whose
        anomalous points outnumber a spike's (more than ``SPIKE_POINTS``) has
        turned into a sustained change: TREND; and a TREND on a seasonal history
        that has been held off its expectation on both sides (in this episode,
        or in the latest one that held a side, ended at most a quarter of a
        cycle before) changed the cycle's shape, not its level: SEASONAL
        (:func:`~backend.analytics._labels.label_and_explain`). Their magnitude
        and sentence measure them against the history before the episode's first window,
        not against the episode's own earlier points ("212 sd above its
        baseline of 0.54", not "1.1 sd below its baseline of 13.45"), while
        the episode spans at most half of :attr:`PointScoringEngine.context_points`;
        a longer one is measured against the points before the window.
        """
        base, end = self._base, start + self._w
        window = self._vals[start - base : end - base]
        episode = self._episode
        fresh_from = start if episode is None else max(start, episode[1])
        hits = sum(1 for v in self._scores[fresh_from - base : end - base] if v >= ALARM)
        promoted = False  # (a SPIKE episode's label turned TREND by its count of anomalous points)
        # The sides held so far, how long ago, and the index they are told against (label_and_explain).
        sides, gap, told = self._held[0], start - self._held[1], self._held[2]
        if episode is None or start > episode[1]:
            onset, forced = start, None
        else:
            sides, gap, told = episode[4], 0, episode[5]
            hits += episode[2]
            forced = episode[0]
            if forced is AnomalyType.SPIKE and hits > SPIKE_POINTS:
                forced, promoted = AnomalyType.TREND, True
            # A later window of the episode measures its departure from the points before the
            # episode began, while the episode so far spans at most half of the points a window
            # may read (so that at least half of them came before it, and detect and a trimmed
            # stream read the same); a longer one, from the points before the window.
            onset = episode[3] if 0 <= start - episode[3] <= self._keep // 2 else start
        # (context_points >= LABEL_CONTEXT: for the first window this is the 32 points before it.)
        floor = max(base, start - self._keep, onset - LABEL_CONTEXT)
        before = self._vals[floor - base : onset - base]
        classifier = self._classifier
        if promoted and classifier is None and onset != start and not still_out(window, before):
            # The scores held on after the spike (an engine's held alarm), the values did not: the
            # window's points are back near the level before the episode, so the episode is still
            # the spike, not a level that moved. (Only while the window is told against the points
            # before the episode, as the classifier, when there is one, judges it: label_and_explain.)
            forced = AnomalyType.SPIKE
        label = fallback_label(window, before) if forced is None else forced
        result = AnomalyResult._trusted(
            self._ids, t_start, t_end, score, label, window_magnitude(window, before), None
        )
        if classifier is not None:
            lo = max(base, start - classifier.history_points)
            sub = MetricSeries._trusted(
                self._ids,
                self._us[lo - base : end - base],
                self._vals[lo - base : end - base],
                self._meta,
            )
            # (The classifier may read fewer points than the magnitude: with less than two of its
            # own before the episode, it judges the window against the points before the window.)
            anchor = onset - lo if onset != start and onset - lo >= 2 else None
            earlier = told - lo if told != onset and told - lo >= 2 else None
            result, sides, held, carried = label_and_explain(
                classifier, sub, start - lo, end - lo, result, label, forced, self._memo, anchor, promoted,
                sides, gap, earlier,
            )
            if gap:
                told = told if carried else onset
            if held:
                self._held = (sides, end, told)
        else:
            told = onset
        self._episode = (result.anomaly_label, end, hits, onset, sides, told)
        return result

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        episode = state.get("_episode")
        if isinstance(episode, tuple) and len(episode) == 3:  # from before episodes kept their onset
            episode = (*episode, -(1 << 62))  # unknown: later windows fall back
        if isinstance(episode, tuple) and len(episode) == 4:  # from before episodes kept their sides
            state = {**state, "_episode": (*episode, 0, episode[3])}  # none seen yet
        state.setdefault("_held", (0, 0, 0))
        for name, value in state.items():
            object.__setattr__(self, name, value)


def _check_scores(engine: PointScoringEngine, scores: Sequence[float], n: int) -> None:
    """Raise RuntimeError naming the engine when its scorer broke the [0, 1] contract (an engine bug)."""
    if len(scores) != n:
        raise RuntimeError(f"engine {engine.name!r}: its scorer returned {len(scores)} scores for {n} values")
    if n and min(scores) >= 0.0 and max(scores) <= 1.0 and not math.isnan(math.fsum(scores)):
        return
    bad = next((i for i, s in enumerate(scores) if not 0.0 <= s <= 1.0), None)
    if bad is not None:
        raise RuntimeError(
            f"engine {engine.name!r}: its scorer returned score {scores[bad]!r} (value {bad} of the chunk), "
            "outside [0, 1]"
        )
