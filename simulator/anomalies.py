"""Injected anomalies: what they do to a series, and the ground truth they leave.

Kinds (``GroundTruth.kind``) and the :class:`~backend.analytics.AnomalyType`
an explanation should give them (``expected_label``):

================== ========== =====================================================
kind               expected   effect on the metric
================== ========== =====================================================
spike              spike      +6..9 typical sd for 1-3 points
level_shift        trend      +4..7 typical sd for 3-12 h, then back
ramp               trend      linear rise to +8..12 typical sd over 2-8 h, then back
phase_shift        seasonal   daily cycle shifted by 4-8 h for one day
missing_peak       seasonal   one day's peak (10:00-20:00) flattened to the mean
amplitude_change   seasonal   daily swing x0.2..0.4 for one day
node_failure       trend      several metrics of one node together, 1-6 h
cluster_incident   trend      latency/errors/queues of >= 75 % of a cluster's nodes, 0.5-3 h
noisy_neighbour    spike      bursts on a noisy tenant's nodes, 1-3 points
================== ========== =====================================================

Seasonal disruptions go only to metrics whose daily swing stands clear of
their noise (:attr:`~simulator.metrics.MetricProfile.seasonal`: cpu,
latency_p50 and request_rate in the catalogue; in a noisy-neighbour tenant,
whose noise is ``FleetConfig.noisy_factor`` times higher, only request_rate:
:meth:`~simulator.metrics.MetricProfile.seasonal_with`). "typical sd" is the metric's
:attr:`~simulator.metrics.MetricProfile.spread` times the series' level, and in a
noisy-neighbour tenant also times ``noisy_factor`` (``SeriesPlan.scale``): its
anomalies grow with its noise, so they stand as far clear of its noise as a quiet
tenant's do (and, its daily swing being the quiet one's, about ``noisy_factor``
times further clear of the swing).
Node failures and cluster incidents move each metric by its profile's
``failure`` / ``incident`` multiple of the level (request rate drops, errors
and latency rise). Positions are drawn by a tenant-scoped
RNG after the warm-up, and anomalies never overlap (nor come within a guard
gap of) another anomaly on the same series, so each labelled interval is
unambiguous. Times are half-open: ``[start, end)``, ``end`` being the instant of
the first unaffected nominal point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from backend.analytics._iso import parse_iso

__all__ = [
    "EXPECTED_LABEL",
    "KINDS",
    "PLACEMENT_KEY",
    "SEASONAL_KINDS",
    "Effect",
    "GroundTruth",
    "Incident",
    "Placement",
]

EXPECTED_LABEL: dict[str, str] = {
    "spike": "spike",
    "level_shift": "trend",
    "ramp": "trend",
    "phase_shift": "seasonal",
    "missing_peak": "seasonal",
    "amplitude_change": "seasonal",
    "node_failure": "trend",
    "cluster_incident": "trend",
    "noisy_neighbour": "spike",
}
KINDS: tuple[str, ...] = tuple(EXPECTED_LABEL)
SEASONAL_KINDS = frozenset({"phase_shift", "missing_peak", "amplitude_change"})
#: The count each kind is asked for by: an :class:`~simulator.config.AnomalyMix` field, or
#: ``noisy_bursts`` (``FleetConfig.noisy_bursts_per_node_day`` on a noisy tenant's nodes).
PLACEMENT_KEY: dict[str, str] = {
    "spike": "spikes",
    "level_shift": "level_shifts",
    "ramp": "ramps",
    "phase_shift": "seasonal",
    "missing_peak": "seasonal",
    "amplitude_change": "seasonal",
    "node_failure": "node_failures",
    "cluster_incident": "cluster_incidents",
    "noisy_neighbour": "noisy_bursts",
}


@dataclass(frozen=True, slots=True)
class Effect:
    """What one injected anomaly does to one series, in nominal point indices ``[start, end)``.

    ``value``: the added amount in the metric's units (additive kinds), the
    phase shift in points (``phase_shift``) or the swing factor
    (``amplitude_change``); unused by ``missing_peak``.
    """

    kind: str
    start: int
    end: int
    value: float
    incident_id: str

    def delta(self, i: int) -> float:
        """The amount added at nominal point ``i`` (additive kinds only)."""
        if self.kind == "ramp":
            return self.value * (i - self.start + 1) / (self.end - self.start)
        return self.value


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """One injected anomaly on one series: where, what, when (``[start, end)``, UTC).

    ``expected_label`` is the :class:`~backend.analytics.AnomalyType` value an
    explanation should give (see the table above). ``magnitude``: the amount
    added in the metric's units for additive kinds (for a ramp, at its end;
    negative when the metric drops), the shift in hours for ``phase_shift``,
    the swing factor for ``amplitude_change``, and 0 for ``missing_peak``. It
    is the amount asked for, before the metric's bounds clip the values
    (``cpu`` at 0 and 100, a rate or a count at 0): a cpu spike of 127 on a
    node at 40% reads 100 in the data, and a node failure of -484 on a rate
    of 330 reads 0.
    """

    incident_id: str
    tenant_id: str
    cluster_id: str
    node_id: str
    metric_name: str
    kind: str
    start: datetime
    end: datetime
    expected_label: str
    magnitude: float

    @property
    def series_key(self) -> tuple[str, str, str, str]:
        """``(tenant_id, cluster_id, node_id, metric_name)``."""
        return (self.tenant_id, self.cluster_id, self.node_id, self.metric_name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (datetimes as ISO 8601 with offset)."""
        return {
            "incident_id": self.incident_id,
            "tenant_id": self.tenant_id,
            "cluster_id": self.cluster_id,
            "node_id": self.node_id,
            "metric_name": self.metric_name,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "expected_label": self.expected_label,
            "magnitude": self.magnitude,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroundTruth:
        """Inverse of :meth:`to_dict`; every value is checked (``TypeError``/``ValueError`` naming it)."""
        owner = "GroundTruth.from_dict"
        if not isinstance(data, Mapping):
            raise TypeError(f"{owner}: expected a mapping, got {type(data).__name__}")
        keys = set(cls.__dataclass_fields__)
        if set(data) != keys:
            raise ValueError(f"{owner}: expected keys {sorted(keys)}, got {sorted(data)}")
        for name in ("incident_id", "tenant_id", "cluster_id", "node_id", "metric_name", "kind"):
            if not isinstance(data[name], str) or not data[name]:
                raise TypeError(f"{owner}: {name} must be a non-empty str, got {data[name]!r}")
        kind = data["kind"]
        if kind not in EXPECTED_LABEL:
            raise ValueError(f"{owner}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if data["expected_label"] != EXPECTED_LABEL[kind]:
            raise ValueError(
                f"{owner}: expected_label of a {kind} is {EXPECTED_LABEL[kind]!r}, "
                f"got {data['expected_label']!r}"
            )
        when: dict[str, datetime] = {}
        for name in ("start", "end"):
            text = data[name]
            try:
                stamp = parse_iso(text) if isinstance(text, str) else None
            except ValueError:
                stamp = None
            if stamp is None or stamp.utcoffset() is None:
                raise ValueError(f"{owner}: {name} must be an ISO 8601 time with a UTC offset, got {text!r}")
            when[name] = stamp
        if when["end"] <= when["start"]:
            raise ValueError(f"{owner}: end {data['end']!r} must be after start {data['start']!r}")
        magnitude = data["magnitude"]
        finite = isinstance(magnitude, (int, float)) and math.isfinite(magnitude)
        if isinstance(magnitude, bool) or not finite:
            raise TypeError(f"{owner}: magnitude must be a finite number, got {magnitude!r}")
        return cls(**{**data, **when, "magnitude": float(magnitude)})


@dataclass(frozen=True, slots=True)
class Placement:
    """How many anomalies of one kind a tenant asked for and how many were placed.

    ``anomalies`` is the :class:`~simulator.config.AnomalyMix` field (``spikes``,
    ``seasonal``, ...) or ``noisy_bursts``; ``asked`` the count over the whole
    tenant (a per-cluster count times its clusters). An anomaly that finds no free
    stretch after the warm-up (a short or crowded series), or no metric its kind
    needs among ``FleetConfig.metrics``, is left out: ``placed < asked``, and a
    warning says so when the fleet is built.
    """

    tenant_id: str
    anomalies: str
    asked: int
    placed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (its fields, in order: all are str or int)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Incident:
    """One injected event, possibly spanning several nodes and metrics."""

    incident_id: str
    kind: str
    tenant_id: str
    cluster_id: str
    node_ids: tuple[str, ...]
    metrics: tuple[str, ...]
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (datetimes as ISO 8601 with offset)."""
        return {
            "incident_id": self.incident_id,
            "kind": self.kind,
            "tenant_id": self.tenant_id,
            "cluster_id": self.cluster_id,
            "node_ids": list(self.node_ids),
            "metrics": list(self.metrics),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }
