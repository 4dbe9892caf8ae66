"""``LiveDetector``: live detection for many series at once, checkpointed so that it survives a restart.

Points arrive in batches, for any ``(tenant, cluster, node, metric)`` series,
in any mix. Each series gets its own incremental stream (the engine's
:meth:`~backend.analytics.scoring.PointScoringEngine.stream`), created on the
series' first point; :meth:`LiveDetector.ingest` returns the results of the
windows the batch completed (series in order of first appearance in the
batch, each series' windows in time order).

**Late, out-of-order and duplicate points** (per series):

* With ``lateness=timedelta(0)`` (the default) a point must be later than the
  series' latest accepted point, whether that came in an earlier batch or
  earlier in the same one (so the outcome does not depend on how the input
  is cut into batches). A point at the same instant as the latest accepted
  point is rejected as ``"duplicate"`` (the first one wins, whatever the
  values); an earlier one as ``"late"``.
* With ``lateness=L``, points are held in a per-series reorder buffer and
  released to the stream, in time order, once the series has seen a point at
  least ``L`` later. Points out of order within ``L`` are therefore accepted
  and sorted; a point before the last *released* point is ``"late"`` (a
  re-sent point released earlier included), one at that instant or at an
  instant held is ``"duplicate"``. Points are released at the end of each
  series' share of a batch, so with ``L > 0`` whether a point more than ``L``
  late is taken depends on how the input is cut into batches.
  :meth:`LiveDetector.flush` releases what is held (end of input).
* A value that is not a finite number is rejected as ``"not_finite"``; a
  finite value that the engine cannot take (its
  :meth:`~backend.analytics.scoring.PointScoringEngine.accepts_value`, such
  as a value <= 0 for ``zscore`` with ``transform="log"``) as
  ``"out_of_domain"``, and the other series of the batch go on.

Every rejection is counted by reason in :attr:`LiveStats.rejected`; nothing
is dropped without a count. Malformed input (a naive timestamp, an empty
id, a value that is not a number, a ``set`` of points) raises, naming the
point. An engine that raises on a series' valid points does not stop the
batch: the points are counted in :attr:`LiveStats.engine_errors`, logged and
recorded (:class:`EngineFailure`), and the series goes on with a fresh
stream. An exception that escapes part-way through taking a batch (a
``KeyboardInterrupt``) leaves the detector refusing to go on or checkpoint:
restart it from its checkpoint.

**Gaps**: with ``max_gap`` set, a released point more than ``max_gap`` after
the series' previous point starts a fresh stream for the series, so no
window ever spans the gap; the points of the window left open before it are
never scored. Each such split is counted and recorded as a
:class:`GapSplit` (the last 1,000 are kept in :attr:`LiveDetector.gaps`).

**Checkpoints**: given ``checkpoints`` (a SQLite file, usually the store's),
the detector saves, every ``checkpoint_every_points`` points received or
``checkpoint_every_seconds`` seconds (whichever comes first, checked after
each batch), the state of every series that changed, the counters and the
``cursor`` of the last batch, in one transaction. A detector built with the
same ``name``, engine and policy on that file resumes from it: feed it the
input after :attr:`LiveDetector.cursor` and it gives the same results as a
detector that never stopped. One running detector per ``name`` on a file: a
checkpoint that finds the row changed since this detector loaded or saved it
refuses (``ValueError``). With a ``sink`` (a
:class:`~backend.analytics.store.ResultSink`), each batch's results are
written to it *before* the checkpoint that covers them; since results are
keyed by window, the batches replayed after a restart rewrite identical rows.
A call whose sink write or checkpoint fails raises, but its batch was taken:
its results are returned, and written to the sink again, by the next
:meth:`~LiveDetector.ingest` or :meth:`~LiveDetector.flush` (``ingest([])``
will do), so a retry loses none of them.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from .._validate import (
    brief,
    check_aware_datetime,
    check_id,
    check_ordered,
    check_positive_int,
    fail_type,
    fail_value,
)
from ..engine import EngineRegistry
from ..scoring import PointScoringEngine, ScoreStream
from ..store import SeriesKey
from ..types import AnomalyResult, MetricSeries, datetime_to_epoch_us, epoch_us_to_datetime
from ._checkpoint import CHECKPOINT_VERSION, CheckpointFile, DetectorRow

__all__ = [
    "REJECT_REASONS",
    "EngineFailure",
    "GapSplit",
    "LiveDetector",
    "LivePoint",
    "LiveStats",
    "Rejection",
]

logger = logging.getLogger(__name__)

_OWNER = "LiveDetector"
#: Why a point can be rejected.
REJECT_REASONS = ("late", "duplicate", "not_finite", "out_of_domain")


class LivePoint(NamedTuple):
    """One point of one series (plain tuples of the same six fields are accepted too)."""

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str
    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class GapSplit:
    """A series' stream restarted because of a gap longer than ``max_gap``."""

    key: SeriesKey
    last_before: datetime
    first_after: datetime
    unscored_points: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected point: its series, its instant, why (one of :data:`REJECT_REASONS`), and ``floor``,
    the series' point it had to be later than (``None`` unless the reason is late or duplicate)."""

    key: SeriesKey
    timestamp: datetime
    reason: str
    floor: datetime | None


@dataclass(frozen=True, slots=True)
class EngineFailure:
    """The engine raised on ``points`` points of a series (``first`` to ``last``); ``error`` says what.

    Those points are not scored, the series' stream restarts (as after a gap),
    and the other series go on; :attr:`LiveStats.engine_errors` counts the
    points, and a warning is logged.
    """

    key: SeriesKey
    first: datetime
    last: datetime
    points: int
    error: str


@dataclass(frozen=True, slots=True)
class LiveStats:
    """The detector's counters (since it was first started, across restarts)."""

    series: int
    received: int
    accepted: int
    held: int
    rejected: Mapping[str, int] = field(default_factory=dict)
    gap_splits: int = 0
    results: int = 0
    checkpoints: int = 0
    engine_errors: int = 0


class _Series:
    """One series' live state: its stream, its reorder buffer, the last released and latest seen instant."""

    __slots__ = ("held", "last_us", "max_us", "stream")

    def __init__(self, stream: ScoreStream) -> None:
        self.stream = stream
        self.held: dict[int, float] = {}
        self.last_us: int | None = None
        self.max_us: int | None = None

    def export(self) -> dict[str, Any]:
        return {
            "stream": self.stream.export_state(),
            "held": dict(self.held),
            "last_us": self.last_us,
            "max_us": self.max_us,
        }

    @classmethod
    def restore(cls, engine: PointScoringEngine, state: dict[str, Any]) -> _Series:
        series = cls(ScoreStream.from_state(engine, state["stream"]))
        series.held = dict(state["held"])
        series.last_us = state["last_us"]
        series.max_us = state["max_us"]
        return series


def _check_cursor(method: str, cursor: Any) -> None:
    """Refuse, before anything is taken, a cursor that a checkpoint could not save (not a JSON value)."""
    if cursor is None:
        return
    try:
        json.dumps(cursor, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{_OWNER}.{method}: cursor must be a JSON value (a number, a string, or lists and dicts of "
            f"them), got {brief(cursor)} ({exc}); nothing of this call was taken"
        ) from exc
    unfaithful = _unfaithful(cursor)
    if unfaithful:
        raise TypeError(
            f"{_OWNER}.{method}: cursor must read back as it was given after a restart, got "
            f"{brief(cursor)}: {unfaithful}; nothing of this call was taken"
        )


def _unfaithful(value: Any) -> str | None:
    """Why ``value`` would not read back from JSON as it is (a tuple, a dict key that is not a str)."""
    if isinstance(value, tuple):
        return "a tuple reads back as a list (give a list)"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"dict key {key!r} reads back as the string {json.dumps(key)} (give str keys)"
            why = _unfaithful(item)
            if why:
                return why
    if isinstance(value, list):
        for item in value:
            why = _unfaithful(item)
            if why:
                return why
    return None


def _check_point(
    i: int, point: object, known: dict[tuple[Any, ...], SeriesKey]
) -> tuple[SeriesKey, int, float | None]:
    """The key, instant and value of ``point`` (value None when not finite); raise on malformed input.

    ``known`` maps the id tuples already validated to their key (so each series' ids are checked once).
    """
    if not isinstance(point, tuple) or len(point) != 6:
        fail_type(_OWNER, f"points[{i}]", "a LivePoint or a tuple of six fields", point)
    tenant, cluster, node, metric, timestamp, value = point
    ids = (tenant, cluster, node, metric)
    try:
        key = known.get(ids)
    except TypeError:  # an unhashable id: check_id below names it
        key = None
    if key is None:
        key = SeriesKey(
            check_id(_OWNER, f"points[{i}].tenant_id", tenant),
            check_id(_OWNER, f"points[{i}].cluster_id", cluster),
            check_id(_OWNER, f"points[{i}].node_id", node),
            check_id(_OWNER, f"points[{i}].metric_name", metric),
        )
        known[ids] = key
    if type(timestamp) is not datetime or timestamp.tzinfo is not timezone.utc:
        check_aware_datetime(_OWNER, f"points[{i}].timestamp", timestamp)
    us = datetime_to_epoch_us(timestamp)
    if type(value) is float:
        number = value
    else:
        # (A Decimal, which database drivers give for NUMERIC columns, as a series takes it.)
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
            fail_type(_OWNER, f"points[{i}].value", "a real number", value)
        try:
            number = float(value)
        except OverflowError:
            fail_value(_OWNER, f"points[{i}].value", "a real number within a float's range", value)
        except ValueError:  # a signalling NaN Decimal: not finite
            number = math.nan
        if isinstance(value, Decimal) and value.is_finite() and not math.isfinite(number):
            fail_value(_OWNER, f"points[{i}].value", "a real number within a float's range", value)
    return key, us, (number if math.isfinite(number) else None)


class LiveDetector:
    """Live detection over many series; see the module docs for the policy and the checkpoints.

    ``engine``: a causal :class:`~backend.analytics.scoring.PointScoringEngine`
    or a registered engine name built with ``config``. ``name``: the
    detector's name in the checkpoint file. ``lateness``: how far out of
    order a point may arrive (default 0). ``max_gap``: the longest gap a
    stream spans (default None: any). ``checkpoints``: the SQLite file for
    checkpoints (default None: none). ``checkpoint_every_points`` /
    ``checkpoint_every_seconds``: when to checkpoint (None: never on that
    count). ``sink``: where each batch's results are written (a
    ``ResultSink``, e.g. the store), under the engine's name. ``clock``: the
    monotonic clock for ``checkpoint_every_seconds``.
    """

    def __init__(
        self,
        engine: str | PointScoringEngine,
        config: Mapping[str, Any] | None = None,
        *,
        name: str = "live",
        lateness: timedelta = timedelta(0),
        max_gap: timedelta | None = None,
        checkpoints: CheckpointFile | str | None = None,
        checkpoint_every_points: int | None = 100_000,
        checkpoint_every_seconds: float | None = 60.0,
        sink: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(engine, str):
            built = EngineRegistry.default().create(engine, **dict(config or {}))
        elif config is not None:
            fail_value(_OWNER, "config", "None when engine is an engine instance", config)
        else:
            built = engine
        if not isinstance(built, PointScoringEngine) or not built.causal:
            fail_type(_OWNER, "engine", "a causal PointScoringEngine (one with a live .stream())", built)
        self.engine: PointScoringEngine = built
        # The engine's domain check, where it has one (None: every finite value).
        custom = type(built).accepts_value is not PointScoringEngine.accepts_value
        self._accepts: Callable[[float], bool] | None = built.accepts_value if custom else None
        self.name = check_id(_OWNER, "name", name)
        if not isinstance(lateness, timedelta) or lateness < timedelta(0):
            fail_value(_OWNER, "lateness", "a non-negative timedelta", lateness)
        if max_gap is not None and (not isinstance(max_gap, timedelta) or max_gap <= timedelta(0)):
            fail_value(_OWNER, "max_gap", "a positive timedelta or None", max_gap)
        self.lateness = lateness
        self.max_gap = max_gap
        self._lateness_us = lateness // timedelta(microseconds=1)
        self._max_gap_us = None if max_gap is None else max_gap // timedelta(microseconds=1)
        if checkpoint_every_points is not None:
            check_positive_int(_OWNER, "checkpoint_every_points", checkpoint_every_points)
        if checkpoint_every_seconds is not None and (
            isinstance(checkpoint_every_seconds, bool)
            or not isinstance(checkpoint_every_seconds, (int, float))
            or not checkpoint_every_seconds > 0
        ):
            fail_value(
                _OWNER,
                "checkpoint_every_seconds",
                "a positive number of seconds or None",
                checkpoint_every_seconds,
            )
        self.checkpoint_every_points = checkpoint_every_points
        self.checkpoint_every_seconds = checkpoint_every_seconds
        if sink is not None and not callable(getattr(sink, "write_results", None)):
            fail_type(_OWNER, "sink", "a ResultSink (with write_results) or None", sink)
        self.sink = sink
        self._clock = clock
        self._checkpoints = CheckpointFile(checkpoints) if isinstance(checkpoints, str) else checkpoints
        if self._checkpoints is not None and not isinstance(self._checkpoints, CheckpointFile):
            fail_type(_OWNER, "checkpoints", "a file path, a CheckpointFile or None", checkpoints)
        self._series: dict[SeriesKey, _Series] = {}
        # Id tuples already validated -> their key (bounded by the number of series seen, plus the batch).
        self._known: dict[tuple[Any, ...], SeriesKey] = {}
        self._dirty: set[SeriesKey] = set()
        self._counts: Counter[str] = Counter()
        self.gaps: deque[GapSplit] = deque(maxlen=1000)
        #: The engine's failures on a series' points, the last 1,000 (see :class:`EngineFailure`).
        self.engine_failures: deque[EngineFailure] = deque(maxlen=1000)
        # The method whose batch was interrupted part-way (see _refuse_if_torn), or None.
        self._torn: str | None = None
        # The detector's row in the checkpoint file as this detector last saw it: (saved_at_us,
        # checkpoints), None for no row; a save finding another refuses (a second detector of this name).
        self._seen: tuple[int, int] | None = None
        # Series dropped by forget() since the last checkpoint: their rows are deleted by the next.
        self._forgotten: set[SeriesKey] = set()
        #: The last 1,000 rejected points, each a :class:`Rejection` (which series, when, why).
        self.rejections: deque[Rejection] = deque(maxlen=1000)
        self._warned: set[SeriesKey] = set()
        self.cursor: Any = None
        # The results of a call that raised after taking its batch (the sink or the checkpoint
        # failed): returned, and written to the sink again, by the next ingest or flush.
        self._undelivered: list[AnomalyResult] = []
        self.restored = False
        self._since_points = 0
        self._since_time = clock()
        if self._checkpoints is not None:
            self._restore(self._checkpoints)

    # -- checkpoints --------------------------------------------------------------------------

    def _policy(self) -> dict[str, Any]:
        return {"lateness_us": self._lateness_us, "max_gap_us": self._max_gap_us}

    def _restore(self, checkpoints: CheckpointFile) -> None:
        saved = checkpoints.load(self.name)
        if saved is None:
            return
        row, states = saved
        if row.engine != repr(self.engine):
            raise ValueError(
                f"{_OWNER}: the checkpoint of {self.name!r} in {checkpoints.path!r} was made by engine "
                f"{row.engine}, not {self.engine!r}; use the same engine settings or another name"
            )
        if row.policy != self._policy():
            raise ValueError(
                f"{_OWNER}: the checkpoint of {self.name!r} was made with policy {row.policy}, "
                f"not {self._policy()} (lateness and max_gap in microseconds)"
            )
        self._series = {}
        for key, state in states:
            try:
                self._series[key] = _Series.restore(self.engine, state)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(
                    f"{_OWNER}: the checkpoint of {self.name!r} in {checkpoints.path!r} holds a state for "
                    f"series {tuple(key)!r} that this version cannot resume ({type(exc).__name__}: {exc}); "
                    "delete the detector's checkpoint (CheckpointFile.delete) to start it afresh"
                ) from exc
        self._counts = Counter(row.counters)
        self.cursor = row.cursor
        self._seen = (row.saved_at_us, self._counts["checkpoints"])
        self.restored = True
        logger.info(
            "%s %r resumed from its checkpoint: %d series, cursor %r",
            _OWNER,
            self.name,
            len(states),
            row.cursor,
        )

    def checkpoint(self) -> int:
        """Save the changed series, the counters and the cursor now; return the series written.

        After a call that raised once its batch was taken, the results it
        could not deliver are written to the sink first; without a sink this
        raises ``ValueError`` until :meth:`ingest` or :meth:`flush` has
        returned them (a checkpoint past them would lose them on a restart).
        """
        checkpoints = self._checkpoints
        if checkpoints is None:
            raise ValueError(f"{_OWNER}: no checkpoints file was given, so there is nowhere to checkpoint")
        self._refuse_if_torn("checkpoint")
        if self._undelivered:
            if self.sink is None:
                raise ValueError(
                    f"{_OWNER}: {len(self._undelivered)} results of a call that failed after taking its "
                    "batch have not been returned yet; call ingest([]) or flush() to receive them (it "
                    "checkpoints when due) before checkpointing"
                )
            self.sink.write_results(self._undelivered, engine=self.engine.name)
        return self._checkpoint(checkpoints)

    def _checkpoint(self, checkpoints: CheckpointFile) -> int:
        self._counts["checkpoints"] += 1  # the saved counters include this checkpoint
        try:
            written = self._save(checkpoints)
        except BaseException:
            self._counts["checkpoints"] -= 1
            raise
        self._dirty.clear()
        self._since_points = 0
        self._since_time = self._clock()
        return written

    def _save(self, checkpoints: CheckpointFile) -> int:
        row = DetectorRow(
            CHECKPOINT_VERSION,
            repr(self.engine),
            self._policy(),
            self.cursor,
            dict(self._counts),
            datetime_to_epoch_us(datetime.now().astimezone()),
        )
        dirty = sorted(self._dirty)
        states = ((key, self._series[key].export()) for key in dirty)
        forgotten = sorted(self._forgotten)
        written = checkpoints.save(self.name, row, states, expect=self._seen, forget=forgotten)
        self._seen = (row.saved_at_us, self._counts["checkpoints"])
        self._forgotten.clear()
        return written

    def _due(self) -> bool:
        if self._checkpoints is None:
            return False
        every = self.checkpoint_every_points
        if every is not None and self._since_points >= every:
            return True
        seconds = self.checkpoint_every_seconds
        return seconds is not None and self._clock() - self._since_time >= seconds

    # -- input --------------------------------------------------------------------------------

    def ingest(
        self, points: Iterable[LivePoint | tuple[Any, ...]], *, cursor: Any = None
    ) -> list[AnomalyResult]:
        """Take a batch of points; return the results of the windows it completes.

        ``cursor``: where this batch ends in your input (a JSON value: an
        offset, a file position), saved with the next checkpoint and read back
        as :attr:`cursor` after a restart. The whole batch is validated
        before any of it is taken, so a malformed point leaves the detector
        unchanged.

        Once validated, the batch is taken, even if writing its results to
        the sink or the checkpoint then fails: the call raises, the points
        are not to be sent again (they would be rejected as late or
        duplicate), and its results are returned, and written to the sink
        again, by the next call that succeeds (``ingest([])`` will do).
        """
        items: object = points
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            fail_type(_OWNER, "points", "an iterable of LivePoint", points)
        # (A set's order is its hashes': with lateness 0 the order within a batch decides what is kept.)
        check_ordered(_OWNER, "points", items, "an iterable of LivePoint")
        self._refuse_if_torn("ingest")
        _check_cursor("ingest", cursor)
        groups: dict[SeriesKey, list[tuple[int, float | None]]] = {}
        received = 0
        known = self._known
        for i, point in enumerate(points):
            key, us, value = _check_point(i, point, known)
            groups.setdefault(key, []).append((us, value))
            received += 1
        self._counts["received"] += received
        out: list[AnomalyResult] = []
        self._torn = "ingest"  # until every series has taken its points (see _refuse_if_torn)
        for key, items in groups.items():
            out.extend(self._take(key, items))
        self._torn = None
        return self._finish(out, cursor, received)

    def flush(self, *, cursor: Any = None) -> list[AnomalyResult]:
        """Release every held point (the end of the input): the results of the windows they complete."""
        self._refuse_if_torn("flush")
        _check_cursor("flush", cursor)
        out: list[AnomalyResult] = []
        self._torn = "flush"
        for key, series in self._series.items():
            if series.held:
                self._dirty.add(key)
                out.extend(self._release(key, series, everything=True))
        self._torn = None
        return self._finish(out, cursor, 0)

    def forget(self, key: SeriesKey | tuple[str, str, str, str]) -> list[AnomalyResult]:
        """Drop a series that is gone (a replaced pod, a renamed metric); return its last results.

        Its held points are released first (their windows' results returned,
        and written to the sink), then its stream and state are dropped: the
        next checkpoint deletes its row, and memory no longer grows with every
        series ever seen. A later point of the series starts a fresh stream
        (warm-up again). An unknown key is a ``KeyError``. See
        :meth:`idle_series` for the series that have gone quiet.
        """
        self._refuse_if_torn("forget")
        series_key = SeriesKey(*key)
        series = self._series.get(series_key)
        if series is None:
            raise KeyError(f"{_OWNER} {self.name!r} has no series {tuple(series_key)!r}")
        self._torn = "forget"
        out = self._release(series_key, series, everything=True) if series.held else []
        del self._series[series_key]
        self._dirty.discard(series_key)
        self._forgotten.add(series_key)
        self._warned.discard(series_key)
        for ids in [ids for ids, known in self._known.items() if known == series_key]:
            del self._known[ids]
        self._torn = None
        return self._finish(out, None, 0)

    def idle_series(self, before: datetime) -> list[SeriesKey]:
        """The series whose latest accepted point is earlier than ``before`` (for :meth:`forget`)."""
        limit = datetime_to_epoch_us(check_aware_datetime(_OWNER, "before", before))
        return sorted(
            key for key, series in self._series.items() if series.max_us is None or series.max_us < limit
        )

    def _refuse_if_torn(self, method: str) -> None:
        """Refuse to go on after a call that was interrupted part-way through taking its batch.

        An exception that escapes while the series take a batch (a ``KeyboardInterrupt``, or a
        ``SystemExit`` from a signal handler) leaves some series with their points and others
        without: that state must not be checkpointed, nor built on.
        """
        if self._torn is not None:
            raise RuntimeError(
                f"{_OWNER} {self.name!r}: an earlier {self._torn}() was interrupted part-way through "
                f"its batch, so the detector holds half of it; {method}() would build on (or save) that "
                "state. Build the detector again from its checkpoint and send the input after its cursor"
            )

    def _finish(self, out: list[AnomalyResult], cursor: Any, received: int) -> list[AnomalyResult]:
        """Deliver the call's results (after any a failed call left), checkpoint when due; return them."""
        self._counts["results"] += len(out)
        if cursor is not None:
            self.cursor = cursor
        self._since_points += received
        if self._undelivered:
            out[:0] = self._undelivered
        # Undelivered until this call returns: a sink or checkpoint failure below leaves them for the
        # next call, which writes them again (the sink keys results by window: the same rows).
        self._undelivered = out
        if out and self.sink is not None:
            self.sink.write_results(out, engine=self.engine.name)
        if self._checkpoints is not None and self._due():
            self._checkpoint(self._checkpoints)
        self._undelivered = []
        return out

    def _take(self, key: SeriesKey, items: list[tuple[int, float | None]]) -> list[AnomalyResult]:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(self.engine.stream(*key))
        self._dirty.add(key)
        counts = self._counts
        held = series.held
        accepts = self._accepts
        # Without lateness a point must be later than the series' latest accepted point, in this
        # batch too (max_us): the outcome does not depend on how the input was cut into batches.
        # With lateness, than the last released one (last_us).
        in_order = not self._lateness_us
        for us, value in items:
            floor = series.max_us if in_order else series.last_us
            if value is None:
                reason = "not_finite"
            elif accepts is not None and not accepts(value):
                reason = "out_of_domain"
            elif us in held:
                reason = "duplicate"
            elif floor is not None and us <= floor:
                reason = "duplicate" if us == floor else "late"
            else:
                held[us] = value
                counts["accepted"] += 1
                if series.max_us is None or us > series.max_us:
                    series.max_us = us
                continue
            counts[f"rejected:{reason}"] += 1
            self._reject(key, us, reason, floor if reason in ("late", "duplicate") else None)
        return self._release(key, series, everything=False)

    def _reject(self, key: SeriesKey, us: int, reason: str, floor: int | None) -> None:
        """Record a rejected point; warn once per series (a clock that jumped ahead silences a series)."""
        at = epoch_us_to_datetime(us)
        rejection = Rejection(key, at, reason, None if floor is None else epoch_us_to_datetime(floor))
        self.rejections.append(rejection)
        if key not in self._warned and reason in ("late", "duplicate"):
            self._warned.add(key)
            logger.warning(
                "%s %r: rejected a %s point of %s at %s (it had to be later than %s); later rejections "
                "of this series are counted in stats.rejected and kept in LiveDetector.rejections, "
                "not logged",
                _OWNER,
                self.name,
                reason,
                "/".join(key),
                at.isoformat(),
                "none" if rejection.floor is None else rejection.floor.isoformat(),
            )

    def _release(self, key: SeriesKey, series: _Series, *, everything: bool) -> list[AnomalyResult]:
        held = series.held
        if not held or series.max_us is None:
            return []
        if everything:
            ready = sorted(held)
        else:
            limit = series.max_us - self._lateness_us
            ready = sorted(us for us in held if us <= limit)
        if not ready:
            return []
        # Out of the buffer before the stream sees them: a stream that raises does not get them again.
        values = [held.pop(us) for us in ready]
        previous = series.last_us
        series.last_us = ready[-1]
        out: list[AnomalyResult] = []
        start = 0
        gap = self._max_gap_us
        for j, us in enumerate(ready):
            if gap is not None and previous is not None and us - previous > gap:
                out.extend(self._feed(key, series, ready[start:j], values[start:j]))
                self._split(key, series, previous, us)
                start = j
            previous = us
        out.extend(self._feed(key, series, ready[start:], values[start:]))
        return out

    def _feed(
        self, key: SeriesKey, series: _Series, stamps: list[int], values: list[float]
    ) -> list[AnomalyResult]:
        if not stamps:
            return []
        chunk = MetricSeries.from_arrays(*key, stamps, values)
        try:
            return series.stream.update(chunk)
        except Exception as exc:  # one series' engine failure never stops the others
            self._engine_failed(key, series, stamps, exc)
            return []

    def _engine_failed(self, key: SeriesKey, series: _Series, stamps: list[int], exc: Exception) -> None:
        """Record an engine's failure on a series' points; the series goes on with a fresh stream.

        The stream may have taken part of the chunk before raising, so its state is not trusted: it
        is replaced, as after a gap. The chunk's points are counted in ``engine_errors``.
        """
        failure = EngineFailure(
            key, epoch_us_to_datetime(stamps[0]), epoch_us_to_datetime(stamps[-1]), len(stamps),
            f"{type(exc).__name__}: {exc}",
        )
        logger.warning(
            "%s %r: engine %s failed on %d points of %s from %s to %s (%s); the series' stream restarts",
            _OWNER,
            self.name,
            self.engine.name,
            failure.points,
            "/".join(key),
            failure.first.isoformat(),
            failure.last.isoformat(),
            failure.error,
        )
        self.engine_failures.append(failure)
        self._counts["engine_errors"] += len(stamps)
        series.stream = self.engine.stream(*key)

    def _split(self, key: SeriesKey, series: _Series, before: int, after: int) -> None:
        split = GapSplit(
            key, epoch_us_to_datetime(before), epoch_us_to_datetime(after), series.stream.pending_points
        )
        logger.info("%s %r: %s gap in %s; stream restarted", _OWNER, self.name, after - before, "/".join(key))
        self.gaps.append(split)
        self._counts["gap_splits"] += 1
        series.stream = self.engine.stream(*key)

    # -- state --------------------------------------------------------------------------------

    @property
    def stats(self) -> LiveStats:
        """The counters now."""
        c = self._counts
        rejected = {reason: c[f"rejected:{reason}"] for reason in REJECT_REASONS}
        return LiveStats(
            series=len(self._series),
            received=c["received"],
            accepted=c["accepted"],
            held=sum(len(s.held) for s in self._series.values()),
            rejected=rejected,
            gap_splits=c["gap_splits"],
            results=c["results"],
            checkpoints=c["checkpoints"],
            engine_errors=c["engine_errors"],
        )

    def __repr__(self) -> str:
        return (
            f"LiveDetector({self.engine!r}, name={self.name!r}, lateness={self.lateness!r}, "
            f"max_gap={self.max_gap!r}, series={len(self._series)})"
        )
