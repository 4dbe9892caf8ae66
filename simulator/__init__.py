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

Command line: ``python -m simulator --help``.
"""

from .anomalies import EXPECTED_LABEL, KINDS, GroundTruth, Incident
from .config import AnomalyMix, FleetConfig, TenantConfig, load_toml
from .fleet import Fleet, SeriesKey
from .metrics import CATALOGUE, DEFAULT_METRICS, MetricProfile

__all__ = [
    "CATALOGUE",
    "DEFAULT_METRICS",
    "EXPECTED_LABEL",
    "KINDS",
    "AnomalyMix",
    "Fleet",
    "FleetConfig",
    "GroundTruth",
    "Incident",
    "MetricProfile",
    "SeriesKey",
    "TenantConfig",
    "load_toml",
]
