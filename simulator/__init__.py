"""A seeded multi-tenant fleet simulator with labelled anomalies (stdlib only).

It models tenants -> clusters -> nodes -> metrics with daily and weekly
seasonality, noise, drift, counters and gauges, bounded and heavy-tailed
metrics, optional missing points and irregular sampling, and injects labelled
anomalies (spikes, level shifts, ramps, seasonal disruptions, node failures,
cluster-wide incidents and noisy-neighbour tenants). The same seed and
configuration always give byte-identical output.

>>> from simulator import Fleet, FleetConfig
>>> fleet = Fleet(FleetConfig.uniform(tenants=2, clusters=2, nodes_per_cluster=3, seed=1))
>>> sorted({g.kind for g in fleet.ground_truth})  # doctest: +NORMALIZE_WHITESPACE
['amplitude_change', 'cluster_incident', 'level_shift', 'missing_peak', 'node_failure',
 'phase_shift', 'ramp', 'spike']

Daily-cycle fleets with labelled spikes, shifts, ramps and repeated spikes, for
detection benchmarks: :mod:`simulator.cycles` (:func:`generate_cycle_fleet`).

Command line: ``python -m simulator --help``.
"""

from .anomalies import EXPECTED_LABEL, KINDS, GroundTruth, Incident, Placement
from .config import MAX_POINTS, MAX_SERIES, AnomalyMix, FleetConfig, TenantConfig, load_toml
from .cycles import (
    FIVE_MINUTES_7_DAYS,
    ONE_MINUTE_3_DAYS,
    CycleEvent,
    CycleFleet,
    CycleFleetConfig,
    CycleSeries,
    generate_cycle_fleet,
)
from .fleet import Fleet, SeriesKey
from .metrics import CATALOGUE, DEFAULT_METRICS, MetricProfile

__all__ = [
    "CATALOGUE",
    "DEFAULT_METRICS",
    "EXPECTED_LABEL",
    "FIVE_MINUTES_7_DAYS",
    "KINDS",
    "MAX_POINTS",
    "MAX_SERIES",
    "ONE_MINUTE_3_DAYS",
    "AnomalyMix",
    "CycleEvent",
    "CycleFleet",
    "CycleFleetConfig",
    "CycleSeries",
    "Fleet",
    "FleetConfig",
    "GroundTruth",
    "Incident",
    "MetricProfile",
    "Placement",
    "SeriesKey",
    "TenantConfig",
    "generate_cycle_fleet",
    "load_toml",
]
