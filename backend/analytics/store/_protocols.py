"""The storage contract: ``MetricStore``, ``ResultSink``, ``SeriesKey``, ``SeriesNotFoundError``.

These are structural protocols (:class:`typing.Protocol`): any object with the
methods below is a store, whatever its base class. The reference
implementation is :class:`backend.analytics.store.sqlite.SQLiteMetricStore`.

Shared rules for every implementation:

* Every read and write is scoped by ``tenant_id``; a tenant can never read
  another tenant's series or results, even with equal cluster, node and
  metric names.
* Datetimes must be timezone-aware (a naive one raises ``ValueError`` naming
  the argument); they read back in UTC. Time ranges are half-open,
  ``[start, end)``.
* A write call is atomic (all of it lands or none of it) and idempotent on
  ``(series, timestamp)``: writing the same point again never duplicates it;
  the last write wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from ..types import AggregatedAnomalyScore, AnomalyResult, MetricSeries

__all__ = ["MetricStore", "ResultSink", "SeriesKey", "SeriesNotFoundError"]

MetadataValue = str | int | float | bool | None


class SeriesKey(NamedTuple):
    """The four ids that name one metric series."""

    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str


class SeriesNotFoundError(KeyError):
    """The tenant has no series with the requested ids.

    ``__str__`` is overridden (as :class:`importlib.metadata.PackageNotFoundError`
    does) so the message is not shown wrapped in quotes.
    """

    def __init__(self, key: SeriesKey) -> None:
        self.key = key
        super().__init__(key)

    def __str__(self) -> str:
        k = self.key
        return (
            f"no series metric_name={k.metric_name!r} node_id={k.node_id!r} "
            f"cluster_id={k.cluster_id!r} for tenant_id={k.tenant_id!r}"
        )


@runtime_checkable
class MetricStore(Protocol):
    """Where services hand us metric points and where engines read series from."""

    def write_points(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        timestamps: Iterable[datetime],
        values: Iterable[float],
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> int:
        """Write points of one series atomically; return the number of points written.

        ``timestamps`` are timezone-aware and strictly ascending; ``values`` are
        finite, same length (validated as :class:`MetricSeries` does, with the
        same messages). Rewriting an existing ``(series, timestamp)`` replaces
        its value.
        """
        ...

    def write_series(self, series: MetricSeries) -> int:
        """Write all points of ``series`` atomically; return the number of points written."""
        ...

    def write_batch(self, batch: Iterable[MetricSeries]) -> int:
        """Write several series in one transaction: every point lands, or none does."""
        ...

    def get_metric_series(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        start: datetime,
        end: datetime,
    ) -> MetricSeries:
        """The points of one series with ``start <= timestamp < end``, ascending.

        ``start``/``end`` must be timezone-aware with ``start <= end``. Raises
        :class:`SeriesNotFoundError` if the tenant has no such series; a known
        series with no point in range gives an empty series.
        """
        ...

    def list_series(
        self, tenant_id: str, cluster_id: str | None = None, node_id: str | None = None
    ) -> list[SeriesKey]:
        """The tenant's series keys, sorted; optionally only one cluster, or one node of it."""
        ...


@runtime_checkable
class ResultSink(Protocol):
    """Where engines and the pipeline put their verdicts, and where services read them.

    Every stored result and aggregate records the name of the engine that
    produced it; two engines' results on the same window coexist.
    """

    def write_results(self, results: Iterable[AnomalyResult], *, engine: str) -> int:
        """Store engine ``engine``'s results atomically, idempotent on (series ids, window, engine)."""
        ...

    def read_results(
        self,
        tenant_id: str,
        *,
        cluster_id: str | None = None,
        node_id: str | None = None,
        metric_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        anomalous_only: bool = False,
        engine: str | None = None,
    ) -> list[AnomalyResult]:
        """The tenant's results with ``start <= window_start < end``, filtered, in a stable order.

        ``engine=None`` means every engine's results.
        """
        ...

    def write_aggregates(
        self, scores: Iterable[AggregatedAnomalyScore], *, computed_at: datetime, engine: str
    ) -> int:
        """Store one snapshot of engine ``engine``'s aggregated scores taken at ``computed_at``."""
        ...

    def read_aggregates(
        self, tenant_id: str, *, computed_at: datetime | None = None, engine: str | None = None
    ) -> list[AggregatedAnomalyScore]:
        """The tenant's snapshot at ``computed_at`` (default: the latest), tenant level first."""
        ...
