"""The data contracts: ``MetricSeries``, ``AnomalyResult``, ``AggregatedAnomalyScore``.

All three are frozen, slotted dataclasses validated at construction; they
round-trip through ``to_dict()`` / ``from_dict()`` with JSON-safe values
(datetimes as ISO 8601 strings with offset).

``MetricSeries`` stores its points compactly: timestamps as signed 64-bit
integer microseconds since 1970-01-01T00:00:00Z (``array('q')``) and values as
doubles (``array('d')``), 16 bytes a point. Reading ``series.timestamps[i]``
gives a timezone-aware ``datetime`` in UTC and ``series.values[i]`` a ``float``;
both sequences are read-only. Engines that want raw speed read
``series.epoch_us`` (a read-only ``memoryview`` of ints) and
``series.values.tolist()``.

>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
>>> s = MetricSeries("acme", "c-1", "n-1", "cpu", [t0, t0 + timedelta(minutes=1)], [1.0, 2])
>>> s.values[1], s.timestamps[1].isoformat()
(2.0, '2024-05-01T10:01:00+00:00')
>>> MetricSeries.from_dict(s.to_dict()) == s
True
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from math import copysign
from types import MappingProxyType
from typing import Any, ClassVar

from ._iso import parse_iso
from ._kinds import AggregationStrategy, AnomalyType
from ._sequences import (
    _MAX_US,
    _MIN_US,
    MetadataValue,
    TimestampSequence,
    ValueSequence,
    _check_ascending,
    _check_finite,
    _check_in_range,
    _check_metadata,
    _is_bool_type,
    _refuse_bools,
    _timestamps_to_us,
    _values_to_array,
    check_utc_datetime,
    datetime_to_epoch_us,
    epoch_us_to_datetime,
)
from ._validate import (
    brief,
    check_enum,
    check_id,
    check_optional_id,
    check_ordered,
    check_text,
    check_unit_interval,
    fail_type,
    fail_value,
)

__all__ = [
    "AggregatedAnomalyScore",
    "AnomalyResult",
    "MetricSeries",
    "TimestampSequence",
    "ValueSequence",
    "datetime_to_epoch_us",
    "epoch_us_to_datetime",
]


def _parse_iso(owner: str, field_name: str, value: object) -> datetime:
    if not isinstance(value, str):
        fail_type(owner, field_name, "an ISO 8601 str with a UTC offset", value)
    try:
        parsed = parse_iso(value)
    except ValueError:
        fail_value(owner, field_name, "an ISO 8601 str with a UTC offset", value)
    if parsed.utcoffset() is None:
        fail_value(owner, field_name, "an ISO 8601 str with a UTC offset", value)
    return parsed


def _check_keys(owner: str, data: object, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        fail_type(owner, "data", "a mapping", data)
    keys = set(data)
    missing = sorted(required - keys)
    if missing:
        raise ValueError(f"{owner}.from_dict: missing key(s) {', '.join(map(repr, missing))}")
    unknown = sorted(map(brief, keys - required - optional))
    if unknown:
        expected = ", ".join(sorted(required | optional))
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ValueError(f"{owner}.from_dict: unknown key(s) {shown}; expected only {expected}")
    return data


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One metric of one node of one cluster of one tenant, as ordered points.

    ``timestamps`` are timezone-aware datetimes, strictly ascending (compared as
    instants, so equal instants with different offsets are duplicates); they
    are normalised to UTC and must lie within years 1..9999 in UTC. ``values``
    are finite real numbers, same length. Both are ordered sequences or
    iterables (a ``set`` or a ``dict`` is a ``TypeError``). The series copies
    its input. ``len(series)`` is the number of points.

    Raises ``TypeError`` for a wrong type (for example a timestamp given as a
    string or a number) and ``ValueError`` for a bad value; the message names
    the field and, for sequences, the first offending index.
    """

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str
    timestamps: TimestampSequence
    values: ValueSequence
    metadata: Mapping[str, MetadataValue] | None = field(default=None, compare=True)

    _OWNER: ClassVar[str] = "MetricSeries"

    def __init__(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        timestamps: Iterable[datetime],
        values: Iterable[float],
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> None:
        owner = self._OWNER
        us = _timestamps_to_us(owner, timestamps)
        vals = _values_to_array(owner, values)
        self._init_validated(tenant_id, cluster_id, node_id, metric_name, us, vals, metadata)

    def _init_validated(
        self,
        tenant_id: object,
        cluster_id: object,
        node_id: object,
        metric_name: object,
        us: array[int],
        vals: array[float],
        metadata: object,
    ) -> None:
        owner = self._OWNER
        setter = object.__setattr__
        setter(self, "tenant_id", check_id(owner, "tenant_id", tenant_id))
        setter(self, "cluster_id", check_id(owner, "cluster_id", cluster_id))
        setter(self, "node_id", check_id(owner, "node_id", node_id))
        setter(self, "metric_name", check_id(owner, "metric_name", metric_name))
        if len(us) != len(vals):
            raise ValueError(
                f"{owner}: timestamps and values must have the same length, "
                f"got {len(us)} timestamps and {len(vals)} values"
            )
        _check_ascending(owner, us)
        _check_finite(owner, vals)
        setter(self, "timestamps", TimestampSequence(us))
        setter(self, "values", ValueSequence(vals))
        setter(self, "metadata", _check_metadata(owner, metadata))

    @classmethod
    def from_arrays(
        cls,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        epoch_us: Iterable[int],
        values: Iterable[float],
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> MetricSeries:
        """Build a series from epoch microseconds and values without creating datetimes.

        The fast path for producers that already hold numbers: ``epoch_us`` are
        ints (microseconds since 1970-01-01T00:00:00Z; an ``array('q')`` is
        copied with one ``memcpy``), ``values`` are real numbers (an
        ``array('d')`` likewise). Validation is the same as the constructor's.
        """
        owner = cls._OWNER
        if isinstance(epoch_us, array) and epoch_us.typecode == "q":
            us = epoch_us[:]
        elif isinstance(epoch_us, (str, bytes)) or not isinstance(epoch_us, Iterable):
            fail_type(owner, "epoch_us", "a sequence of ints", epoch_us)
        else:
            check_ordered(owner, "epoch_us", epoch_us, "a sequence of ints")
            items = epoch_us if isinstance(epoch_us, (list, tuple)) else list(epoch_us)
            try:
                us = array("q", items)
            except (TypeError, OverflowError, DeprecationWarning):
                # (DeprecationWarning: numpy 2.2's bool scalar warns that it will stop being an index, an
                # exception under -W error; the loop names it as newer numpy's TypeError would have.)
                for i, item in enumerate(items):
                    if _is_bool_type(type(item)) or not hasattr(item, "__index__"):
                        kind = type(item).__name__
                        raise TypeError(
                            f"{owner}.epoch_us[{i}]: expected an int, got {brief(item)} ({kind})"
                        ) from None
                    if not _MIN_US <= item <= _MAX_US:
                        raise ValueError(
                            f"{owner}.epoch_us[{i}]: expected an instant within years 1..9999 in UTC, "
                            f"got {brief(item)} microseconds since the epoch"
                        ) from None
                raise  # pragma: no cover - array() failed on valid items
            _refuse_bools(owner, "epoch_us", items, us)
        _check_in_range(owner, "epoch_us", us)
        self = cls.__new__(cls)
        self._init_validated(
            tenant_id, cluster_id, node_id, metric_name, us, _values_to_array(owner, values), metadata
        )
        return self

    @classmethod
    def _trusted(
        cls,
        ids: tuple[str, str, str, str],
        us: array[int],
        vals: array[float],
        metadata: Mapping[str, MetadataValue],
    ) -> MetricSeries:
        """Build from already-validated parts, without copying or checking (internal)."""
        self = cls.__new__(cls)
        setter = object.__setattr__
        setter(self, "tenant_id", ids[0])
        setter(self, "cluster_id", ids[1])
        setter(self, "node_id", ids[2])
        setter(self, "metric_name", ids[3])
        setter(self, "timestamps", TimestampSequence(us))
        setter(self, "values", ValueSequence(vals))
        setter(self, "metadata", metadata)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        meta = dict(self.metadata or {})
        return (_unpickle_series, (self.ids, self.timestamps._data, self.values._data, meta))

    @property
    def ids(self) -> tuple[str, str, str, str]:
        """``(tenant_id, cluster_id, node_id, metric_name)``."""
        return (self.tenant_id, self.cluster_id, self.node_id, self.metric_name)

    @property
    def epoch_us(self) -> memoryview:
        """Timestamps as microseconds since the Unix epoch: a read-only ``memoryview`` of ints."""
        return self.timestamps.epoch_us

    def __len__(self) -> int:
        return len(self.values)

    def __hash__(self) -> int:
        return hash((self.ids, self.timestamps, self.values))

    def slice(self, start_index: int, end_index: int) -> MetricSeries:
        """The points ``[start_index, end_index)`` as a new series (same ids and metadata).

        Indices follow Python slicing, clamped to the series, so
        ``series.slice(0, window.end_index)`` is the series cut after a window.
        """
        us = self.timestamps._data[start_index:end_index]
        vals = self.values._data[start_index:end_index]
        meta = self.metadata if self.metadata is not None else MappingProxyType({})
        return MetricSeries._trusted(self.ids, us, vals, meta)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: timestamps as ISO 8601 strings with offset, values as floats."""
        return {
            "tenant_id": self.tenant_id,
            "cluster_id": self.cluster_id,
            "node_id": self.node_id,
            "metric_name": self.metric_name,
            "timestamps": [t.isoformat() for t in self.timestamps],
            "values": self.values.tolist(),
            "metadata": dict(self.metadata or {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricSeries:
        """Inverse of :meth:`to_dict`; unknown keys are rejected, not ignored."""
        owner = cls._OWNER
        data = _check_keys(
            owner,
            data,
            {"tenant_id", "cluster_id", "node_id", "metric_name", "timestamps", "values"},
            {"metadata"},
        )
        raw_ts = data["timestamps"]
        if isinstance(raw_ts, (str, bytes)) or not isinstance(raw_ts, Sequence):
            fail_type(owner, "timestamps", "a list of ISO 8601 strings", raw_ts)
        stamps = [_parse_iso(owner, f"timestamps[{i}]", t) for i, t in enumerate(raw_ts)]
        return cls(
            data["tenant_id"],
            data["cluster_id"],
            data["node_id"],
            data["metric_name"],
            stamps,
            data["values"],
            data.get("metadata"),
        )


def _unpickle_series(
    ids: tuple[str, str, str, str], us: array[int], vals: array[float], meta: dict[str, MetadataValue]
) -> MetricSeries:
    return MetricSeries.from_arrays(*ids, us, vals, meta)


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    """An engine's verdict on one window of one series.

    ``anomaly_score`` in [0, 1], higher is more anomalous; ``magnitude`` (how far
    the window moved, normalised to [0, 1]) is optional. ``anomaly_label`` is an
    :class:`AnomalyType` (its ``str`` value is accepted and converted) and is
    ``NORMAL`` exactly when the engine judged the window not anomalous, which
    is exactly when ``anomaly_score < 0.5`` (the alarm line shared by every
    engine): a label that contradicts the score is a ``ValueError``.
    ``window_start <= window_end``, both timezone-aware and, converted to UTC,
    within years 1..9999.
    """

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str
    window_start: datetime
    window_end: datetime
    anomaly_score: float
    anomaly_label: AnomalyType
    magnitude: float | None = None
    explanation: str | None = None

    def __init__(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        window_start: datetime,
        window_end: datetime,
        anomaly_score: float,
        anomaly_label: AnomalyType | str,
        magnitude: float | None = None,
        explanation: str | None = None,
    ) -> None:
        # Written out (rather than generated) so that type checkers accept the label's str value.
        setter = object.__setattr__
        setter(self, "tenant_id", tenant_id)
        setter(self, "cluster_id", cluster_id)
        setter(self, "node_id", node_id)
        setter(self, "metric_name", metric_name)
        setter(self, "window_start", window_start)
        setter(self, "window_end", window_end)
        setter(self, "anomaly_score", anomaly_score)
        setter(self, "anomaly_label", anomaly_label)
        setter(self, "magnitude", magnitude)
        setter(self, "explanation", explanation)
        self.__post_init__()

    def __post_init__(self) -> None:
        # Fast path for the common, already-typed case (about 1 µs); anything
        # unusual goes through the full checks below, which explain what is wrong.
        ws, we, score, mag = self.window_start, self.window_end, self.anomaly_score, self.magnitude
        if (
            type(self.tenant_id) is str
            and type(self.cluster_id) is str
            and type(self.node_id) is str
            and type(self.metric_name) is str
            and self.tenant_id
            and self.cluster_id
            and self.node_id
            and self.metric_name
            and (self.tenant_id + self.cluster_id + self.node_id + self.metric_name).isascii()
            and type(ws) is datetime
            and type(we) is datetime
            and ws.tzinfo is timezone.utc
            and we.tzinfo is timezone.utc
            and ws <= we
            and type(score) is float
            and 0.0 <= score <= 1.0
            and (score or copysign(1.0, score) > 0.0)  # (-0.0 goes the long way, which makes it 0.0)
            and type(self.anomaly_label) is AnomalyType
            and (score < 0.5) is (self.anomaly_label is AnomalyType.NORMAL)
            and (mag is None or (type(mag) is float and 0.0 <= mag <= 1.0 and (mag or copysign(1, mag) > 0)))
            and (self.explanation is None or (type(self.explanation) is str and self.explanation.isascii()))
        ):
            return
        self._validate()

    def _validate(self) -> None:
        owner = "AnomalyResult"
        check_id(owner, "tenant_id", self.tenant_id)
        check_id(owner, "cluster_id", self.cluster_id)
        check_id(owner, "node_id", self.node_id)
        check_id(owner, "metric_name", self.metric_name)
        # Kept in UTC: two times of one zone compare by wall clock (01:50 EDT after 01:10 EST, an
        # hour earlier) and a time in a DST fold does not equal itself read back from ISO text.
        setter = object.__setattr__
        setter(self, "window_start", check_utc_datetime(owner, "window_start", self.window_start))
        setter(self, "window_end", check_utc_datetime(owner, "window_end", self.window_end))
        if self.window_start > self.window_end:
            raise ValueError(
                f"{owner}: window_start must be <= window_end, got {self.window_start} > {self.window_end}"
            )
        setter(self, "anomaly_score", check_unit_interval(owner, "anomaly_score", self.anomaly_score))
        setter(self, "anomaly_label", check_enum(owner, "anomaly_label", AnomalyType, self.anomaly_label))
        if (self.anomaly_score < 0.5) is not (self.anomaly_label is AnomalyType.NORMAL):
            raise ValueError(
                f"{owner}: anomaly_label must be 'normal' exactly when anomaly_score < 0.5 (the alarm line), "
                f"got anomaly_label {self.anomaly_label.value!r} with anomaly_score {self.anomaly_score!r}"
            )
        if self.magnitude is not None:
            setter(self, "magnitude", check_unit_interval(owner, "magnitude", self.magnitude))
        if self.explanation is not None:
            if not isinstance(self.explanation, str):
                fail_type(owner, "explanation", "a str or None", self.explanation)
            check_text(owner, "explanation", self.explanation)

    @classmethod
    def _trusted(
        cls,
        ids: tuple[str, str, str, str],
        window_start: datetime,
        window_end: datetime,
        anomaly_score: float,
        anomaly_label: AnomalyType,
        magnitude: float | None,
        explanation: str | None,
    ) -> AnomalyResult:
        """Build from values an engine has already guaranteed valid, skipping the checks (internal)."""
        self = cls.__new__(cls)
        # The slots' own setters: the same effect as object.__setattr__, without its name lookup
        # (this runs once per window of every series: 0.6 µs instead of 1 µs a result).
        tenant, cluster, node, metric, start, end, score, label, mag, text = _RESULT_SETTERS
        tenant(self, ids[0])
        cluster(self, ids[1])
        node(self, ids[2])
        metric(self, ids[3])
        start(self, window_start)
        end(self, window_end)
        score(self, anomaly_score)
        label(self, anomaly_label)
        mag(self, magnitude)
        text(self, explanation)
        return self

    @property
    def is_anomalous(self) -> bool:
        """True when the engine judged the window anomalous (label is not NORMAL)."""
        return self.anomaly_label is not AnomalyType.NORMAL

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (datetimes as ISO 8601 with offset, label as its str value)."""
        return {
            "tenant_id": self.tenant_id,
            "cluster_id": self.cluster_id,
            "node_id": self.node_id,
            "metric_name": self.metric_name,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "anomaly_score": self.anomaly_score,
            "anomaly_label": self.anomaly_label.value,
            "magnitude": self.magnitude,
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnomalyResult:
        """Inverse of :meth:`to_dict`; unknown keys are rejected, not ignored."""
        owner = "AnomalyResult"
        data = _check_keys(
            owner,
            data,
            {
                "tenant_id",
                "cluster_id",
                "node_id",
                "metric_name",
                "window_start",
                "window_end",
                "anomaly_score",
                "anomaly_label",
            },
            {"magnitude", "explanation"},
        )
        return cls(
            data["tenant_id"],
            data["cluster_id"],
            data["node_id"],
            data["metric_name"],
            _parse_iso(owner, "window_start", data["window_start"]),
            _parse_iso(owner, "window_end", data["window_end"]),
            data["anomaly_score"],
            data["anomaly_label"],
            data.get("magnitude"),
            data.get("explanation"),
        )


# AnomalyResult's slot setters in field order (for AnomalyResult._trusted; checked in the unit tests).
_RESULT_SETTERS: tuple[Callable[[AnomalyResult, Any], None], ...] = tuple(
    getattr(AnomalyResult, f.name).__set__ for f in fields(AnomalyResult)
)

# Counts are stored in 64-bit signed integer columns (SQLite's INTEGER).
_COUNT_LIMIT = 2**63


@dataclass(frozen=True, slots=True)
class AggregatedAnomalyScore:
    """A combined score for a node, a cluster (``node_id is None``) or a tenant (both ``None``).

    ``aggregate_score`` in [0, 1]. ``num_metrics_analyzed``: distinct metric
    series that contributed. ``num_anomalies_detected``: contributing results
    whose label is not NORMAL. Both counts are ``int``s in ``[0, 2**63)``.
    """

    tenant_id: str
    cluster_id: str | None
    node_id: str | None
    aggregation_strategy: AggregationStrategy
    aggregate_score: float
    num_metrics_analyzed: int
    num_anomalies_detected: int

    def __init__(
        self,
        tenant_id: str,
        cluster_id: str | None,
        node_id: str | None,
        aggregation_strategy: AggregationStrategy | str,
        aggregate_score: float,
        num_metrics_analyzed: int,
        num_anomalies_detected: int,
    ) -> None:
        # Written out (rather than generated) so that type checkers accept the strategy's str value.
        setter = object.__setattr__
        setter(self, "tenant_id", tenant_id)
        setter(self, "cluster_id", cluster_id)
        setter(self, "node_id", node_id)
        setter(self, "aggregation_strategy", aggregation_strategy)
        setter(self, "aggregate_score", aggregate_score)
        setter(self, "num_metrics_analyzed", num_metrics_analyzed)
        setter(self, "num_anomalies_detected", num_anomalies_detected)
        self.__post_init__()

    def __post_init__(self) -> None:
        owner = "AggregatedAnomalyScore"
        check_id(owner, "tenant_id", self.tenant_id)
        check_optional_id(owner, "cluster_id", self.cluster_id)
        check_optional_id(owner, "node_id", self.node_id)
        if self.node_id is not None and self.cluster_id is None:
            raise ValueError(
                f"{owner}: node_id {self.node_id!r} given without a cluster_id; "
                "a node score needs its cluster"
            )
        setter = object.__setattr__
        strategy = check_enum(owner, "aggregation_strategy", AggregationStrategy, self.aggregation_strategy)
        setter(self, "aggregation_strategy", strategy)
        setter(self, "aggregate_score", check_unit_interval(owner, "aggregate_score", self.aggregate_score))
        for name in ("num_metrics_analyzed", "num_anomalies_detected"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int):
                fail_type(owner, name, "a non-negative int below 2**63", count)
            if not 0 <= count < _COUNT_LIMIT:
                fail_value(owner, name, "a non-negative int below 2**63", count)

    @property
    def level(self) -> str:
        """``"node"``, ``"cluster"`` or ``"tenant"``."""
        if self.node_id is not None:
            return "node"
        return "cluster" if self.cluster_id is not None else "tenant"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (strategy as its str value)."""
        return {
            "tenant_id": self.tenant_id,
            "cluster_id": self.cluster_id,
            "node_id": self.node_id,
            "aggregation_strategy": self.aggregation_strategy.value,
            "aggregate_score": self.aggregate_score,
            "num_metrics_analyzed": self.num_metrics_analyzed,
            "num_anomalies_detected": self.num_anomalies_detected,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregatedAnomalyScore:
        """Inverse of :meth:`to_dict`; unknown keys are rejected, not ignored."""
        keys = {
            "tenant_id",
            "cluster_id",
            "node_id",
            "aggregation_strategy",
            "aggregate_score",
            "num_metrics_analyzed",
            "num_anomalies_detected",
        }
        data = _check_keys("AggregatedAnomalyScore", data, keys, set())
        return cls(
            data["tenant_id"],
            data["cluster_id"],
            data["node_id"],
            data["aggregation_strategy"],
            data["aggregate_score"],
            data["num_metrics_analyzed"],
            data["num_anomalies_detected"],
        )
